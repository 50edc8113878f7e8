"""Teardown: what `cdk destroy` leaves behind, read from the templates, and in which order it deletes.

``cdk destroy --all`` deletes the stacks one at a time in reverse dependency order. What survives:
- resources with ``DeletionPolicy`` Retain or RetainExceptOnCreate, and the final snapshot of Snapshot ones;
- resources AWS services create outside CloudFormation for the app's resources unless the app creates them first:
  the log groups of Lambda functions (``/aws/lambda/<name>``, custom-resource providers and the rotation application
  included), API Gateway execution logs (``API-Gateway-Execution-Logs_<api id>/<stage>``), RDS log exports
  (``/aws/rds/cluster/<id>/<log>``), EKS control-plane logs (``/aws/eks/<cluster>/cluster``), Container Insights
  (``/aws/containerinsights/<cluster>/<kind>``) and flow logs. A log group pre-creates one when its name is the same
  name (``tools/reports/preflight/names.py``: compared by structure, so a name built from the cluster's own generated
  name matches the log group named after it);
- everything in a stack whose deletion fails: termination protection, deletion protection (RDS, Cognito, DynamoDB),
  an S3 bucket that still holds objects (no auto-delete), a VPC Lambda function whose network interfaces hold the
  security group EKS created for the cluster (Lambda releases them up to 45 minutes after the function is deleted;
  EKS cannot delete the group meanwhile, and the VPC's deletion then fails).

The same holds for a VPC function hidden in a Serverless Application Repository application
(``AWS::Serverless::Application``, such as Secrets Manager's rotation functions): its security groups and subnets are
the application's parameters (``vpcSecurityGroupIds``, ``vpcSubnetIds``), and while Lambda keeps its interfaces EC2
refuses to delete those groups (DependencyViolation) when the teardown deletes them with the stack.

That last blocker is lifted by a network interface cleanup (``Custom::NetworkInterfaceCleanup``,
``cdk_constructs/network_interface_cleanup.py``) that the template shows doing the job: its ``VpcId`` is the
functions' VPC, it deletes the security group of the cluster its ``ClusterName`` names (``DeleteClusterSecurityGroup``),
it is deleted after the functions and after the cluster (they depend on it), and its provider's waiter (the retries of
its Step Functions state machine, within the custom resource's ``ServiceTimeout``) outlasts Lambda's release of the
interfaces. The same resource, watching the groups of a ``SecurityGroupPolicy`` and deleted after the workloads that
use them, releases the branch interfaces of pods with their own security group; without one the plan says so. And one
watching an application's security groups in its VPC, deleted after the application and waiting long enough, lets
EC2 delete those groups once Lambda has released the application function's interfaces.

The check fails where the config says ``removal: destroy`` and anything survives; in every environment it fails for
a retained resource with a fixed name in a stack that is not termination-protected (the stack can be deleted and
created again, and the create then fails: "already exists"), for a security group or VPC the teardown deletes while
network interfaces may still hold it (a VPC function's, an application's VPC function's, pods' branch interfaces: no
removal mode keeps that on purpose, the stack's deletion just fails), and for ``DeletionPolicy: Retain`` where
``RetainExceptOnCreate`` would do: CloudFormation keeps a Retain resource even when the create that made it rolls
back, so a failed first deploy leaves databases, keys and tables behind that block the next try by name or cost money
("RetainExceptOnCreate behaves like Retain for stack operations, except for the stack operation that initially
created the resource": CloudFormation user guide, DeletionPolicy attribute).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdk_constructs.network_interface_cleanup import RESOURCE_TYPE as ENI_CLEANUP
from config.environment import EnvironmentConfig, RemovalMode
from tools.assembly import (
    NAME_PROPERTY,
    Assembly,
    KubernetesObject,
    Resource,
    ResourceTarget,
    parse_json_with_tokens,
)
from tools.reports.preflight.deletion_protection import protected
from tools.reports.preflight.model import CheckResult, Finding
from tools.reports.preflight.names import Name, name, resource_name
from tools.reports.preflight.retained_dependencies import Use, all_uses

NAME = "teardown"
RETAINED = ("Retain", "RetainExceptOnCreate")
CONTAINER_INSIGHTS = ("application", "dataplane", "host", "performance")
# What the kubectl provider's custom resources hold lives inside the cluster and goes with it: retained, they leave
# nothing in the account (and a CRD is retained on purpose: deleting it deletes every object of its kind).
IN_CLUSTER = ("Custom::AWSCDK-EKS-KubernetesResource", "Custom::AWSCDK-EKS-HelmChart")
# Terraform AWS provider, aws_security_group and aws_subnet timeouts: "Lambda ENIs can take up to 45 minutes to
# delete" (the provider's retry window agreed with the Lambda service team for Hyperplane ENIs).
LAMBDA_ENI_RELEASE_MINUTES = 45
# CloudFormation custom resources: ServiceTimeout defaults to (and may not exceed) 3600 seconds.
CUSTOM_RESOURCE_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class Leftover:
    stack: str
    what: str  # how the plan names it
    why: str
    # A deletion that fails by accident, never by choice (a network interface still holding a security group): a
    # finding whatever the environment's removal mode keeps.
    accidental: bool = False


@dataclass
class StackPlan:
    name: str
    resources: int
    retained: list[Leftover] = field(default_factory=list)
    created_outside: list[Leftover] = field(default_factory=list)
    blockers: list[Leftover] = field(default_factory=list)
    handled: list[Leftover] = field(default_factory=list)  # would survive or block, but the app releases it


@dataclass
class Plan:
    environment: str
    removal: RemovalMode
    stacks: list[StackPlan]
    replace_hazards: list[Leftover]
    # Retain (not RetainExceptOnCreate): survives the rollback of the create that made it.
    create_leftovers: list[Leftover] = field(default_factory=list)
    # What a kept resource (or a final snapshot) uses of what the teardown deletes (retained_dependencies.py).
    kept_uses: list[Use] = field(default_factory=list)

    def failing_uses(self) -> list[Use]:
        return [u for u in self.kept_uses if u.verdict != "harmless"]

    def accidental_blockers(self) -> list[Leftover]:
        return [x for s in self.stacks for x in s.blockers if x.accidental]

    def survivors(self) -> list[Leftover]:
        return [x for s in self.stacks for x in (*s.retained, *s.created_outside, *s.blockers)]

    def lines(self) -> list[str]:
        out = [f"Teardown plan for {self.environment} (removal: {self.removal.value}). `cdk destroy --all` deletes "
               "the stacks one at a time, in this order:"]
        for i, s in enumerate(self.stacks, 1):
            out.append(f"{i:>2}. {s.name} ({s.resources} resources)")
            for label, items in (("survives", s.retained), ("created outside CloudFormation, survives",
                                                            s.created_outside),
                                 ("blocks deletion", s.blockers), ("released", s.handled)):
                out += [f"      {label}: {x.what} -- {x.why}" for x in items]
        survivors = self.survivors()
        out.append(f"Left behind: {len(survivors)}" + ("" if survivors else " (nothing)"))
        for h in self.replace_hazards:
            out.append(f"Recreate hazard: {h.stack}: {h.what} -- {h.why}")
        for u in self.failing_uses():
            out.append(f"Kept {u.kept.stack}/{u.kept.logical_id} uses {u.used.stack}/{u.used.logical_id} "
                       f"({u.used.type}) at {u.where}, which is deleted: {u.verdict} -- {u.why}")
        harmless: dict[str, int] = {}
        for u in self.kept_uses:
            if u.verdict == "harmless":
                harmless[u.why] = harmless.get(u.why, 0) + 1
        out += [f"Kept resources use {n} deleted ones harmlessly: {why}" for why, n in sorted(harmless.items())]
        return out


def fixed_name(assembly: Assembly, r: Resource) -> Name | None:
    """The resource's physical name when the template fixes it (the same on every create), else None."""
    prop = NAME_PROPERTY.get(r.type)
    if prop is None or prop not in r.properties:
        return None
    n = name(assembly, r.stack, r.properties[prop])
    return n if n.fixed else None


