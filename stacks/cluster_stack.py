from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from cdk_constructs.log_groups import LogSettings
from cdk_constructs.node_group_schedule import NodeGroupSchedule
from cdk_constructs.node_group_wake_access import NodeGroupWakeAccess
from cdk_constructs.observability_addon import ObservabilityAddon
from cdk_constructs.platform_cluster import PlatformCluster
from config.environment import ClusterConfig, RemovalMode


class ClusterStack(cdk.Stack):
    """Stateless: the EKS cluster, its compute, access entries and add-ons."""

    def __init__(self, scope: Construct, construct_id: str, *, config: ClusterConfig, vpc: ec2.IVpc,
                 log_settings: LogSettings, removal: RemovalMode, environment: str = "",
                 github_repository: str = "", **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.platform_cluster = PlatformCluster(self, "Platform", config=config, vpc=vpc, removal=removal,
                                        log_settings=log_settings)
        self.cluster = self.platform_cluster.cluster
        # Container Insights, container logs and the telemetry collector (OTLP traces -> X-Ray, EMF metrics).
        self.observability_addon = ObservabilityAddon(self, "Observability", cluster=self.platform_cluster.cluster_ref,
                                                      kubernetes_version=config.kubernetes_version,
                                                      addons_from=config.addons_from,
                                                      log_settings=log_settings)
        # Its collector runs as a Deployment besides the DaemonSets: created once there are nodes to run it.
        self.observability_addon.addon.node.add_dependency(*self.platform_cluster.node_groups.values())
        cdk.CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        cdk.CfnOutput(self, "AdminRoleArn", value=self.platform_cluster.admin_role.role_arn,
                      description="Cluster admins: aws eks update-kubeconfig --name <ClusterName> --role-arn <this>")
        # kubectl from a person: the API endpoint is private, so a CloudShell VPC environment in the cluster's VPC
        # (docs/deploying.md, "Reaching the cluster"); these outputs are the form's VPC, subnet and security group.
        operators = self.platform_cluster
        cdk.CfnOutput(self, "OperatorAccessVpcId", value=vpc.vpc_id,
                      description="CloudShell VPC environment: the VPC (the cluster's)")
        cdk.CfnOutput(self, "OperatorAccessSubnetIds", value=cdk.Fn.join(",", operators.operator_subnets.subnet_ids),
                      description="CloudShell VPC environment: one of these private subnets (NAT egress)")
        cdk.CfnOutput(self, "OperatorAccessSecurityGroupId",
                      value=operators.operator_security_group.security_group_id,
                      description="CloudShell VPC environment: this security group (the API endpoint admits it on 443)")
        # Working hours (config.cluster.schedule): no node at night; the autoscaler sizes the groups in between. The
        # pipeline wakes them for a deploy outside those hours (docs/cost.md, "Working hours").
        self.schedule: NodeGroupSchedule | None = None
        self.wake_access: NodeGroupWakeAccess | None = None
        if config.schedule is not None:
            groups = self.platform_cluster.node_groups
            self.schedule = NodeGroupSchedule(self, "NodeGroupSchedule", schedule=config.schedule,
                                              cluster_name=self.cluster.cluster_name, pools=config.node_pools,
                                              node_groups=groups)
            sleeps = [sleep for _, sleep in self.schedule.schedules.values()]
            self.wake_access = NodeGroupWakeAccess(
                self, "WakeAccess", environment=environment, github_repository=github_repository,
                cluster_arn=self.cluster.cluster_arn, node_group_arns=[g.nodegroup_arn for g in groups.values()],
                sleep_schedule_arns=[s.attr_arn for s in sleeps], scheduler_role_arn=self.schedule.role.role_arn)
            cdk.CfnOutput(self, "WakeRoleArn", value=self.wake_access.role.role_arn,
                          description="Set as AWS_WAKE_ROLE_ARN of the GitHub environment (docs/deploying.md)")
            # What `make wake ... HOLD=1` disables while a deploy or teardown runs, and `make sleep` enables again.
            cdk.CfnOutput(self, "NodeGroupScheduleGroup", value=self.schedule.group.ref)
            cdk.CfnOutput(self, "SleepSchedules", value=cdk.Fn.join(",", [s.ref for s in sleeps]))
