"""A local API Gateway for the synthesized API: every request of `make local`, `make e2e`, the fuzzing and the smoke
test's first target goes through it, so what the templates define is what the local platform enforces.

    python -m tools.local.local_edge --assembly cdk.out --stack-prefix Dev --port 8080 \\
        --upstream products=http://127.0.0.1:8081 ... --issuer <pool issuer> --jwks-url <pool JWKS URL>
    (API key value in LOCAL_EDGE_API_KEY)

It reads the Edge stack's template (definition.py): the RestApi's resource tree and methods, each method's
authorization (Cognito authorizer, scopes), API key requirement, request validator, required parameters and models,
the stage's and the usage plan's throttles and quota, the gateway responses, and each integration (HTTP_PROXY URI
and request parameters, timeout; CDK's CORS MOCK). An integration URI ``http://<NLB DNS>:<port><path>`` is mapped to
a service by following the templates: listener port -> target group -> the Services stack's TargetGroupBinding ->
service; the caller supplies each service's base URL (``upstreams``), the user pool (issuer, JWKS URL) and the API
key's value. A template feature it does not emulate stops it at load, naming the resource.

Per request, in this order: stage prefix; resource and method (else 403 MISSING_AUTHENTICATION_TOKEN); Cognito
authorizer (else 401 UNAUTHORIZED); API key (else 403 INVALID_API_KEY); throttling (usage plan per key, stage per
method, account; else 429 THROTTLED) and quota (else 429 QUOTA_EXCEEDED); required parameters and body model when
the validator says so (else 400 BAD_REQUEST_PARAMETERS / BAD_REQUEST_BODY); then the integration: the URI's path
with path parameters mapped, query string and body passed, request headers passed with the template's header
mappings applied (X-Correlation-Id = $context.requestId), the integration timeout (29 s) -> 504
INTEGRATION_TIMEOUT. Every gateway response is the template's (status, headers, body template with simple
$context substitution) or API Gateway's default ``{"message": ...}``.

Where this rests on documentation rather than on observation of API Gateway (nothing here was compared with a
deployed stage; each item names its source):

1. Cognito authorizer with scopes takes access tokens and succeeds "if any scope that's specified on the method ...
   matches a scope that's claimed in the incoming token. Otherwise, the call fails with a 401 Unauthorized";
   without scopes it "treats the supplied token as an identity token" (API Gateway developer guide, "Integrate a
   REST API with an Amazon Cognito user pool", apigateway-enable-cognito-user-pool.html). A token of the wrong
   type is therefore 401 too. Checked locally: RS256 signature against the pool's JWKS, issuer, ``exp`` (no
   leeway), ``token_use``, scopes; an ID token's ``aud`` must be present (API Gateway checks it belongs to the
   pool, which the local edge cannot list).
2. The token is read from the Authorization header, raw or as ``Bearer <token>`` ("add them as bearer tokens to an
   Authorization header": Cognito developer guide, "Accessing resources with API Gateway after sign-in",
   user-pool-accessing-resources-api-gateway-and-lambda.html); a missing header is 401. The services take the
   same forms, by the same function (services/common/auth.py, ``bearer_token``).
3. Access tokens from sign-in through the user pool API carry ``scope: aws.cognito.signin.user.admin`` (Cognito
   developer guide, "Understanding the access token", its example token); moto issues the same claim.
4. Unknown resource or method: 403 ``Missing Authentication Token`` ("including the cases when the client attempts
   to invoke an unsupported API method or resource": "Gateway response types", supported-gateway-response-types
   .html). A path outside the stage answers 403 ``{"message":"Forbidden"}`` (not documented; what API Gateway is
   reported to answer). A trailing slash is ignored and ``{param}`` matches one non-empty segment, literal
   segments winning over parameters (not documented).
5. Missing or wrong ``x-api-key``: 403 ``Forbidden`` ("If you forget to set the x-api-key header or set it with an
   incorrect key, you get a 403 Forbidden response": "Test usage plans", api-gateway-usage-plan-test-with-postman
   .html), as INVALID_API_KEY. The authorizer runs before the key check (inferred: a Lambda authorizer can supply
   the key, "Choose an API key source", api-gateway-api-key-source.html).
6. Throttling is a token bucket whose burst is the bucket size, limits applied per key (usage plan), then per method
   (stage default method throttling), then per account (10,000 rps, burst 5,000), 429 ``Too Many Requests``
   ("Throttle API requests for better throughput", api-gateway-request-throttling.html). Quotas count per key per
   UTC day/week/month, 429 ``Limit Exceeded`` (message not documented).
7. Validation: required parameters must be present and non-blank, 400 ``Missing required request parameters:
   [h1]``; a body that fails its model, 400 ``Invalid request body`` ("Test basic request validation",
   api-gateway-request-validation-test.html); models are JSON Schema draft 4 ("Enable request validation",
   api-gateway-method-request-validation.html), checked here with jsonschema's Draft4Validator and Python's ``re``
   (API Gateway's validator uses ECMA 262 regular expressions; the patterns used here mean the same in both). The
   model is chosen by the request's Content-Type (``application/json`` when absent); a body whose type has no
   model is passed on unvalidated (the passthrough note of that page; not observed for HTTP_PROXY). An empty body
   on a method with a model is invalid JSON, hence 400.
8. ``$context.error.validationErrorString`` is "A string containing a detailed validation error message" (mapping
   template reference); its exact text is not documented. Here it lists each failure as ``<JSON pointer>:
   <message>`` inside ``[...]``, so it always names the field; AWS's own text may not name the field for every
   kind of failure, and whether AWS escapes quotes in it inside a JSON template is not documented (here it is
   escaped, so the body stays JSON).
9. Gateway response templates are "a non-VTL mapping template supporting only simple variable substitutions"
   (api-gateway-gatewayResponse-definition.html); a type without its own response falls back to DEFAULT_4XX /
   DEFAULT_5XX ("Gateway response types"). Default status codes are that page's. ``x-amzn-ErrorType`` values and
   the messages of THROTTLED, QUOTA_EXCEEDED, REQUEST_TOO_LARGE, INTEGRATION_TIMEOUT and INTEGRATION_FAILURE are
   what API Gateway is reported to send, not documented.
10. HTTP_PROXY passes the method, query string, body and request headers through, except ``Host`` ("The Host
    header will not be forwarded to HTTP endpoints": "Amazon API Gateway important notes"), and applies the
    integration's request parameters; it adds X-Forwarded-For/-Proto and, with tracing on, X-Amzn-Trace-Id. The
    header remapping to ``x-amzn-Remapped-*`` that page lists for some headers is not emulated. Path parameters are
    inserted as received (percent-encoded). The backend's status, headers and body come back unchanged.
11. The integration timeout (TimeoutInMillis, 29 s) ends the call with 504 INTEGRATION_TIMEOUT; a connection that
    cannot be made is 504 INTEGRATION_FAILURE (both "Gateway response types"; which one an unreachable VPC Link
    target produces is not documented). Payloads over 10 MB are 413 REQUEST_TOO_LARGE ("API Gateway quotas").
12. ``/ping`` and ``/sping`` answer 200: "Paths of /ping and /sping are reserved for the service health check"
    ("Amazon API Gateway important notes").
13. The request's head is checked before it is routed, by the services' own HTTP protocol
    (services/common/http_protocol.py, ``edge_protocol`` in server.py) with services/contract/limits.py: the URL is
    at most 10,240 characters ("Length, in characters, of the URL for a regional API: 10240"), the header values at
    most 10,240 bytes together ("Total combined size of all header values: 10240 Bytes"), the payload at most 10 MB
    ("Payload size: 10 MB"; all three from "Quotas for configuring and running a REST API in API Gateway",
    api-gateway-execution-service-limits-table.html). Which response API Gateway gives past the first two is not
    documented: here DEFAULT_4XX with status 414 and 431 (414 is what the quotas page says a client gets when a
    method's ARN outgrows its limit), and REQUEST_TOO_LARGE (413) for the payload. Header values are UTF-8 text,
    as at the services; one that is not, or carries a control character, or a single-value header sent twice, is a
    DEFAULT_4XX 400 naming the header (API Gateway's handling of such bytes is not documented).
14. A JSON body with a model is measured (nesting, number of values: services/contract/limits.py) before it is
    parsed and then validated reporting at most 10 failures, each naming the field and the keyword that failed and
    quoting at most an excerpt of the value; a body over 64 KB is validated in a worker thread. API Gateway documents
    no nesting or value limit for its validator: these are the platform's own, the same the services enforce.
"""

from tools.local.local_edge.authorizer import CognitoPool
from tools.local.local_edge.definition import DefinitionError, EdgeDefinition
from tools.local.local_edge.server import LocalEdge, serve

__all__ = ["CognitoPool", "DefinitionError", "EdgeDefinition", "LocalEdge", "serve"]
