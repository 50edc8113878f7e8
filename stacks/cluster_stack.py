from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.observability_addon import ObservabilityAddon
from cdk_constructs.platform_cluster import PlatformCluster
from config.environment import ClusterConfig, RemovalMode


class ClusterStack(cdk.Stack):
    """Stateless: the EKS cluster, its compute, access entries and add-ons."""

    def __init__(self, scope: Construct, construct_id: str, *, config: ClusterConfig, vpc: ec2.IVpc,
                 logs_key: kms.IKey, log_retention_days: int, removal: RemovalMode, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.platform = PlatformCluster(self, "Platform", config=config, vpc=vpc, logs_key=logs_key,
                                        log_retention_days=log_retention_days, removal=removal)
        self.cluster = self.platform.cluster
        # Container Insights, container logs and the telemetry collector (OTLP traces -> X-Ray, EMF metrics).
        self.observability = ObservabilityAddon(self, "Observability", cluster=self.platform.cluster_ref,
                                                kubernetes_version=config.kubernetes_version,
                                                logs_key=logs_key, log_retention_days=log_retention_days,
                                                removal=removal)
        # Its collector runs as a Deployment besides the DaemonSets: created once there are nodes to run it.
        self.observability.addon.node.add_dependency(*self.platform.node_groups.values())
        cdk.CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
