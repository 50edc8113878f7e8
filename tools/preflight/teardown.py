"""Teardown: what `cdk destroy` leaves behind, read from the templates, and in which order it deletes.

``cdk destroy --all`` deletes the stacks one at a time in reverse dependency order. What survives:
- resources with ``DeletionPolicy`` Retain or RetainExceptOnCreate, and the final snapshot of Snapshot ones;
- resources AWS services create outside CloudFormation for the app's resources unless the app creates them first:
  the log groups of Lambda functions (``/aws/lambda/<name>``, custom-resource providers and the rotation application
  included), API Gateway execution logs (``API-Gateway-Execution-Logs_<api id>/<stage>``), RDS log exports
  (``/aws/rds/cluster/<id>/<log>``), EKS control-plane logs (``/aws/eks/<cluster>/cluster``), Container Insights
  (``/aws/containerinsights/<cluster>/<kind>``) and flow logs;
- everything in a stack whose deletion fails: termination protection, deletion protection (RDS, Cognito, DynamoDB),
  an S3 bucket that still holds objects (no auto-delete), a VPC Lambda function whose network interfaces hold the
  security group EKS created for the cluster (EKS cannot delete the group, and the VPC's deletion then fails).

The check fails where the config says ``removal: destroy`` and anything survives; in every environment it fails for
a retained resource with a fixed name in a stack that is not termination-protected (the stack can be deleted and
created again, and the create then fails: "already exists").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.environment import EnvironmentConfig, RemovalMode
from tools.preflight.assembly import NAME_PROPERTY, Assembly, Resource
from tools.preflight.model import CheckResult, Finding

NAME = "teardown"
RETAINED = ("Retain", "RetainExceptOnCreate")
DELETION_PROTECTION = {
    "AWS::RDS::DBCluster": ("DeletionProtection", (True, "true")),
    "AWS::RDS::DBInstance": ("DeletionProtection", (True, "true")),
    "AWS::Cognito::UserPool": ("DeletionProtection", ("ACTIVE",)),
    "AWS::DynamoDB::Table": ("DeletionProtectionEnabled", (True, "true")),
    "AWS::DynamoDB::GlobalTable": ("DeletionProtectionEnabled", (True, "true")),
}
CONTAINER_INSIGHTS = ("application", "dataplane", "host", "performance")


@dataclass(frozen=True)
class Leftover:
    stack: str
    what: str  # how the plan names it
    why: str


@dataclass
class StackPlan:
    name: str
    resources: int
    retained: list[Leftover] = field(default_factory=list)
    created_outside: list[Leftover] = field(default_factory=list)
    blockers: list[Leftover] = field(default_factory=list)
    cautions: list[Leftover] = field(default_factory=list)


@dataclass
class Plan:
    environment: str
    removal: RemovalMode
    stacks: list[StackPlan]
    replace_hazards: list[Leftover]

    def survivors(self) -> list[Leftover]:
        return [x for s in self.stacks for x in (*s.retained, *s.created_outside, *s.blockers)]

    def lines(self) -> list[str]:
        out = [f"Teardown plan for {self.environment} (removal: {self.removal.value}). `cdk destroy --all` deletes "
               "the stacks one at a time, in this order:"]
        for i, s in enumerate(self.stacks, 1):
            out.append(f"{i:>2}. {s.name} ({s.resources} resources)")
            for label, items in (("survives", s.retained), ("created outside CloudFormation, survives",
                                                            s.created_outside),
                                 ("blocks deletion", s.blockers), ("caution", s.cautions)):
                out += [f"      {label}: {x.what} -- {x.why}" for x in items]
        survivors = self.survivors()
        out.append(f"Left behind: {len(survivors)}" + ("" if survivors else " (nothing)"))
        for h in self.replace_hazards:
            out.append(f"Recreate hazard: {h.stack}: {h.what} -- {h.why}")
        return out


def render(assembly: Assembly, stack: str, value: Any) -> str:
    """A physical name as text: literals and explicit names as they are, generated names as `{stack/id}`."""
    literal = assembly.literal(stack, value)
    if literal is not None:
        return literal
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Fn::Join":
            return str(arg[0]).join(render(assembly, stack, p) for p in arg[1])
        if fn in ("Ref", "Fn::GetAtt", "Fn::ImportValue", "Fn::GetStackOutput"):
            t = assembly.target(stack, value)
            if t is not None:
                return f"{{{t.stack}/{t.logical_id}{'.' + t.attribute if t.attribute else ''}}}"
    return "{deploy-time value}"


def fixed_name(assembly: Assembly, r: Resource) -> str | None:
    """The resource's physical name when the template fixes it (the same on every create), else None."""
    prop = NAME_PROPERTY.get(r.type)
    if prop is None or prop not in r.properties:
        return None
    name = render(assembly, r.stack, r.properties[prop])
    return None if "{" in name else name


