"""Edge authorization: every method accepts the callers the contract names, with what they send.

Three parts: the Cognito authorizer accepts the clients' tokens (below); a route a third party calls back
(``Access.SIGNED``: the payment provider's webhook, authenticated by its HMAC signature) requires no API key, which
the provider does not send and which would put its calls in the storefront's usage plan (its quota and throttle), and
refuses no field the sender adds (``additionalProperties: false`` in its request model answers 400 to a provider that
adds one, and the payment is never recorded); a user pool enforcing threat protection (``AdvancedSecurityMode:
ENFORCED``) signs users in through app clients that pass the user's context
(``EnablePropagateAdditionalUserContextData``) -- else every sign-in the services make server-side scores as one user
at the NAT gateways' few addresses, and a risk it blocks or challenges reaches the user as a failed login.

API Gateway's COGNITO_USER_POOLS authorizer validates an ID token when the method has no ``AuthorizationScopes``
and an access token when it has some; then "the method invocation is authorized if any method scope matches a
claimed scope in the access token" (API Gateway developer guide, "Integrate a REST API with an Amazon Cognito user
pool"; CloudFormation ``AWS::ApiGateway::Method.AuthorizationScopes``).

The clients send access tokens: ``POST /users/login`` (services/users) returns Cognito's tokens and
``tools/local/workflows.py`` puts ``access_token`` in the Authorization header (a test keeps that true). Those tokens
come from ``InitiateAuth`` on the app client the services verify tokens for (their ``COGNITO_CLIENT_ID``), and such
tokens carry only the ``aws.cognito.signin.user.admin`` scope: custom scopes need the OAuth endpoints or a pre token
generation trigger (Amazon Cognito developer guide, "Understanding the access token"; AWS Knowledge Center, "How can
I get custom scopes in the access token when I make an InitiateAuth or AdminInitiateAuth API call?").
"""

from __future__ import annotations

from contract import CONTRACT, Access, Contract

from config.environment import EnvironmentConfig
from tools.assembly import Assembly, Resource
from tools.reports.preflight.model import CheckResult, Finding

NAME = "edge-auth"
CLIENT_TOKEN_USE = "access"  # noqa: S105 - a token type (what tools/local/workflows.py sends), not a secret
LOGIN_CLIENT_ENV = "COGNITO_CLIENT_ID"  # the app client the services sign users in with and verify tokens for
SIGN_IN_SCOPE = "aws.cognito.signin.user.admin"
SIGN_IN_FLOWS = frozenset({"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH",
                           "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_AUTH", "USER_PASSWORD_AUTH",
                           "ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH_FLOW_ONLY"})


def method_label(assembly: Assembly, method: Resource) -> str:
    """`GET /orders/{orderId}`: the HTTP method and the path its `AWS::ApiGateway::Resource` chain spells."""
    parts: list[str] = []
    target = assembly.target(method.stack, method.properties.get("ResourceId"))
    while target is not None:
        r = assembly.resource(target.stack, target.logical_id)
        if r is None or r.type != "AWS::ApiGateway::Resource":
            break  # the API's root resource
        parts.insert(0, str(r.properties.get("PathPart", "?")))
        target = assembly.target(r.stack, r.properties.get("ParentId"))
    return f"{method.properties.get('HttpMethod', '?')} /" + "/".join(parts)


def login_clients(assembly: Assembly) -> list[Resource]:
    """The user pool clients named by the services' ``COGNITO_CLIENT_ID``."""
    found: dict[tuple[str, str], Resource] = {}
    for o in assembly.objects("Deployment", "StatefulSet", "DaemonSet"):
        for c in o.manifest.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []) or []:
            for env in c.get("env") or []:
                if env.get("name") != LOGIN_CLIENT_ENV:
                    continue
                t = assembly.target(o.resource.stack, env.get("value"))
                r = assembly.resource(t.stack, t.logical_id) if t else None
                if r is not None and r.type == "AWS::Cognito::UserPoolClient":
                    found[(r.stack, r.logical_id)] = r
    return list(found.values())


def _pool_adds_scopes(assembly: Assembly, client: Resource) -> bool:
    """A pre token generation trigger of version 2 or 3 may add scopes to access tokens at sign-in."""
    t = assembly.target(client.stack, client.properties.get("UserPoolId"))
    pool = assembly.resource(t.stack, t.logical_id) if t else None
    config = ((pool.properties.get("LambdaConfig") or {}).get("PreTokenGenerationConfig") or {}) if pool else {}
    return str(config.get("LambdaVersion", "V1_0")) in ("V2_0", "V3_0")