def log_groups(assembly: Assembly) -> set[Name]:
    """The names of the log groups the templates create (a generated one is named by its `Ref`)."""
    return {resource_name(assembly, r.stack, r.logical_id) for r in assembly.resources("AWS::Logs::LogGroup")}


@dataclass(frozen=True)
class ServiceLogGroup:
    """A log group an AWS service creates for ``resource`` when it first writes, unless it exists already."""

    resource: Resource
    name: Name
    service: str
    value: Any  # the name as a template value in the resource's stack (what a LogGroupName would say)


def _join(*parts: Any) -> dict[str, Any]:
    return {"Fn::Join": ["", list(parts)]}


def service_log_groups(assembly: Assembly, stack: str) -> list[ServiceLogGroup]:
    """Every log group a service creates outside CloudFormation for the stack's resources."""
    out: list[ServiceLogGroup] = []

    def add(r: Resource, value: Any, service: str, lower: bool = False) -> None:
        n = name(assembly, stack, value)
        out.append(ServiceLogGroup(r, n.lower() if lower else n, service, value))

    for r in assembly.stacks[stack].resources.values():
        p = r.properties
        if r.type == "AWS::Lambda::Function":
            configured = (p.get("LoggingConfig") or {}).get("LogGroup")
            if configured is not None:
                add(r, configured, "Lambda (LoggingConfig)")
            else:
                add(r, _join("/aws/lambda/", {"Ref": r.logical_id}), "Lambda")
        elif r.type == "AWS::Serverless::Application":
            function_name = (p.get("Parameters") or {}).get("functionName")
            if function_name is not None:
                add(r, _join("/aws/lambda/", function_name), "the application's Lambda function")
        elif r.type == "AWS::ApiGateway::Stage":
            levels = {str(m.get("LoggingLevel", "OFF")).upper() for m in p.get("MethodSettings") or []}
            if levels - {"OFF"}:
                add(r, _join("API-Gateway-Execution-Logs_", p.get("RestApiId"), "/", p.get("StageName")),
                    "API Gateway execution logging")
        elif r.type == "AWS::RDS::DBCluster":
            # RDS keeps identifiers in lower case, and names the log group after that.
            for log in p.get("EnableCloudwatchLogsExports") or []:
                add(r, _join("/aws/rds/cluster/", {"Ref": r.logical_id}, f"/{log}"), "RDS log export", lower=True)
        elif r.type == "AWS::EKS::Cluster":
            if ((p.get("Logging") or {}).get("ClusterLogging") or {}).get("EnabledTypes"):
                add(r, _join("/aws/eks/", {"Ref": r.logical_id}, "/cluster"), "EKS control-plane logging")
        elif r.type == "AWS::EKS::Addon" and p.get("AddonName") == "amazon-cloudwatch-observability":
            for kind in CONTAINER_INSIGHTS:
                add(r, _join("/aws/containerinsights/", p.get("ClusterName"), f"/{kind}"), "Container Insights")
        elif r.type == "AWS::EC2::FlowLog" and p.get("LogDestinationType", "cloud-watch-logs") == "cloud-watch-logs":
            if "LogGroupName" in p:
                add(r, p["LogGroupName"], "VPC flow logs")
    return out


