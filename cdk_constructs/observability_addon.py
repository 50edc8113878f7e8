"""The CloudWatch Observability EKS add-on: Container Insights (enhanced), container logs, and the CloudWatch
agent as the cluster's telemetry collector (OTLP traces to X-Ray, EMF metrics), authorised by EKS Pod Identity."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_eks as eks_l1
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_constructs.addons import pinned_addon
from cdk_constructs.log_groups import LogSettings
from config.telemetry import (
    AGENT_NAMESPACE,
    AGENT_SERVICE_ACCOUNT,
    CONTAINER_INSIGHTS_LOG_GROUPS,
    EMF_PORT,
    OTLP_HTTP_PORT,
)
from policies.nag import acknowledge

ADDON_NAME = "amazon-cloudwatch-observability"
AGENT_POLICIES = {
    "CloudWatchAgentServerPolicy": "the agent puts Container Insights and EMF metrics and writes the container log "
                                   "streams of this cluster",
    "AWSXrayWriteOnlyAccess": "the agent forwards the services' OTLP traces to X-Ray as segments",
}


def agent_configuration() -> dict[str, Any]:
    """The add-on's configuration values: enhanced Container Insights, EMF listener, OTLP receiver, Fluent Bit."""
    return {
        "agent": {"config": {
            "logs": {"metrics_collected": {
                "kubernetes": {"enhanced_container_insights": True},
                "emf": {"service_address": f"udp://0.0.0.0:{EMF_PORT}"},
            }},
            "traces": {"traces_collected": {"otlp": {"http_endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"}}},
        }},
        "containerLogs": {"enabled": True},
        # Application Signals (on by default since add-on 5.0) would inject an auto-instrumentation agent into every
        # Python pod at its next restart; the services export their own OTLP traces, and their namespaces enforce
        # the restricted pod security profile the injected init container would have to pass.
        "manager": {"applicationSignals": {"autoMonitor": {"monitorAllServices": False}}},
    }


class ObservabilityAddon(Construct):
    """Creates the Container Insights log groups first (retention and the logs CMK; the agent would otherwise create
    them unencrypted and kept forever), the agent's role trusted by ``pods.eks.amazonaws.com``, its Pod Identity
    association (namespace ``amazon-cloudwatch``, service account ``cloudwatch-agent``), then the add-on."""

    def __init__(self, scope: Construct, construct_id: str, *, cluster: eks.ICluster, kubernetes_version: str,
                 log_settings: LogSettings, addons_from: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.log_groups = {
            name: log_settings.log_group(
                self, f"{name.capitalize()}LogGroup",
                log_group_name=f"/aws/containerinsights/{cluster.cluster_name}/{name}")
            for name in CONTAINER_INSIGHTS_LOG_GROUPS
        }
        self.role = iam.Role(
            self, "AgentRole",
            assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
            description="CloudWatch agent of the Observability add-on (EKS Pod Identity)",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(p) for p in AGENT_POLICIES],
        )
        for policy, why in AGENT_POLICIES.items():
            acknowledge(self.role, f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]",
                        f"The CloudWatch Observability add-on's agent role carries {policy}: {why}; AWS documents "
                        f"this managed policy for the add-on and the role is bound to that one service account.")
        self.association = eks_l1.CfnPodIdentityAssociation(
            self, "AgentPodIdentity", cluster_name=cluster.cluster_name, namespace=AGENT_NAMESPACE,
            service_account=AGENT_SERVICE_ACCOUNT, role_arn=self.role.role_arn)
        self.addon = pinned_addon(self, "Addon", cluster=cluster, kubernetes_version=kubernetes_version,
                                  addons_from=addons_from, name=ADDON_NAME,
                                  configuration_values=agent_configuration())
        self.addon.node.add_dependency(self.association, *self.log_groups.values())
