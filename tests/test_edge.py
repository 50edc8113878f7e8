from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from cdk_constructs.platform_api import GATEWAY_ERRORS, USER_SIGN_IN_SCOPE
from config.environment import API_CLIENT_TAG, ApiClient
from config.topology import LISTENER_PORTS, ROUTES, Access
from tests.synthesis import Synthesized


def methods(env: Synthesized) -> list[dict[str, Any]]:
    return [m["Properties"] for m in env.resources("Edge", "AWS::ApiGateway::Method").values()
            if m["Properties"]["HttpMethod"] != "OPTIONS"]


def test_stage_throttles_equal_config(env: Synthesized) -> None:
    rate, burst = env.config.api.stage_throttle
    env.template("Edge").has_resource_properties("AWS::ApiGateway::Stage", {
        "TracingEnabled": True,
        "MethodSettings": [Match.object_like({
            "ThrottlingRateLimit": rate,
            "ThrottlingBurstLimit": burst,
            "LoggingLevel": "INFO", "DataTraceEnabled": False})],
        "AccessLogSetting": Match.object_like({"Format": Match.string_like_regexp('"requestId"')}),
    })


def client_of(resource: dict[str, Any]) -> str:
    (client,) = [t["Value"] for t in resource["Properties"].get("Tags", []) if t["Key"] == API_CLIENT_TAG]
    return str(client)


def api_keys(env: Synthesized) -> dict[ApiClient, str]:
    """Client -> the logical id of its API key in the Edge stack."""
    return {ApiClient(client_of(k)): lid for lid, k in env.resources("Edge", "AWS::ApiGateway::ApiKey").items()}