def _auto_deleted_buckets(assembly: Assembly) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for r in assembly.resources("Custom::S3AutoDeleteObjects"):
        t = assembly.target(r.stack, r.properties.get("BucketName"))
        if t:
            out.add((t.stack, t.logical_id))
    return out


@dataclass(frozen=True)
class Cleanup:
    """A ``Custom::NetworkInterfaceCleanup`` as its template describes it (the handler's properties)."""

    resource: Resource
    vpc: ResourceTarget | None
    groups: frozenset[ResourceTarget]  # SecurityGroupIds: waited for until no interface uses them
    cluster: Name  # ClusterName: whose leaked branch interfaces it deletes, and whose security group
    deletes_cluster_group: bool
    wait_minutes: float | None  # how long its delete may wait; None: it does not wait at all


def _group(assembly: Assembly, stack: str, value: Any) -> ResourceTarget | None:
    """A security group reference, as the resource and attribute it names (`GroupId` and `Ref` are one)."""
    t = assembly.target(stack, value)
    if t is None:
        return None
    owner = assembly.resource(t.stack, t.logical_id)
    if owner is not None and owner.type == "AWS::EC2::SecurityGroup" and t.attribute == "GroupId":
        return ResourceTarget(t.stack, t.logical_id)
    return t


def _vpc_of(assembly: Assembly, stack: str, value: Any) -> ResourceTarget | None:
    """The VPC a subnet or security group reference belongs to, or the VPC a `VpcId` names."""
    t = assembly.target(stack, value)
    r = assembly.resource(t.stack, t.logical_id) if t else None
    if r is None:
        return None
    if r.type == "AWS::EC2::VPC":
        return ResourceTarget(r.stack, r.logical_id)
    if r.type in ("AWS::EC2::Subnet", "AWS::EC2::SecurityGroup") and "VpcId" in r.properties:
        return _vpc_of(assembly, r.stack, r.properties["VpcId"])
    return None


