"""AWS FIS experiment templates for the faults `make chaos` simulates locally (tools/local/chaos.py), started by
`make fault ENV=... EXPERIMENT=...` (tools/ops/fault.py). Every template stops on the environment's any-fast-burn
objective alarm (cdk_constructs/service_level_objectives.py), logs to its own CloudWatch log group, and runs as a role
allowed that one fault on its targets (policies/fault_access.py). docs/resilience.md says what each is expected to
do and which local fault it mirrors.

- ``pods-deleted-<service>``: ``aws:eks:pod-delete`` on ``percent`` of the service's pods (local: SIGKILL of a pod);
- ``node-group-terminated-<pool>``: ``aws:eks:terminate-nodegroup-instances`` (local: several pods killed at once);
- ``zone-cut-<zone>``: ``aws:network:disrupt-connectivity``, scope ``all``, on the zone's private and isolated
  subnets, never a public one (local: AWS and PostgreSQL cut);
- ``aurora-failover``: ``aws:rds:failover-db-cluster`` (local: a PostgreSQL outage of 20-30 s);
- ``messaging-cut-<service>``: ``aws:ssm:start-automation-execution``, an automation that makes the SQS and SNS
  endpoints' policies deny the service's role for the duration, then resets them (local: AWS cut for one service).

Not ``aws:eks:pod-network-*`` for the messaging cut: those inject an ephemeral container that must run as root with
a writable root filesystem, which the services' restricted namespaces and pods refuse (FIS user guide, "Use the
aws:eks:pod actions", limitations); the endpoint policy reaches the same fault (SQS and SNS refuse that service,
nothing else) without loosening the pods. It needs interface endpoints for SQS and SNS (staging and prod).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks_l1
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_fis as fis
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk_constructs.log_groups import LogSettings
from config.environment import FaultConfig
from config.faults import EXPERIMENT_TAG
from config.topology import Service
from policies import fault_access
from policies.nag import acknowledge

# The Kubernetes user FIS acts as (access entry username) and the service account of its pod, per namespace.
FIS_USER = "fis-experiment"


@dataclass(frozen=True)
class FaultTargets:
    """What the experiments act on, from the stacks that own it."""

    node_groups: Mapping[str, eks.Nodegroup]  # pools open to the services (not the load pool)
    vpc: ec2.IVpc
    zones: tuple[str, ...]
    database: rds.IDatabaseCluster
    messaging_endpoints: Mapping[str, ec2.IInterfaceVpcEndpoint]  # "sqs", "sns" where the VPC has them
    stop_condition: cw.IAlarm


def pod_delete_rbac(namespace: str) -> list[dict[str, object]]:
    """What the FIS pod and the fis-experiment user need in one namespace to delete its pods (the FIS user guide's
    Role for aws:eks:pod actions, without the ephemeral-container and exec rules only the other pod actions use)."""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": FIS_USER, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": FIS_USER, "namespace": namespace},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "patch", "delete"]},
                   {"apiGroups": [""], "resources": ["pods"],
                    "verbs": ["create", "list", "get", "delete", "deletecollection"]},
                   {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": FIS_USER, "namespace": namespace},
         "subjects": [{"kind": "ServiceAccount", "name": FIS_USER, "namespace": namespace},
                      {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": FIS_USER}],
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": FIS_USER}},
    ]


def endpoint_deny_policy(role_arn: str) -> dict[str, object]:
    """The endpoint policy for the fault: everything as before (the default full-access policy), except the role."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*",
         "Condition": {"ArnEquals": {"aws:PrincipalArn": role_arn}}}]}