def _request_schema(assembly: Assembly, method: Resource) -> dict[str, object] | None:
    models = method.properties.get("RequestModels") or {}
    t = assembly.target(method.stack, models.get("application/json"))
    model = assembly.resource(t.stack, t.logical_id) if t else None
    schema = model.properties.get("Schema") if model is not None else None
    return schema if isinstance(schema, dict) else None


def signed_routes(assembly: Assembly, contract: Contract = CONTRACT) -> list[Finding]:
    """Routes a third party calls back must not need the storefront's key nor refuse the sender's new fields."""
    signed = {f"{r.method} {r.path}" for r in contract.routes if r.access is Access.SIGNED}
    findings: list[Finding] = []
    for m in assembly.resources("AWS::ApiGateway::Method"):
        label = method_label(assembly, m)
        if label not in signed:
            continue
        if m.properties.get("ApiKeyRequired") in (True, "true"):
            findings.append(Finding(f"{m.name} [{label}]", "requires an API key, but the third party calling it back "
                                                          "sends none (its HMAC signature authenticates it), and a key "
                                                          "would share the storefront's usage plan: 403, or 429 when "
                                                          "the storefront's traffic spends the quota"))
        schema = _request_schema(assembly, m)
        if schema is not None and schema.get("additionalProperties") is False:
            findings.append(Finding(f"{m.name} [{label}]", "its request model refuses unknown fields "
                                                          "(additionalProperties: false): a field the sender adds is "
                                                          "answered 400 and the callback is lost"))
    return findings


def threat_protection(assembly: Assembly, clients: list[Resource]) -> list[Finding]:
    findings: list[Finding] = []
    for pool in assembly.resources("AWS::Cognito::UserPool"):
        mode = ((pool.properties.get("UserPoolAddOns") or {}).get("AdvancedSecurityMode"))
        if mode != "ENFORCED":
            continue
        for c in clients:
            t = assembly.target(c.stack, c.properties.get("UserPoolId"))
            if t is None or (t.stack, t.logical_id) != (pool.stack, pool.logical_id):
                continue
            if c.properties.get("EnablePropagateAdditionalUserContextData") not in (True, "true"):
                findings.append(Finding(pool.name, f"threat protection is ENFORCED, but the services sign users in "
                                                   f"server-side through {c.logical_id}, which passes no user context "
                                                   "(EnablePropagateAdditionalUserContextData): risk scoring sees "
                                                   "every sign-in come from the NAT gateways' addresses, and a "
                                                   "blocked or challenged sign-in answers the user 401; use AUDIT "
                                                   "until the client propagates the user's context"))
    return findings


def check(assembly: Assembly, config: EnvironmentConfig, token_use: str = CLIENT_TOKEN_USE) -> CheckResult:
    findings: list[Finding] = []
    clients = login_clients(assembly)
    carried: set[str] = set()
    dynamic = False
    for c in clients:
        flows = {str(f) for f in c.properties.get("ExplicitAuthFlows") or []}
        if flows & SIGN_IN_FLOWS:
            carried.add(SIGN_IN_SCOPE)
        dynamic = dynamic or _pool_adds_scopes(assembly, c)
    methods = [m for m in assembly.resources("AWS::ApiGateway::Method")
               if m.properties.get("AuthorizationType") == "COGNITO_USER_POOLS"]
    if methods and not clients:
        findings.append(Finding("assembly", f"no service names its Cognito app client ({LOGIN_CLIENT_ENV}): which "
                                            "tokens the clients hold cannot be told"))
    for m in methods:
        scopes = [assembly.literal(m.stack, s) for s in m.properties.get("AuthorizationScopes") or []]
        label = f"{m.name} [{method_label(assembly, m)}]"
        if token_use == "id":  # noqa: S105 - a token type, not a secret
            if scopes:
                findings.append(Finding(label, "has AuthorizationScopes, so API Gateway demands an access token, "
                                               "but the clients send ID tokens"))
            continue
        if not scopes:
            findings.append(Finding(label, "COGNITO_USER_POOLS method without AuthorizationScopes: API Gateway "
                                           "validates an ID token there and answers 401 to the access tokens the "
                                           "clients send"))
            continue
        if dynamic or not carried:
            continue
        if not carried.intersection(s for s in scopes if s is not None):
            findings.append(Finding(label, f"AuthorizationScopes {scopes} match none of the scopes in the clients' "
                                           f"access tokens ({', '.join(sorted(carried))}, from InitiateAuth): "
                                           "custom scopes need the OAuth endpoints or a pre token generation "
                                           "trigger"))
    findings += signed_routes(assembly)
    findings += threat_protection(assembly, clients)
    figure = (f"{len(methods)} protected methods, clients send {token_use} tokens"
              + (f" with scope {', '.join(sorted(carried))}" if carried else ""))
    return CheckResult(NAME, config.name, figure, findings)