def _waiter_minutes(assembly: Assembly, r: Resource) -> float | None:
    """How long the custom resource's provider keeps polling its isComplete handler before it gives up: the retries
    of the waiter state machine the provider framework's onEvent function starts, capped by ``ServiceTimeout``."""
    t = assembly.target(r.stack, r.properties.get("ServiceToken"))
    framework = assembly.resource(t.stack, t.logical_id) if t else None
    if framework is None or framework.type != "AWS::Lambda::Function":
        return None
    variables = (framework.properties.get("Environment") or {}).get("Variables") or {}
    t = assembly.target(framework.stack, variables.get("WAITER_STATE_MACHINE_ARN"))
    machine = assembly.resource(t.stack, t.logical_id) if t else None
    if machine is None or machine.type != "AWS::StepFunctions::StateMachine":
        return None
    try:
        definition = parse_json_with_tokens(machine.properties.get("DefinitionString"))
    except (ValueError, TypeError):
        return None
    seconds = 0.0
    for state in (definition.get("States") or {}).values():
        for retry in state.get("Retry") or []:
            interval = float(retry.get("IntervalSeconds", 1))
            rate = float(retry.get("BackoffRate", 2))
            attempts = int(retry.get("MaxAttempts", 3))
            seconds = max(seconds, sum(interval * rate ** i for i in range(attempts)))
    limit = float(assembly.literal(r.stack, r.properties.get("ServiceTimeout"))
                  or CUSTOM_RESOURCE_TIMEOUT_SECONDS)
    return min(seconds, limit) / 60


def _cleanups(assembly: Assembly) -> list[Cleanup]:
    out = []
    for r in assembly.resources(ENI_CLEANUP):
        p = r.properties
        groups = frozenset(g for ref in p.get("SecurityGroupIds") or [] if (g := _group(assembly, r.stack, ref)))
        out.append(Cleanup(resource=r, vpc=_vpc_of(assembly, r.stack, p.get("VpcId")), groups=groups,
                           cluster=name(assembly, r.stack, p.get("ClusterName")),
                           deletes_cluster_group=str(assembly.literal(r.stack, p.get("DeleteClusterSecurityGroup"))
                                                     ).lower() == "true",
                           wait_minutes=_waiter_minutes(assembly, r)))
    return out


def _waits_too_little(c: Cleanup) -> str | None:
    """Why the cleanup's delete gives up before Lambda has surely released a deleted function's interfaces (None when
    it waits long enough)."""
    if c.wait_minutes is not None and c.wait_minutes >= LAMBDA_ENI_RELEASE_MINUTES:
        return None
    waits = "does not wait" if c.wait_minutes is None else f"waits only {c.wait_minutes:.0f} min"
    return f"{waits} for them (Lambda takes up to {LAMBDA_ENI_RELEASE_MINUTES} min)"