def test_usage_plan_throttles_and_quota_from_config(env: Synthesized) -> None:
    plans = {ApiClient(client_of(p)): p["Properties"]
             for p in env.resources("Edge", "AWS::ApiGateway::UsagePlan").values()}
    assert set(plans) == set(ApiClient)
    for client, limits in env.config.api.usage_plans.items():
        assert plans[client]["Throttle"] == {"RateLimit": limits.throttle_rate_limit,
                                             "BurstLimit": limits.throttle_burst_limit}, client
        assert plans[client]["Quota"] == {"Limit": limits.quota_requests_per_day, "Period": "DAY"}, client
    assert env.config.api.usage_plans[ApiClient.STOREFRONT].throttle_rate_limit == env.config.api.throttle_rate_limit
    # The stage lets every client reach its plan's limit at once: its throttle is the plans' sum.
    (stage,) = env.resources("Edge", "AWS::ApiGateway::Stage").values()
    (settings,) = stage["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == sum(p["Throttle"]["RateLimit"] for p in plans.values())
    assert settings["ThrottlingBurstLimit"] == sum(p["Throttle"]["BurstLimit"] for p in plans.values())


def test_each_api_key_is_in_its_own_usage_plan_alone(env: Synthesized) -> None:
    """One key per client (the storefront, the canaries with the smoke test, the load generator), each the only key
    of its client's plan: a canary or a load test spends its own throttle and quota, never the customers'."""
    keys = api_keys(env)
    assert set(keys) == set(ApiClient) and len(set(keys.values())) == len(ApiClient)
    plans = {lid: ApiClient(client_of(p)) for lid, p in env.resources("Edge", "AWS::ApiGateway::UsagePlan").items()}
    memberships = [(u["Properties"]["KeyId"]["Ref"], u["Properties"]["UsagePlanId"]["Ref"])
                   for u in env.resources("Edge", "AWS::ApiGateway::UsagePlanKey").values()]
    assert sorted(memberships) == sorted((keys[client], plan) for plan, client in plans.items())


def test_usage_plans_and_their_keys_are_created_one_after_another(env: Synthesized) -> None:
    """Fresh review: API Gateway changes a stage's usage plans and keys one at a time, so plans and key bindings
    created side by side can fail with 409 (concurrent modification). Each plan after the first depends on the plan
    before it and on that plan's key binding: one chain over all of them."""
    resources = env.template_json("Edge")["Resources"]
    plans = list(env.resources("Edge", "AWS::ApiGateway::UsagePlan"))
    bindings = {u["Properties"]["UsagePlanId"]["Ref"]: lid
                for lid, u in env.resources("Edge", "AWS::ApiGateway::UsagePlanKey").items()}

    def depends(lid: str) -> set[str]:
        value = resources[lid].get("DependsOn", [])
        return set([value] if isinstance(value, str) else value)

    firsts = [p for p in plans if not ({q for q in plans if q != p} | set(bindings.values())) & depends(p)]
    assert len(firsts) == 1, firsts
    chain = [firsts[0]]
    while len(chain) < len(plans):
        following = [p for p in plans if p not in chain and {chain[-1], bindings[chain[-1]]} <= depends(p)]
        assert len(following) == 1, (chain, following)
        chain.append(following[0])
    for plan in chain[1:]:
        assert bindings[plan] not in depends(plan)


def test_each_client_reads_its_own_key(env: Synthesized) -> None:
    """The storefront's config.js gets the storefront's key; the canary, the smoke test's output and its role's
    apigateway:GET get the synthetics key; no one else's key appears in them."""
    keys = api_keys(env)

    def names(value: Any) -> set[ApiClient]:
        text = json.dumps(value)
        return {client for client, lid in keys.items() if lid in text}

    (web_key_reader,) = [r for lid, r in env.resources("Web", "Custom::AWS").items()
                         if lid.startswith("StorefrontApiKeyValue")]
    assert names(web_key_reader["Properties"]) == {ApiClient.STOREFRONT}
    canaries = env.resources("Observability", "AWS::Synthetics::Canary").values()
    assert canaries and all(
        names(c["Properties"]["RunConfig"]["EnvironmentVariables"]["API_KEY_ID"]) == {ApiClient.SYNTHETICS}
        for c in canaries)
    outputs = env.template_json("Edge")["Outputs"]
    assert names(outputs["ApiKeyId"]["Value"]) == {ApiClient.SYNTHETICS}
    readers = [s for p in env.resources("Edge", "AWS::IAM::ManagedPolicy").values()
               for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "apigateway:GET"]
    assert readers and all(names(s["Resource"]) == {ApiClient.SYNTHETICS} for s in readers)


def test_every_route_exists_and_only_public_ones_lack_the_authorizer(env: Synthesized) -> None:
    found = methods(env)
    assert len(found) == len(ROUTES)
    public = [m for m in found if m["AuthorizationType"] == "NONE"]
    assert len(public) == len([r for r in ROUTES if r.access in (Access.PUBLIC, Access.SIGNED)])
    for m in found:
        if m["AuthorizationType"] != "NONE":
            assert m["AuthorizationType"] == "COGNITO_USER_POOLS" and "AuthorizerId" in m
        assert "RequestValidatorId" in m


def test_only_third_party_callbacks_go_without_the_api_key(env: Synthesized) -> None:
    """Issue 22, finding 5: the payment provider sends no API key, and the storefront's would put its webhooks in
    the storefront's quota; its HMAC signature authenticates it. Every other route needs the key."""
    signed = [r for r in ROUTES if r.access == Access.SIGNED]
    assert [(r.method, r.path) for r in signed] == [("POST", "/payments/webhook")]
    keyless = [m for m in methods(env) if m["ApiKeyRequired"] is False]
    assert len(keyless) == len(signed) and all(m["ApiKeyRequired"] is True for m in methods(env)
                                               if m not in keyless)
    [webhook] = keyless
    model_id = webhook["RequestModels"]["application/json"]["Ref"]
    schema = env.template_json("Edge")["Resources"][model_id]["Properties"]["Schema"]
    # A field the provider adds is ignored, not refused (the service's model ignores it too).
    assert "additionalProperties" not in schema and set(schema["required"]) >= {"event_id", "order_id"}
    # Cardholder data still never passes: those fields are typed null at the edge as in the service's model.
    assert schema["properties"]["card_number"]["type"] == "null"


def test_integrations_go_through_the_vpc_link_to_each_service_listener(env: Synthesized) -> None:
    ports = sorted({int(m["Integration"]["Uri"]["Fn::Join"][1][-1].split(":")[1].split("/")[0]) for m in methods(env)})
    assert ports == sorted(LISTENER_PORTS.values())
    assert all(m["Integration"]["ConnectionType"] == "VPC_LINK" and m["Integration"]["Type"] == "HTTP_PROXY"
               for m in methods(env))


def test_request_bodies_are_validated_against_models(env: Synthesized) -> None:
    posted = [m for m in methods(env) if m["HttpMethod"] in ("POST", "PUT") and "RequestModels" in m]
    assert len(posted) == 12
    env.template("Edge").has_resource_properties("AWS::ApiGateway::RequestValidator", {
        "ValidateRequestBody": True, "ValidateRequestParameters": True})


def test_internal_nlb_has_one_listener_and_ip_target_group_per_service(env: Synthesized) -> None:
    t = env.template("Edge")
    t.has_resource_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internal",
                                                                             "Type": "network"})
    listeners = env.resources("Edge", "AWS::ElasticLoadBalancingV2::Listener").values()
    assert sorted(listener["Properties"]["Port"] for listener in listeners) == sorted(LISTENER_PORTS.values())
    groups = env.resources("Edge", "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert len(groups) == 4 and {g["Properties"]["TargetType"] for g in groups} == {"ip"}


def test_web_acl_has_managed_rules_and_a_rate_rule_and_guards_the_stage(env: Synthesized) -> None:
    (acl,) = env.resources("Edge", "AWS::WAFv2::WebACL").values()
    rules = acl["Properties"]["Rules"]
    managed = {r["Statement"]["ManagedRuleGroupStatement"]["Name"] for r in rules
               if "ManagedRuleGroupStatement" in r["Statement"]}
    assert managed == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                       "AWSManagedRulesSQLiRuleSet"}
    (rate,) = [r for r in rules if "RateBasedStatement" in r["Statement"]]
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == env.config.api.waf_rate_limit_per_5_min
    (assoc,) = env.resources("Edge", "AWS::WAFv2::WebACLAssociation").values()
    assert "Stage" in str(assoc["Properties"]["ResourceArn"])


