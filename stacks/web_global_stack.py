from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from constructs import Construct

from cdk_constructs.cross_region_values import CrossRegionValues
from cdk_constructs.encryption_key import EncryptionKey
from cdk_constructs.log_groups import LogSettings
from cdk_constructs.retention import removal_policy
from cdk_constructs.web_acl import WebAcl
from config.environment import RemovalMode, WebConfig

# CloudFront reads its certificate and its web ACL in us-east-1 only.
CLOUDFRONT_REGION = "us-east-1"
# The storefront serves static files from S3: nothing behind it parses a query for SQL or a header for a Log4j
# lookup (the API's own web ACL has those groups), so the common rule set, the IP reputation list and the rate limit.
STOREFRONT_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesAmazonIpReputationList")


class WebGlobalStack(cdk.Stack):
    """Stateless, in us-east-1 whatever the environment's region: what CloudFront takes only from there, the
    storefront's certificate (validated in the shop's hosted zone) and its web ACL, with the ACL's log group and
    that group's key (a KMS key serves its own region alone, so not the Network stack's logs key). It writes their
    ARNs into SSM parameters of ``consumer_region`` (cdk_constructs/cross_region_values.py), where the Web stack
    reads them."""

    WEB_ACL_ARN = "web-acl-arn"
    CERTIFICATE_ARN = "certificate-arn"

    def __init__(self, scope: Construct, construct_id: str, *, config: WebConfig, removal: RemovalMode,
                 log_retention_days: int, consumer_region: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if self.region != CLOUDFRONT_REGION:
            raise ValueError(f"{construct_id} must be deployed to {CLOUDFRONT_REGION}, not {self.region}")
        self.logs_key = EncryptionKey(self, "LogsKey", description="CloudWatch Logs of the storefront's web ACL",
                                      removal=removal).key
        self.logs_key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": f"arn:{self.partition}:logs:{self.region}:{self.account}:*"}},
        ))
        log_settings = LogSettings(key=self.logs_key, retention_days=log_retention_days, removal=removal)
        self.web_acl = WebAcl(self, "StorefrontWebAcl", rate_limit_per_5_min=config.waf_rate_limit_per_5_min,
                              log_settings=log_settings, name="storefront", cloudfront=True,
                              managed_rule_groups=STOREFRONT_RULE_GROUPS)
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name)
        self.certificate = acm.Certificate(
            self, "Certificate", domain_name=config.domain_name,
            subject_alternative_names=list(config.redirect_domain_names) or None,
            validation=acm.CertificateValidation.from_dns(zone))
        # A new domain replaces the certificate, and CloudFormation deletes the old one while the distribution (Web
        # stack, deployed after this one) still serves it: ACM refuses ("in use"). Replaced, the old certificate is
        # kept, and deleted by hand once the Web stack has moved (docs/deploying.md, "Changing the storefront's
        # domain"); removed from the template, it follows the environment's removal mode.
        certificate = self.certificate.node.default_child
        assert isinstance(certificate, cdk.CfnResource)
        certificate.apply_removal_policy(removal_policy(removal), apply_to_update_replace_policy=False)
        certificate.cfn_options.update_replace_policy = cdk.CfnDeletionPolicy.RETAIN
        self.exports = CrossRegionValues(
            self, "Exports", region=consumer_region, log_settings=log_settings,
            values={self.WEB_ACL_ARN: self.web_acl.web_acl.attr_arn,
                    self.CERTIFICATE_ARN: self.certificate.certificate_arn})