def _cluster_group_release(assembly: Assembly, cleanups: list[Cleanup], fn: Resource,
                           cluster: Resource) -> tuple[bool, str]:
    """Whether the VPC function ``fn``'s interfaces, which hold ``cluster``'s security group, are released by a
    cleanup before the VPC goes; and why (or why not), for the plan."""
    subnets = (fn.properties.get("VpcConfig") or {}).get("SubnetIds") or []
    vpcs = {v for s in subnets if (v := _vpc_of(assembly, fn.stack, s)) is not None}
    cluster_name = resource_name(assembly, cluster.stack, cluster.logical_id)
    held = (f"its VPC network interfaces use the security group EKS created for {cluster.logical_id}; Lambda releases "
            f"them up to {LAMBDA_ENI_RELEASE_MINUTES} minutes after the function is deleted, so EKS cannot delete that "
            "group with the cluster and the VPC's deletion fails")
    mismatch: list[str] = []
    for c in cleanups:
        if not c.deletes_cluster_group or c.cluster != cluster_name:
            continue
        what = f"{c.resource.stack}/{c.resource.logical_id} ({ENI_CLEANUP})"
        if c.vpc is None or c.vpc not in vpcs:
            mismatch.append(f"{what} watches another VPC than the function's")
            continue
        late = [x.logical_id for x in (fn, cluster) if not assembly.deleted_after(x, c.resource)]
        if late:
            mismatch.append(f"{what} is not deleted after {' and '.join(late)} (nothing makes them depend on it), "
                            "so it may run before they are gone")
            continue
        if short := _waits_too_little(c):
            mismatch.append(f"{what} {short}")
            continue
        return True, (f"its VPC network interfaces hold the security group EKS created for {cluster.logical_id} "
                      f"for up to {LAMBDA_ENI_RELEASE_MINUTES} min after the function is deleted; {what}, deleted "
                      f"after the function and the cluster, waits up to {c.wait_minutes:.0f} min until no interface "
                      "in the VPC uses that group, then deletes it")
    return False, f"{held}: " + ("; ".join(mismatch) or (
        f"no {ENI_CLEANUP} deletes that group (one with ClusterName {cluster_name} and DeleteClusterSecurityGroup "
        "true)"))


# The parameters of a Serverless Application Repository application that put its Lambda function in a VPC, and the
# rotation applications' names for them (Secrets Manager's rotation templates: comma-separated lists).
APPLICATION_SECURITY_GROUPS = ("vpcSecurityGroupIds",)
APPLICATION_SUBNETS = ("vpcSubnetIds",)


def _list_parameter(value: Any) -> list[Any]:
    """The items of a comma-separated list parameter: a `Fn::Join` on ``,``, or one value."""
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        delimiter, parts = value["Fn::Join"]
        if delimiter == "," and isinstance(parts, list):
            return parts
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return [value] if value is not None else []


def _application_group_release(assembly: Assembly, cleanups: list[Cleanup], app: Resource,
                               group: Resource) -> tuple[bool, str]:
    """Whether the interfaces of the VPC function inside the application ``app``, which hold ``group`` (a security
    group the teardown deletes), are released by a cleanup before that group goes; and why (or why not)."""
    parameters = app.properties.get("Parameters") or {}
    vpcs = {v for key in APPLICATION_SUBNETS for s in _list_parameter(parameters.get(key))
            if (v := _vpc_of(assembly, app.stack, s)) is not None}
    vpcs |= {v for v in [_vpc_of(assembly, group.stack, {"Ref": group.logical_id})] if v is not None}
    target = ResourceTarget(group.stack, group.logical_id)
    held = (f"the Lambda function of this application runs in the VPC with security group {group.stack}/"
            f"{group.logical_id}, which the teardown deletes; Lambda releases the function's network interfaces up to "
            f"{LAMBDA_ENI_RELEASE_MINUTES} minutes after the application is deleted, and EC2 refuses to delete the "
            "group meanwhile (DependencyViolation)")
    mismatch: list[str] = []
    for c in cleanups:
        if target not in c.groups:
            continue
        what = f"{c.resource.stack}/{c.resource.logical_id} ({ENI_CLEANUP})"
        if c.vpc is None or c.vpc not in vpcs:
            mismatch.append(f"{what} watches another VPC than the function's")
            continue
        if not assembly.deleted_after(app, c.resource):
            mismatch.append(f"{what} is not deleted after {app.logical_id} (nothing makes it depend on it), so it may "
                            "run before the function is gone")
            continue
        if not assembly.deleted_after(c.resource, group):
            mismatch.append(f"{what} is not deleted before {group.logical_id}, so the group may go first")
            continue
        if short := _waits_too_little(c):
            mismatch.append(f"{what} {short}")
            continue
        return True, (f"the Lambda function of this application holds security group {group.logical_id} for up to "
                      f"{LAMBDA_ENI_RELEASE_MINUTES} min after it is deleted; {what}, deleted after the application "
                      f"and before the group, waits up to {c.wait_minutes:.0f} min until no interface in the VPC uses "
                      "it")
    return False, f"{held}: " + ("; ".join(mismatch) or f"no {ENI_CLEANUP} watches that group")