def messaging_cut_document() -> dict[str, object]:
    """SSM Automation: deny the role on both endpoints, hold, reset both to their default policy. A failed or
    cancelled step (FIS stopping the experiment on its stop condition) still goes to the reset."""
    def modify(name: str, endpoint: str, change: Mapping[str, object], next_step: str | None) -> dict[str, object]:
        step: dict[str, object] = {"name": name, "action": "aws:executeAwsApi", "inputs": {
            "Service": "ec2", "Api": "ModifyVpcEndpoint", "VpcEndpointId": f"{{{{ {endpoint} }}}}", **change}}
        if next_step:
            step.update(onFailure=f"step:{next_step}", onCancel=f"step:{next_step}")
        return step

    deny = {"PolicyDocument": "{{ DenyPolicy }}"}
    reset = {"ResetPolicy": True}
    return {
        "schemaVersion": "0.3",
        "description": "Fault experiment: the SQS and SNS interface endpoints refuse one role for a while.",
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": {"AutomationAssumeRole": {"type": "String"}, "SqsEndpointId": {"type": "String"},
                       "SnsEndpointId": {"type": "String"}, "DenyPolicy": {"type": "String"},
                       "Duration": {"type": "String", "default": "PT5M"}},
        "mainSteps": [
            modify("DenySqs", "SqsEndpointId", deny, "ResetSqs"),
            modify("DenySns", "SnsEndpointId", deny, "ResetSqs"),
            {"name": "Hold", "action": "aws:sleep", "inputs": {"Duration": "{{ Duration }}"},
             "onFailure": "step:ResetSqs", "onCancel": "step:ResetSqs"},
            {**modify("ResetSqs", "SqsEndpointId", reset, None), "onFailure": "Continue"},
            {**modify("ResetSns", "SnsEndpointId", reset, None), "isEnd": True},
        ],
    }


