"""Internal NLB behind the API's VPC Link: one listener and one IP target group per service."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.log_groups import LogSettings, provider_log_group
from cdk_constructs.retention import removal_policy
from config.environment import RemovalMode
from config.topology import Service
from policies.nag import acknowledge


class InternalLoadBalancer(Construct):
    """Targets are pod IPs, registered by the AWS Load Balancer Controller from each service's TargetGroupBinding.

    One listener and target group per service of ``listener_ports`` (service -> listener port); targets listen on
    ``target_port`` and drain for ``deregistration_delay_seconds`` (the pods' preStop waits longer).
    """

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, vpc_cidr: str, removal: RemovalMode,
                 log_settings: LogSettings, listener_ports: Mapping[Service, int], target_port: int,
                 deregistration_delay_seconds: int) -> None:
        """``removal``: the NLB's deletion protection; ``log_settings``: its access logs bucket's."""
        super().__init__(scope, construct_id)
        # NLB access logs require SSE-S3 (not KMS) on the bucket.
        self.access_logs_bucket = s3.Bucket(
            self, "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(log_settings.retention_days),
                                              noncurrent_version_expiration=cdk.Duration.days(1))],
            removal_policy=removal_policy(log_settings.removal),
            # A bucket that still holds objects cannot be deleted: where the environment destroys its resources,
            # the stack empties it first, so a teardown does not stop here.
            auto_delete_objects=log_settings.removal == RemovalMode.DESTROY,
        )
        if log_settings.removal == RemovalMode.DESTROY:
            provider_log_group(self, "AutoDeleteObjectsLogGroup", provider="S3AutoDeleteObjectsCustomResourceProvider",
                               users=[self.access_logs_bucket.node.find_child("AutoDeleteObjectsCustomResource")],
                               log_settings=log_settings)
        for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(self.access_logs_bucket, f"{pack}-S3BucketLoggingEnabled",
                        "This bucket is itself the access log destination of the internal NLB; its readers are "
                        "recorded by CloudTrail, and logging it to another bucket would recurse.")
            acknowledge(self.access_logs_bucket, f"{pack}-S3DefaultEncryptionKMS",
                        "Elastic Load Balancing delivers access logs only to buckets encrypted with SSE-S3, so this "
                        "log bucket cannot use a KMS key; it is private, versioned and TLS-only.")
            acknowledge(self.access_logs_bucket, f"{pack}-S3BucketReplicationEnabled",
                        "NLB access logs are diagnostic data kept for the log retention period; replicating them "
                        "to another region would double their cost without protecting any business record.")
        acknowledge(self.access_logs_bucket, "AwsSolutions-S1",
                    "This bucket only receives the internal NLB's access logs; logging its own access would need a "
                    "second bucket whose logs would need a third, and reads of it are in CloudTrail data events.")
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Services NLB: reached only through the API VPC Link; sends only to service pods")
        self.load_balancer = elbv2.NetworkLoadBalancer(
            self, "LoadBalancer",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            cross_zone_enabled=True,
            deletion_protection=removal != RemovalMode.DESTROY,
            security_groups=[self.security_group],
            # API Gateway's VPC Link arrives over PrivateLink and carries no source security group to match; the
            # NLB is internal and its listeners are the only way in.
            enforce_security_group_inbound_rules_on_private_link_traffic=False,
        )
        self.security_group.add_egress_rule(ec2.Peer.ipv4(vpc_cidr), ec2.Port.tcp(target_port),
                                            "To service pods (IP targets) in the VPC")
        self.load_balancer.log_access_logs(self.access_logs_bucket)
        if removal == RemovalMode.DESTROY:
            acknowledge(self.load_balancer, "NIST.800.53.R5-ELBDeletionProtectionEnabled",
                        "Deletion protection is on wherever the environment keeps its resources; this environment's "
                        "config destroys them, so the internal NLB may be deleted with its stack.")
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