def _branch_interface_release(assembly: Assembly, cleanups: list[Cleanup], sgp: KubernetesObject,
                              groups: set[ResourceTarget], users: list[KubernetesObject]) -> str | None:
    """Which cleanup releases the branch interfaces of the pods ``sgp`` gives ``groups``: one that watches those
    groups in their VPC for the cluster the manifests go to, deleted after the workloads (None if none does)."""
    cluster = name(assembly, sgp.resource.stack, sgp.resource.properties.get("ClusterName"))
    vpcs = {_vpc_of(assembly, g.stack, {"Ref": g.logical_id}) for g in groups}
    for c in cleanups:
        if (groups and groups <= c.groups and c.cluster == cluster and c.vpc in vpcs and c.wait_minutes is not None
                and all(assembly.deleted_after(u.resource, c.resource) for u in (sgp, *users))):
            return (f"{c.resource.stack}/{c.resource.logical_id} ({ENI_CLEANUP}), deleted after the workloads, "
                    f"deletes those the cluster leaves detached and waits up to {c.wait_minutes:.0f} min for the "
                    "rest, so the security groups and the VPC can go")
    return None


def plan(assembly: Assembly, config: EnvironmentConfig) -> Plan:
    order = list(reversed(assembly.stack_order()))
    existing = log_groups(assembly)
    auto_deleted = _auto_deleted_buckets(assembly)
    cleanups = _cleanups(assembly)
    stacks: list[StackPlan] = []
    hazards: list[Leftover] = []
    create_leftovers: list[Leftover] = []
    for stack in order:
        s = assembly.stacks[stack]
        sp = StackPlan(stack, len(s.resources))
        if s.termination_protection:
            sp.blockers.append(Leftover(stack, "the whole stack", "termination protection is on: cdk destroy refuses"))
        for r in s.resources.values():
            named = fixed_name(assembly, r)
            label = f"{r.logical_id} ({r.type}{f', {named}' if named else ''})"
            if r.type in IN_CLUSTER and r.deletion_policy in RETAINED:
                sp.handled.append(Leftover(stack, label, f"DeletionPolicy {r.deletion_policy} keeps the object in "
                                                         "the cluster, which the teardown deletes with it"))
            elif r.deletion_policy == "Retain":
                create_leftovers.append(Leftover(stack, label, "DeletionPolicy Retain keeps it even when the create "
                                                               "that made it rolls back; RetainExceptOnCreate deletes "
                                                               "it then and retains it afterwards"))
            if r.deletion_policy in RETAINED and r.type not in IN_CLUSTER:
                sp.retained.append(Leftover(stack, label, f"DeletionPolicy {r.deletion_policy}"))
                if named and not s.termination_protection:
                    hazards.append(Leftover(stack, f"{r.logical_id} ({r.type} {named})",
                                            "retained with a fixed name in a stack without termination protection: "
                                            "creating the stack again fails with 'already exists'"))
            elif r.deletion_policy == "Snapshot":
                sp.retained.append(Leftover(stack, f"a final snapshot of {label}", "DeletionPolicy Snapshot"))
            setting = protected(r)
            if setting and r.deletion_policy not in RETAINED:
                sp.blockers.append(Leftover(stack, label, f"{setting}: its deletion fails"))
            if (r.type == "AWS::S3::Bucket" and r.deletion_policy == "Delete"
                    and (r.stack, r.logical_id) not in auto_deleted):
                sp.blockers.append(Leftover(stack, label, "no auto-delete of its objects: CloudFormation cannot "
                                                          "delete a bucket that is not empty"))
            if r.type == "AWS::Lambda::Function":
                for ref in (r.properties.get("VpcConfig") or {}).get("SecurityGroupIds") or []:
                    t = assembly.target(stack, ref)
                    owner = assembly.resource(t.stack, t.logical_id) if t else None
                    if owner is not None and owner.type == "AWS::EKS::Cluster":
                        released, why = _cluster_group_release(assembly, cleanups, r, owner)
                        (sp.handled if released else sp.blockers).append(Leftover(stack, label, why,
                                                                                  accidental=True))
            if r.type == "AWS::Serverless::Application":
                parameters = r.properties.get("Parameters") or {}
                for ref in (g for key in APPLICATION_SECURITY_GROUPS for g in _list_parameter(parameters.get(key))):
                    group = _group(assembly, stack, ref)
                    owner = assembly.resource(group.stack, group.logical_id) if group else None
                    if group is None or owner is None or owner.type != "AWS::EC2::SecurityGroup" \
                            or owner.deletion_policy in RETAINED:
                        continue
                    released, why = _application_group_release(assembly, cleanups, r, owner)
                    (sp.handled if released else sp.blockers).append(Leftover(stack, label, why, accidental=True))
        for g in service_log_groups(assembly, stack):
            if g.name not in existing:
                sp.created_outside.append(Leftover(stack, f"log group {g.name}",
                                                   f"{g.service} of {g.resource.logical_id} creates it; no LogGroup "
                                                   "resource pre-creates it"))
        for sgp in assembly.objects("SecurityGroupPolicy"):
            if sgp.resource.stack != stack:
                continue
            ids = ((sgp.manifest.get("spec") or {}).get("securityGroups") or {}).get("groupIds") or []
            groups = {t for i in ids if (t := _group(assembly, stack, i)) is not None}
            users = [o for o in assembly.objects("Deployment", "StatefulSet", "DaemonSet")
                     if o.namespace == sgp.namespace]
            what = f"branch network interfaces of the pods {sgp.ref} gives their own security group"
            releaser = _branch_interface_release(assembly, cleanups, sgp, groups, users)
            if releaser:
                sp.handled.append(Leftover(stack, what, releaser))
            else:
                sp.blockers.append(Leftover(stack, what, "deleted by the VPC resource controller after the pods go; "
                                                         "nothing deleted after the workloads waits for that, so if "
                                                         "the cluster goes first they remain and hold those security "
                                                         "groups and the VPC", accidental=True))
        stacks.append(sp)
    return Plan(config.name, config.removal, stacks, hazards, create_leftovers, all_uses(assembly, IN_CLUSTER))


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    p = plan(assembly, config)
    findings: list[Finding] = []
    if config.removal == RemovalMode.DESTROY:
        findings += [Finding(f"{x.stack}: {x.what}", f"survives cdk destroy in {config.name} (removal: destroy): "
                                                     f"{x.why}") for x in p.survivors()]
    else:
        findings += [Finding(f"{x.stack}: {x.what}", f"fails the deletion of {x.stack} in {config.name} (removal: "
                                                     f"{config.removal.value} keeps the data, not this): {x.why}")
                     for x in p.accidental_blockers()]
    findings += [Finding(f"{h.stack}: {h.what}", h.why) for h in p.replace_hazards]
    findings += [Finding(f"{x.stack}: {x.what}", x.why) for x in p.create_leftovers]
    for u in p.failing_uses():
        kept = ("its final snapshot is kept (DeletionPolicy Snapshot)" if u.kept.deletion_policy == "Snapshot"
                else f"kept by the teardown (DeletionPolicy {u.kept.deletion_policy})")
        consequence = (f"deleting it fails, and with it {u.used.stack} (DELETE_FAILED)" if u.verdict == "blocks"
                       else "the kept data is lost to it")
        findings.append(Finding(f"{u.kept.stack}: {u.kept.logical_id} ({u.kept.type})",
                                f"{kept}, but its {u.where} uses {u.used.stack}/{u.used.logical_id} ({u.used.type}), "
                                f"which the teardown deletes: {u.why}; {consequence}"))
    survivors = p.survivors()
    figure = (f"{len(p.stacks)} stacks, {len(survivors)} left behind"
              + (f" (removal {config.removal.value})" if config.removal != RemovalMode.DESTROY else ""))
    return CheckResult(NAME, config.name, figure, findings, p.lines())


def main(argv: list[str] | None = None) -> int:
    """`make teardown-plan ENV=dev`: print the plan; exit 1 when the teardown check fails."""
    from tools.reports.preflight.runner import load_assembly

    parser = argparse.ArgumentParser(prog="python -m tools.reports.preflight.teardown", description=main.__doc__)
    parser.add_argument("--env", help="environment (default: dev, or the one --assembly holds)")
    parser.add_argument("--assembly", type=Path, help="read this cloud assembly instead of synthesizing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="preflight.") as workdir:
        assembly, config = load_assembly(args.env or (None if args.assembly else "dev"), args.assembly,
                                         Path(workdir))
        result = check(assembly, config)
    print("\n".join(result.details))
    print(result.line())
    for f in result.findings:
        print(f"  - {f}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