class FaultExperiments(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, environment: str, config: FaultConfig,
                 cluster: eks.ICluster, namespaces: Mapping[Service, eks.KubernetesManifest],
                 service_roles: Mapping[Service, iam.IRole], targets: FaultTargets,
                 log_settings: LogSettings) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.environment, self.config, self.targets = environment, config, targets
        self.log_group = log_settings.log_group(self, "LogGroup")
        self.templates: dict[str, fis.CfnExperimentTemplate] = {}
        minutes = f"PT{config.fault_minutes}M"
        arn = f"arn:{stack.partition}"  # as cdk-nag prints a finding's resource in a stack of a known region

        pods_role = self._role("PodsRole", "delete pods of the services",
                               [fault_access.describe_cluster(cluster.cluster_arn)])
        eks_l1.CfnAccessEntry(self, "PodsAccessEntry", cluster_name=cluster.cluster_name,
                              principal_arn=pods_role.role_arn, username=FIS_USER, type="STANDARD")
        for service, namespace in namespaces.items():
            # One object per manifest: kubectl's default prune allowlist lacks these kinds, so an object sharing a
            # manifest would stay in the cluster once dropped from it (make preflight, prune).
            rbac: list[eks.KubernetesManifest] = []
            for obj in pod_delete_rbac(service.value):
                m = eks.KubernetesManifest(self, f"{service.value.capitalize()}Rbac{obj['kind']}", cluster=cluster,
                                           manifest=[obj], prune=False)
                m.node.add_dependency(namespace, *rbac)
                rbac.append(m)
            pods = {"resourceType": "aws:eks:pod", "selectionMode": f"PERCENT({config.percent})",
                    "parameters": {"clusterIdentifier": cluster.cluster_arn, "namespace": service.value,
                                   "selectorType": "labelSelector",
                                   "selectorValue": f"app.kubernetes.io/name={service.value}"}}
            # The FIS pod runs in the service's namespace, whose pod security is restricted.
            self._template(f"pods-deleted-{service.value}", pods_role,
                           f"Delete {config.percent}% of the {service.value} pods (API and worker)",
                           targets={"Pods": pods},
                           action={"actionId": "aws:eks:pod-delete", "targets": {"Pods": "Pods"},
                                   "parameters": {"kubernetesServiceAccount": FIS_USER,
                                                  "fisPodSecurityPolicy": "restricted"}})

        groups = dict(targets.node_groups)
        nodes_role = self._role("NodesRole", "terminate instances of the node groups", [
            fault_access.describe_node_groups([g.nodegroup_arn for g in groups.values()]),
            *fault_access.terminate_node_group_instances(stack.partition, stack.region, stack.account,
                                                         cluster.cluster_name)], wildcards={
            f"{arn}:ec2:{stack.region}:{stack.account}:instance/*":
                "Node group instances come and go; the statement is conditioned on the eks:cluster-name tag EKS "
                "puts on this cluster's instances, so only they can be terminated."})
        for pool, group in groups.items():
            self._template(f"node-group-terminated-{pool}", nodes_role,
                           f"Terminate {config.percent}% of the {pool} node group's instances",
                           targets={"Nodegroups": {"resourceType": "aws:eks:nodegroup", "selectionMode": "ALL",
                                                   "resourceArns": [group.nodegroup_arn]}},
                           action={"actionId": "aws:eks:terminate-nodegroup-instances",
                                   "targets": {"Nodegroups": "Nodegroups"},
                                   "parameters": {"instanceTerminationPercentage": str(config.percent)}})

        # Only the zone's private and isolated subnets (pods, nodes, the internal NLB, Aurora, the interface
        # endpoints): a public subnet holds the NAT gateway (in dev and staging the only one, the egress of every
        # zone), so cutting it would take every zone's egress down and measure something else than a lost zone.
        zone_subnets = {zone: self.cut_subnets(targets.vpc, zone) for zone in targets.zones}
        subnet_arns = {zone: [f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}:subnet/{s.subnet_id}"
                              for s in subnets] for zone, subnets in zone_subnets.items()}
        acl_why = ("FIS creates a new network ACL per experiment (tagged managedByFIS) and swaps it onto the "
                   "zone's subnets: the ACL ids are not known before; changes are conditioned on the FIS tag and "
                   "on this VPC.")
        zone_role = self._role("ZoneRole", "cut the private and isolated subnets of a zone off",
                               fault_access.disrupt_subnets(stack.partition, stack.region, stack.account,
                                                            targets.vpc.vpc_id,
                                                            [a for arns in subnet_arns.values() for a in arns]),
                               wildcards={f"{arn}:ec2:{stack.region}:{stack.account}:network-acl/*": acl_why})
        for zone in targets.zones:
            self._template(f"zone-cut-{zone}", zone_role,
                           f"Cut the private and isolated subnets of {zone} off for {config.fault_minutes} minutes",
                           targets={"Subnets": {"resourceType": "aws:ec2:subnet", "selectionMode": "ALL",
                                                "resourceArns": subnet_arns[zone]}},
                           action={"actionId": "aws:network:disrupt-connectivity", "targets": {"Subnets": "Subnets"},
                                   "parameters": {"duration": minutes, "scope": "all"}})

        db_role = self._role("DatabaseRole", "fail the orders database over",
                             [fault_access.failover_cluster(targets.database.cluster_arn)])
        self._template("aurora-failover", db_role, "Fail the orders Aurora cluster over",
                       targets={"Clusters": {"resourceType": "aws:rds:cluster", "selectionMode": "ALL",
                                             "resourceArns": [targets.database.cluster_arn]}},
                       action={"actionId": "aws:rds:failover-db-cluster", "targets": {"Clusters": "Clusters"}})

        endpoints = targets.messaging_endpoints
        if "sqs" in endpoints and "sns" in endpoints:
            automation_role = iam.Role(self, "MessagingAutomationRole",
                                       assumed_by=iam.ServicePrincipal("ssm.amazonaws.com"),
                                       description=f"Fault experiments of {environment}: set and reset the SQS and "
                                                   "SNS endpoint policies")
            iam.ManagedPolicy(self, "MessagingAutomationPolicy", roles=[automation_role], statements=[
                fault_access.endpoint_policies(stack.partition, stack.region, stack.account,
                                               [endpoints["sqs"].vpc_endpoint_id, endpoints["sns"].vpc_endpoint_id])])
            document = ssm.CfnDocument(self, "MessagingCutDocument", document_type="Automation",
                                       content=messaging_cut_document())
            messaging_role = self._role(
                "MessagingRole", "cut SQS and SNS off from one service",
                fault_access.run_automation(stack.partition, stack.region, stack.account, document.ref,
                                            automation_role.role_arn), wildcards={
                    f"{arn}:ssm:{stack.region}:{stack.account}:automation-definition/"
                    f"<{stack.get_logical_id(document)}>:*":
                        "Every version of the one messaging-cut automation document this construct defines.",
                    f"{arn}:ssm:{stack.region}:{stack.account}:automation-execution/*":
                        "FIS follows and stops the automation execution it started, whose id exists only then."})
            for service, role in service_roles.items():
                parameters = stack.to_json_string({
                    "AutomationAssumeRole": automation_role.role_arn,
                    "SqsEndpointId": endpoints["sqs"].vpc_endpoint_id,
                    "SnsEndpointId": endpoints["sns"].vpc_endpoint_id,
                    "DenyPolicy": stack.to_json_string(endpoint_deny_policy(role.role_arn)),
                    "Duration": minutes})
                self._template(f"messaging-cut-{service.value}", messaging_role,
                               f"SQS and SNS refuse {service.value} for {config.fault_minutes} minutes",
                               targets={}, action={
                                   "actionId": "aws:ssm:start-automation-execution",
                                   # FIS takes the document's ARN (document/<name>) and runs its default
                                   # version; automation-definition/<name>:<version> is what IAM authorizes
                                   # StartAutomationExecution on, not a document ARN (FIS refuses it).
                                   "parameters": {"documentArn": stack.format_arn(
                                                      service="ssm", resource="document", resource_name=document.ref),
                                                  "documentParameters": parameters,
                                                  "maxDuration": f"PT{config.fault_minutes + 5}M"}})

    @staticmethod
    def cut_subnets(vpc: ec2.IVpc, zone: str) -> list[ec2.ISubnet]:
        """The subnets a zone cut takes off: the zone's private (with egress) and isolated ones, never public."""
        return [subnet for subnet_type in (ec2.SubnetType.PRIVATE_WITH_EGRESS, ec2.SubnetType.PRIVATE_ISOLATED)
                for subnet in vpc.select_subnets(subnet_type=subnet_type, availability_zones=[zone]).subnets]

    def _role(self, construct_id: str, what: str, statements: list[iam.PolicyStatement],
              wildcards: Mapping[str, str] | None = None) -> iam.Role:
        """``wildcards``: the resource patterns its statements must use (an IAM5 finding each), and why."""
        stack = cdk.Stack.of(self)
        role = iam.Role(self, construct_id, description=f"Fault experiments of {self.environment}: {what}",
                        assumed_by=iam.ServicePrincipal("fis.amazonaws.com", conditions={
                            "StringEquals": {"aws:SourceAccount": stack.account},
                            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:fis:{stack.region}:{stack.account}:"
                                                         "experiment/*"}}))
        policy = iam.ManagedPolicy(self, f"{construct_id}Policy", roles=[role],
                                   statements=[*statements, *fault_access.log_delivery(self.log_group.log_group_arn)])
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                    "FIS writes experiment logs through a vended log delivery (logs:CreateLogDelivery and the "
                    "log resource policy calls have no resource scope), and the Describe calls FIS makes to "
                    "resolve targets have none either; every changing action names its resources.")
        for pattern, why in (wildcards or {}).items():
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::{pattern}]", why)
        return role

    def _template(self, name: str, role: iam.IRole, description: str, *, targets: dict[str, Any],
                  action: dict[str, object]) -> None:
        template = fis.CfnExperimentTemplate(
            self, "".join(part.capitalize() for part in name.split("-")),
            description=f"{self.environment}: {description}; stops when any objective burns fast",
            role_arn=role.role_arn,
            stop_conditions=[{"source": "aws:cloudwatch:alarm", "value": self.targets.stop_condition.alarm_arn}],
            targets=targets, actions={"Fault": action},
            log_configuration={"logSchemaVersion": 2,
                               "cloudWatchLogsConfiguration": {"LogGroupArn": self.log_group.log_group_arn}},
            experiment_options={"accountTargeting": "single-account", "emptyTargetResolutionMode": "fail"},
            tags={"Name": f"{self.environment}-{name}", EXPERIMENT_TAG: name})
        self.templates[name] = template