def test_cors_allows_exactly_the_storefronts_origin(env: Synthesized) -> None:
    """The preflight of every resource and every gateway response (the storefront reads API Gateway's own errors:
    a bad body's details, 401, 429) name the storefront's origin and no other."""
    options = [m["Properties"] for m in env.resources("Edge", "AWS::ApiGateway::Method").values()
               if m["Properties"]["HttpMethod"] == "OPTIONS"]
    origins = {v for m in options for k, v in m["Integration"]["IntegrationResponses"][0]["ResponseParameters"].items()
               if k.endswith("Access-Control-Allow-Origin")}
    assert origins == {f"'{env.config.web.origin}'"}
    resources = env.resources("Edge", "AWS::ApiGateway::Resource")
    assert len(options) == len(resources) + 1  # the root's too
    responses = [g["Properties"] for g in env.resources("Edge", "AWS::ApiGateway::GatewayResponse").values()]
    assert len(responses) == len(GATEWAY_ERRORS)
    for response in responses:
        assert response["ResponseParameters"] == {
            "gatewayresponse.header.Access-Control-Allow-Origin": f"'{env.config.web.origin}'",
            "gatewayresponse.header.Vary": "'Origin'"}, response["ResponseType"]


def test_protected_methods_take_the_access_token_the_clients_send(env: Synthesized) -> None:
    """API Gateway's Cognito authorizer wants an ID token unless the method has authorization scopes; the clients send
    the access token of POST /users/login, whose scope is aws.cognito.signin.user.admin (see platform_api)."""
    for m in methods(env):
        if m["AuthorizationType"] == "NONE":
            assert "AuthorizationScopes" not in m
        else:
            assert m["AuthorizationScopes"] == [USER_SIGN_IN_SCOPE], m["HttpMethod"]


def test_api_gateway_errors_are_json_naming_the_error(env: Synthesized) -> None:
    responses = {r["Properties"]["ResponseType"]: r["Properties"]
                 for r in env.resources("Edge", "AWS::ApiGateway::GatewayResponse").values()}
    assert set(responses) == set(GATEWAY_ERRORS)
    assert {"BAD_REQUEST_BODY", "MISSING_AUTHENTICATION_TOKEN", "INVALID_API_KEY", "THROTTLED", "UNAUTHORIZED",
            "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    for kind, props in responses.items():
        template = props["ResponseTemplates"]["application/json"]
        sample = template.replace("$context.error.messageString", '"Some message"').replace("$context.", "")
        body = json.loads(sample)
        assert body["error"] == GATEWAY_ERRORS[kind] and body["error"] not in ("", "error")
        assert "StatusCode" not in props  # API Gateway's default status codes stay
    assert "$context.error.validationErrorString" in responses["BAD_REQUEST_BODY"]["ResponseTemplates"][
        "application/json"]


def test_execution_logs_go_to_a_group_created_with_the_logs_key_and_retention(env: Synthesized) -> None:
    groups = env.resources("Edge", "AWS::Logs::LogGroup")
    (logical_id, group), = [(k, g) for k, g in groups.items()
                            if "API-Gateway-Execution-Logs_" in json.dumps(g["Properties"].get("LogGroupName"))]
    (api_id,) = env.resources("Edge", "AWS::ApiGateway::RestApi")
    assert group["Properties"]["LogGroupName"] == {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": api_id},
                                                                     "/v1"]]}
    assert group["Properties"]["RetentionInDays"] == env.config.log_retention_days
    assert "KmsKeyId" in group["Properties"]
    (stage,) = env.resources("Edge", "AWS::ApiGateway::Stage").values()
    assert logical_id in stage["DependsOn"]  # exists before the stage logs its first request


def test_every_web_acl_log_redacts_the_credentials_requests_carry(env: Synthesized) -> None:
    """WAF logs every header of a request: the Cognito authorizer's identity source (the bearer token) and API
    Gateway's API key header must read REDACTED in every web ACL's log, the API's and the storefront's."""
    (authorizer,) = env.resources("Edge", "AWS::ApiGateway::Authorizer").values()
    token_header = authorizer["Properties"]["IdentitySource"].removeprefix("method.request.header.")
    (api,) = env.resources("Edge", "AWS::ApiGateway::RestApi").values()
    assert api["Properties"].get("ApiKeySourceType", "HEADER") == "HEADER"  # the key travels in x-api-key
    credentials = {token_header.lower(), "x-api-key"}
    found = 0
    for stack, template in env.all_templates().items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::WAFv2::LoggingConfiguration":
                continue
            found += 1
            redacted = {f["SingleHeader"]["Name"].lower() for f in resource["Properties"].get("RedactedFields", [])
                        if "SingleHeader" in f}
            assert credentials <= redacted, (stack, logical_id, sorted(credentials - redacted))
    assert found == 2  # the API's web ACL (Edge) and the storefront's (WebGlobal)
