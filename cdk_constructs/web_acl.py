"""WAFv2 web ACL: AWS managed rule groups plus a per-IP rate limit, with logging. Regional (the API's stage) or
CloudFront's (the storefront's distribution), whose web ACLs and their log groups live in us-east-1."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_constructs.log_groups import LogSettings
from cdk_constructs.replaceable_name import per_stack_creation_name

MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                       "AWSManagedRulesSQLiRuleSet")
# Headers whose values are credentials: WAF logs every header of a request, so without redaction each user's bearer
# token and the API key would sit in CloudWatch Logs for the retention period, readable by anyone who reads the logs.
# WAF writes REDACTED instead (RedactedFields: SingleHeader; names are matched case-insensitively).
REDACTED_HEADERS = ("authorization", "x-api-key")


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(cloud_watch_metrics_enabled=True, metric_name=name,
                                                    sampled_requests_enabled=True)


class WebAcl(Construct):
    """``name``: the web ACL's name after the stack's (WAF's metrics are dimensioned by it); ``cloudfront``: a web
    ACL of CloudFront's scope, which must be created in us-east-1 (its stack's region)."""

    def __init__(self, scope: Construct, construct_id: str, *, rate_limit_per_5_min: int,
                 log_settings: LogSettings, name: str = "api", cloudfront: bool = False,
                 managed_rule_groups: tuple[str, ...] = MANAGED_RULE_GROUPS) -> None:
        super().__init__(scope, construct_id)
        prefix = cdk.Stack.of(self).stack_name
        if cloudfront and cdk.Stack.of(self).region != "us-east-1":
            raise ValueError(f"a CloudFront web ACL must be created in us-east-1, not {cdk.Stack.of(self).region}")
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=group, priority=i,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group)),
                visibility_config=_visibility(f"{prefix}-{group}"),
            )
            for i, group in enumerate(managed_rule_groups)
        ]
        rules.append(wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerIp", priority=len(rules),
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    limit=rate_limit_per_5_min, aggregate_key_type="IP", evaluation_window_sec=300)),
            visibility_config=_visibility(f"{prefix}-RateLimitPerIp"),
        ))
        self.web_acl = wafv2.CfnWebACL(
            self, "WebAcl",
            # Named: WAF's CloudWatch metrics are dimensioned by the web ACL's name (Observability alarms on them).
            name=f"{prefix}-{name}",
            scope="CLOUDFRONT" if cloudfront else "REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{prefix}-WebAcl"),
            rules=rules,
        )
        # WAF only logs to log groups whose name starts with aws-waf-logs-. The rest names the stack's creation: a
        # re-created stack must not meet the group a previous one retained.
        self.log_group = log_settings.log_group(
            self, "LogGroup", log_group_name=per_stack_creation_name(f"aws-waf-logs-{prefix.lower()}"))
        self.logging = wafv2.CfnLoggingConfiguration(
            self, "Logging", resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[cdk.Stack.of(self).format_arn(
                service="logs", resource="log-group", resource_name=self.log_group.log_group_name,
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)],
            redacted_fields=[wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": name})
                             for name in REDACTED_HEADERS],
        )

    def associate(self, construct_id: str, resource_arn: str) -> wafv2.CfnWebACLAssociation:
        return wafv2.CfnWebACLAssociation(self, construct_id, resource_arn=resource_arn,
                                          web_acl_arn=self.web_acl.attr_arn)