def _log_groups(assembly: Assembly) -> set[str]:
    """Names of the log groups the templates create, rendered as :func:`render` renders a reference to them."""
    names = set()
    for r in assembly.resources("AWS::Logs::LogGroup"):
        names.add(f"{{{r.stack}/{r.logical_id}}}")
        if "LogGroupName" in r.properties:
            names.add(render(assembly, r.stack, r.properties["LogGroupName"]))
    return names


def _service_log_groups(assembly: Assembly, stack: str) -> list[tuple[Resource, str, str]]:
    """(resource, log group name, which service creates it) for everything that logs outside CloudFormation."""
    out: list[tuple[Resource, str, str]] = []
    for r in assembly.stacks[stack].resources.values():
        p = r.properties
        if r.type == "AWS::Lambda::Function":
            configured = (p.get("LoggingConfig") or {}).get("LogGroup")
            if configured is not None:
                out.append((r, render(assembly, stack, configured), "Lambda (LoggingConfig)"))
            else:
                fn = render(assembly, stack, {"Ref": r.logical_id})
                out.append((r, f"/aws/lambda/{fn}", "Lambda"))
        elif r.type == "AWS::Serverless::Application":
            function_name = (p.get("Parameters") or {}).get("functionName")
            if function_name is not None:
                out.append((r, f"/aws/lambda/{render(assembly, stack, function_name)}",
                            "the application's Lambda function"))
        elif r.type == "AWS::ApiGateway::Stage":
            levels = {str(m.get("LoggingLevel", "OFF")).upper() for m in p.get("MethodSettings") or []}
            if levels - {"OFF"}:
                api = render(assembly, stack, p.get("RestApiId"))
                out.append((r, f"API-Gateway-Execution-Logs_{api}/{render(assembly, stack, p.get('StageName'))}",
                            "API Gateway execution logging"))
        elif r.type == "AWS::RDS::DBCluster":
            ident = render(assembly, stack, {"Ref": r.logical_id})
            out += [(r, f"/aws/rds/cluster/{ident}/{log}", "RDS log export")
                    for log in p.get("EnableCloudwatchLogsExports") or []]
        elif r.type == "AWS::EKS::Cluster":
            if ((p.get("Logging") or {}).get("ClusterLogging") or {}).get("EnabledTypes"):
                name = render(assembly, stack, {"Ref": r.logical_id})
                out.append((r, f"/aws/eks/{name}/cluster", "EKS control-plane logging"))
        elif r.type == "AWS::EKS::Addon" and p.get("AddonName") == "amazon-cloudwatch-observability":
            cluster = render(assembly, stack, p.get("ClusterName"))
            out += [(r, f"/aws/containerinsights/{cluster}/{kind}", "Container Insights")
                    for kind in CONTAINER_INSIGHTS]
        elif r.type == "AWS::EC2::FlowLog" and p.get("LogDestinationType", "cloud-watch-logs") == "cloud-watch-logs":
            if "LogGroupName" in p:
                out.append((r, render(assembly, stack, p["LogGroupName"]), "VPC flow logs"))
    return out


def _auto_deleted_buckets(assembly: Assembly) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for r in assembly.resources("Custom::S3AutoDeleteObjects"):
        t = assembly.target(r.stack, r.properties.get("BucketName"))
        if t:
            out.add((t.stack, t.logical_id))
    return out


