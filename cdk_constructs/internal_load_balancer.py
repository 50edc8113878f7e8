"""Internal NLB behind the API's VPC Link: one listener and one IP target group per service."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from config.topology import Service
from policies.nag import acknowledge


class InternalLoadBalancer(Construct):
    """Targets are pod IPs, registered by the AWS Load Balancer Controller from each service's TargetGroupBinding.

    One listener and target group per service of ``listener_ports`` (service -> listener port); targets listen on
    ``target_port`` and drain for ``deregistration_delay_seconds`` (the pods' preStop waits longer).
    """

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, vpc_cidr: str,
                 listener_ports: Mapping[Service, int], target_port: int, deregistration_delay_seconds: int) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Services NLB: reached only through the API VPC Link; sends only to service pods")
        self.load_balancer = elbv2.NetworkLoadBalancer(
            self, "LoadBalancer",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            cross_zone_enabled=True,
            # No deletion protection in any environment: the NLB holds no data and comes back with its stack, while
            # protection would refuse CloudFormation's own deletes (a failed create's rollback, cdk destroy; make
            # preflight, deletion-protection).
            deletion_protection=False,
            security_groups=[self.security_group],
            # API Gateway's VPC Link arrives over PrivateLink and carries no source security group to match; the
            # NLB is internal and its listeners are the only way in.
            enforce_security_group_inbound_rules_on_private_link_traffic=False,
        )
        self.security_group.add_egress_rule(ec2.Peer.ipv4(vpc_cidr), ec2.Port.tcp(target_port),
                                            "To service pods (IP targets) in the VPC")
        # No access logs: an NLB writes them for TLS listeners only ("Access logs are created only if the load
        # balancer has a TLS listener": Elastic Load Balancing, "Access logs for your Network Load Balancer"), and
        # these listeners are TCP (TLS ends at API Gateway; the VPC Link arrives over PrivateLink). API Gateway's
        # access logs record every request, and the VPC's flow logs every connection to the NLB's interfaces.
        why = ("This internal NLB has TCP listeners only, and an NLB writes access logs for TLS listeners alone; "
               "every request is in API Gateway's access logs and every connection in the VPC's flow logs.")
        for rule in ("AwsSolutions-ELB2", "NIST.800.53.R5-ELBLoggingEnabled", "PCI.DSS.321-ELBLoggingEnabled"):
            acknowledge(self.load_balancer, rule, why)
        acknowledge(self.load_balancer, "NIST.800.53.R5-ELBDeletionProtectionEnabled",
                    "The internal NLB is stateless (the Edge stack re-creates it with its listeners and target "
                    "groups); protected, it would make a failed Edge create end ROLLBACK_FAILED and cdk destroy fail.")
        self.listeners: dict[Service, elbv2.NetworkListener] = {}
        self.target_groups: dict[Service, elbv2.NetworkTargetGroup] = {}
        self.listener_ports: dict[Service, int] = dict(listener_ports)
        for service, port in self.listener_ports.items():
            name = service.value.capitalize()
            target_group = elbv2.NetworkTargetGroup(
                self, f"{name}TargetGroup",
                vpc=vpc,
                port=target_port,
                protocol=elbv2.Protocol.TCP,
                target_type=elbv2.TargetType.IP,
                deregistration_delay=cdk.Duration.seconds(deregistration_delay_seconds),
                health_check=elbv2.HealthCheck(protocol=elbv2.Protocol.HTTP, path="/readyz",
                                               healthy_threshold_count=2, unhealthy_threshold_count=2,
                                               interval=cdk.Duration.seconds(10)),
            )
            self.target_groups[service] = target_group
            self.listeners[service] = self.load_balancer.add_listener(
                f"{name}Listener", port=port, protocol=elbv2.Protocol.TCP, default_target_groups=[target_group])
            for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge(self.listeners[service], f"{pack}-ELBv2ACMCertificateRequired",
                            f"The {service.value} listener is on an internal NLB reached only by API Gateway over its "
                            "VPC Link (PrivateLink); TLS from clients ends at API Gateway's HTTPS endpoint.")
