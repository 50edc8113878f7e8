from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from config.topology import LISTENER_PORTS, ROUTES, Access
from tests.conftest import Synthesized


def methods(env: Synthesized) -> list[dict[str, Any]]:
    return [m["Properties"] for m in env.resources("Edge", "AWS::ApiGateway::Method").values()
            if m["Properties"]["HttpMethod"] != "OPTIONS"]


def test_stage_throttles_equal_config(env: Synthesized) -> None:
    env.template("Edge").has_resource_properties("AWS::ApiGateway::Stage", {
        "TracingEnabled": True,
        "MethodSettings": [Match.object_like({
            "ThrottlingRateLimit": env.config.api.throttle_rate_limit,
            "ThrottlingBurstLimit": env.config.api.throttle_burst_limit,
            "LoggingLevel": "INFO", "DataTraceEnabled": False})],
        "AccessLogSetting": Match.object_like({"Format": Match.string_like_regexp('"requestId"')}),
    })


def test_usage_plan_throttles_and_quota_from_config(env: Synthesized) -> None:
    env.template("Edge").has_resource_properties("AWS::ApiGateway::UsagePlan", {
        "Throttle": {"RateLimit": env.config.api.throttle_rate_limit,
                     "BurstLimit": env.config.api.throttle_burst_limit},
        "Quota": {"Limit": env.config.api.quota_requests_per_day, "Period": "DAY"}})


def test_every_route_exists_and_only_public_ones_lack_the_authorizer(env: Synthesized) -> None:
    found = methods(env)
    assert len(found) == len(ROUTES)
    public = [m for m in found if m["AuthorizationType"] == "NONE"]
    assert len(public) == len([r for r in ROUTES if r.access == Access.PUBLIC])
    for m in found:
        if m["AuthorizationType"] != "NONE":
            assert m["AuthorizationType"] == "COGNITO_USER_POOLS" and "AuthorizerId" in m
        assert m["ApiKeyRequired"] is True and "RequestValidatorId" in m


def test_integrations_go_through_the_vpc_link_to_each_service_listener(env: Synthesized) -> None:
    ports = sorted({int(m["Integration"]["Uri"]["Fn::Join"][1][-1].split(":")[1].split("/")[0]) for m in methods(env)})
    assert ports == sorted(LISTENER_PORTS.values())
    assert all(m["Integration"]["ConnectionType"] == "VPC_LINK" and m["Integration"]["Type"] == "HTTP_PROXY"
               for m in methods(env))


def test_request_bodies_are_validated_against_models(env: Synthesized) -> None:
    posted = [m for m in methods(env) if m["HttpMethod"] in ("POST", "PUT") and "RequestModels" in m]
    assert len(posted) == 7
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


def test_cors_is_restricted_to_configured_origins(env: Synthesized) -> None:
    options = [m["Properties"] for m in env.resources("Edge", "AWS::ApiGateway::Method").values()
               if m["Properties"]["HttpMethod"] == "OPTIONS"]
    origins = {v for m in options for k, v in m["Integration"]["IntegrationResponses"][0]["ResponseParameters"].items()
               if k.endswith("Access-Control-Allow-Origin")}
    assert origins and origins <= {f"'{o}'" for o in env.config.api.cors_allowed_origins}