def plan(assembly: Assembly, config: EnvironmentConfig) -> Plan:
    order = list(reversed(assembly.stack_order()))
    existing = _log_groups(assembly)
    auto_deleted = _auto_deleted_buckets(assembly)
    stacks: list[StackPlan] = []
    hazards: list[Leftover] = []
    for name in order:
        s = assembly.stacks[name]
        sp = StackPlan(name, len(s.resources))
        if s.termination_protection:
            sp.blockers.append(Leftover(name, "the whole stack", "termination protection is on: cdk destroy refuses"))
        for r in s.resources.values():
            label = f"{r.logical_id} ({r.type}{', ' + n if (n := fixed_name(assembly, r)) else ''})"
            if r.deletion_policy in RETAINED:
                sp.retained.append(Leftover(name, label, f"DeletionPolicy {r.deletion_policy}"))
                named = fixed_name(assembly, r)
                if named and not s.termination_protection:
                    hazards.append(Leftover(name, f"{r.logical_id} ({r.type} {named})",
                                            "retained with a fixed name in a stack without termination protection: "
                                            "creating the stack again fails with 'already exists'"))
            elif r.deletion_policy == "Snapshot":
                sp.retained.append(Leftover(name, f"a final snapshot of {label}", "DeletionPolicy Snapshot"))
            protection = DELETION_PROTECTION.get(r.type)
            if protection and r.properties.get(protection[0]) in protection[1]:
                sp.blockers.append(Leftover(name, label, f"{protection[0]} is on: its deletion fails"))
            if (r.type == "AWS::S3::Bucket" and r.deletion_policy == "Delete"
                    and (r.stack, r.logical_id) not in auto_deleted):
                sp.blockers.append(Leftover(name, label, "no auto-delete of its objects: CloudFormation cannot "
                                                         "delete a bucket that is not empty"))
            if r.type == "AWS::Lambda::Function":
                for ref in (r.properties.get("VpcConfig") or {}).get("SecurityGroupIds") or []:
                    t = assembly.target(name, ref)
                    owner = assembly.resource(t.stack, t.logical_id) if t else None
                    if owner is not None and owner.type == "AWS::EKS::Cluster":
                        sp.blockers.append(Leftover(
                            name, label, "its VPC network interfaces use the security group EKS created for "
                                         f"{owner.logical_id}; Lambda releases them minutes after the function is "
                                         "deleted, so EKS cannot delete that group and the VPC's deletion fails"))
        for r, log_group, service in _service_log_groups(assembly, name):
            if log_group not in existing:
                sp.created_outside.append(Leftover(name, f"log group {log_group}",
                                                   f"{service} of {r.logical_id} creates it; no LogGroup resource "
                                                   "pre-creates it"))
        if name in {o.resource.stack for o in assembly.objects("SecurityGroupPolicy")}:
            sp.cautions.append(Leftover(name, "branch network interfaces of pods with their own security group",
                                        "deleted by the VPC resource controller after the pods go; if the cluster "
                                        "is deleted first they remain and hold those security groups and the VPC"))
        stacks.append(sp)
    return Plan(config.name, config.removal, stacks, hazards)


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    p = plan(assembly, config)
    findings: list[Finding] = []
    if config.removal == RemovalMode.DESTROY:
        findings += [Finding(f"{x.stack}: {x.what}", f"survives cdk destroy in {config.name} (removal: destroy): "
                                                     f"{x.why}") for x in p.survivors()]
    findings += [Finding(f"{h.stack}: {h.what}", h.why) for h in p.replace_hazards]
    survivors = p.survivors()
    figure = (f"{len(p.stacks)} stacks, {len(survivors)} left behind"
              + (f" (removal {config.removal.value})" if config.removal != RemovalMode.DESTROY else ""))
    return CheckResult(NAME, config.name, figure, findings, p.lines())


def main(argv: list[str] | None = None) -> int:
    """`make teardown-plan ENV=dev`: print the plan; exit 1 when the teardown check fails."""
    from tools.preflight.runner import load_assembly

    parser = argparse.ArgumentParser(prog="python -m tools.preflight.teardown", description=main.__doc__)
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
