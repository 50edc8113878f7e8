from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from cdk_constructs.cross_region_values import read_value
from cdk_constructs.log_groups import LogSettings
from cdk_constructs.storefront import Storefront
from config.environment import WebConfig


class WebStack(cdk.Stack):
    """Stateless: the storefront (cdk_constructs/storefront.py) at the shop's domain, with its alias records.

    It takes the API's origin, URL and key from the Edge stack and the user pool from the Data stack; the Edge stack
    takes nothing from it, because the API's CORS names the storefront's origin from config (WebConfig.origin), a
    name fixed before either stack exists. The certificate and web ACL come from the WebGlobal stack in us-east-1,
    through SSM parameters of this region that it writes (``global_stack_name``: its name).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: WebConfig, site_dir: Path,
                 global_stack_name: str, api_url: str, api_origin: str, api_key_id: str,
                 user_pool_id: str, user_pool_client_id: str, log_settings: LogSettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        certificate = acm.Certificate.from_certificate_arn(
            self, "Certificate", read_value(self, global_stack_name, "certificate-arn"))
        web_acl_arn = read_value(self, global_stack_name, "web-acl-arn")
        self.storefront = Storefront(
            self, "Storefront", site_dir=site_dir, domain_names=config.domain_names, certificate=certificate,
            web_acl_arn=web_acl_arn, api_origin=api_origin, api_key_id=api_key_id, price_class=config.price_class,
            log_settings=log_settings,
            runtime_config={"apiUrl": api_url, "region": self.region, "userPoolId": user_pool_id,
                            "userPoolClientId": user_pool_client_id})
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name)
        target = route53.RecordTarget.from_alias(targets.CloudFrontTarget(self.storefront.distribution))
        aliases: list[route53.RecordSet] = []
        for i, name in enumerate(config.domain_names):
            suffix = "" if i == 0 else str(i)
            aliases.append(route53.ARecord(self, f"Alias{suffix}", zone=zone, record_name=f"{name}.", target=target))
            aliases.append(route53.AaaaRecord(self, f"AliasIpv6{suffix}", zone=zone, record_name=f"{name}.",
                                              target=target))
        # config.js and the pages go live only once the names they are served under point at the distribution:
        # a deploy that fails on a record rolls back before any page is published for a name that does not resolve.
        for deployment in self.storefront.deployments:
            deployment.node.add_dependency(*aliases)
        # The storefront's address: the synthetic customers (canaries) and the smoke test load it.
        cdk.CfnOutput(self, "StorefrontUrl", value=self.storefront.url)
        cdk.CfnOutput(self, "DistributionId", value=self.storefront.distribution.distribution_id)
        cdk.CfnOutput(self, "DistributionDomainName", value=self.storefront.distribution.distribution_domain_name)
