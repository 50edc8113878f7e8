"""The platform's VPC: three tiers over explicit zones, gateway and interface endpoints, flow logs."""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnResource
from aws_cdk import aws_ec2 as ec2
from constructs import Construct, IConstruct

from cdk_constructs.log_groups import LogSettings, provider_log_group
from cdk_constructs.retention import removal_policy
from config.environment import NetworkConfig, RemovalMode
from policies.nag import acknowledge

PUBLIC = "Public"
PRIVATE = "Private"
ISOLATED = "Isolated"

_ENDPOINT_SERVICES: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "ecr.api": ec2.InterfaceVpcEndpointAwsService.ECR,
    "ecr.dkr": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "sns": ec2.InterfaceVpcEndpointAwsService.SNS,
    "secretsmanager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "xray": ec2.InterfaceVpcEndpointAwsService.XRAY,
    "kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "eks-auth": ec2.InterfaceVpcEndpointAwsService.EKS_AUTH,
    "monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
}


def _construct_id(endpoint: str) -> str:
    return "".join(part.capitalize() for part in endpoint.replace(".", "-").split("-")) + "Endpoint"


class PlatformVpc(Construct):
    """VPC with public, private-with-egress and isolated subnets in each configured zone.

    Workloads run in the private subnets and reach AWS APIs through gateway endpoints (S3, DynamoDB: free) and the
    configured interface endpoints; databases sit in the isolated subnets, which have no route out.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: NetworkConfig, removal: RemovalMode,
                 log_settings: LogSettings) -> None:
        """``log_settings``: the environment's; the flow logs keep their own retention (``config``). ``removal``
        retain keeps the VPC and its isolated subnets through a teardown: the retained database lives there (its
        network interfaces, its subnet group and security group), and EC2 refuses to delete a subnet or VPC that
        still holds them (make preflight, teardown)."""
        super().__init__(scope, construct_id)
        flow_logs = log_settings.with_retention(config.flow_log_retention_days)
        self.flow_log_group = flow_logs.log_group(self, "FlowLogGroup")
        self.vpc = ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.cidr),
            availability_zones=list(config.availability_zones),
            nat_gateways=config.nat_gateways,
            subnet_configuration=[
                # Only NAT gateways (with their own Elastic IPs) live here: nothing gets a public IP by default.
                ec2.SubnetConfiguration(name=PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24,
                                        map_public_ip_on_launch=False),
                ec2.SubnetConfiguration(name=PRIVATE, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20),
                ec2.SubnetConfiguration(name=ISOLATED, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            restrict_default_security_group=True,
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        if removal == RemovalMode.RETAIN:
            kept: list[IConstruct] = [self.vpc, *self.vpc.isolated_subnets]
            for construct in kept:
                cast(CfnResource, construct.node.default_child).apply_removal_policy(removal_policy(removal))
        # restrict_default_security_group: a stack-wide provider function empties the default group's rules.
        provider_log_group(self, "RestrictDefaultSecurityGroupLogGroup",
                           provider="VpcRestrictDefaultSGCustomResourceProvider",
                           users=[self.vpc.node.find_child("RestrictDefaultSecurityGroupCustomResource")],
                           log_settings=flow_logs)
        flow_log_policy = self.vpc.node.find_child("All").node.find_child("IAMRole").node.find_child("DefaultPolicy")
        for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(flow_log_policy, f"{pack}-IAMNoInlinePolicy",
                        "The VPC flow log role's policy is created by aws-cdk-lib and only lets the flow log service "
                        "write to this VPC's own flow log group.")
        for i, subnet in enumerate(self.vpc.public_subnets, start=1):
            for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge(subnet.node.find_child("DefaultRoute"), f"{pack}-VPCNoUnrestrictedRouteToIGW",
                            f"Public subnet {i} holds only a NAT gateway, which needs this default route to the "
                            "internet gateway; workloads and databases sit in private and isolated subnets.")
        self.vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.vpc.add_gateway_endpoint("DynamoDbEndpoint", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)

        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        # No interface endpoint: the NAT gateways carry the AWS API traffic as well.
        self.endpoint_security_group: ec2.SecurityGroup | None = None
        if not config.interface_endpoints:
            return
        self.endpoint_security_group = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="Interface endpoints: HTTPS from inside the VPC only",
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(config.cidr), ec2.Port.tcp(443), "HTTPS to AWS APIs from the VPC")
        for name in config.interface_endpoints:
            self.interface_endpoints[name] = self.vpc.add_interface_endpoint(
                _construct_id(name),
                service=_ENDPOINT_SERVICES[name],
                private_dns_enabled=True,
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                security_groups=[self.endpoint_security_group],
                open=False,
            )
