"""Deletion protection on a resource CloudFormation may have to delete.

A protected resource refuses every deletion, CloudFormation's included: the RDS API answers "Cannot delete protected
Cluster, please disable deletion protection and try again", DynamoDB and Cognito refuse likewise, and so does an
Elastic Load Balancer with ``deletion_protection.enabled`` ("you can't delete the load balancer while deletion
protection is enabled": Elastic Load Balancing user guide). CloudFormation deletes a resource

- whose ``DeletionPolicy`` is ``Delete`` (the default) or ``Snapshot``: when the stack is deleted (``cdk destroy``),
  when the resource leaves the template, and when the create that made it rolls back;
- whose ``DeletionPolicy`` is ``RetainExceptOnCreate``: only when the create that made it rolls back
  ("RetainExceptOnCreate behaves like Retain for stack operations, except for the stack operation that initially
  created the resource": CloudFormation user guide, DeletionPolicy attribute).

So protection there turns a failed first create into ``ROLLBACK_FAILED`` (the stack can then only be deleted, by hand,
after the protection is turned off) and, with ``Delete`` or ``Snapshot``, the teardown into ``DELETE_FAILED``. The
check fails each such resource; a ``Retain`` resource is never deleted by CloudFormation and passes. Where an
environment keeps protection on purpose (prod's data), its config acknowledges the resource with the reason and the
recovery lives in docs/deploying.md.

Which properties are deletion protection comes from the CloudFormation resource provider schemas cfn-lint ships
(:data:`PROTECTIONS`; ``tests/preflight/test_deletion_protection.py`` fails when a schema gains one this table does not
know), plus the load balancer attribute, which no schema names as a property.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from config.environment import EnvironmentConfig
from tools.assembly import Assembly, Resource
from tools.reports.preflight.model import CheckResult, Finding

NAME = "deletion-protection"
ON = ("true",)


@dataclass(frozen=True)
class Protection:
    """Where a type keeps its deletion protection: ``path`` below ``Properties`` (``*`` for each item of a list), the
    values that turn it on (compared as lower-case text) and whether it is on when the template leaves it out."""

    path: tuple[str, ...]
    on: tuple[str, ...] = ON
    default_on: bool = False


# Resource type -> its deletion protection (every property the pinned schemas name so, see the module docstring).
PROTECTIONS: dict[str, Protection] = {
    "AWS::AutoScaling::AutoScalingGroup": Protection(("DeletionProtection",), ("prevent-all-deletion",)),
    "AWS::CloudTrail::Dashboard": Protection(("TerminationProtectionEnabled",)),
    "AWS::CloudTrail::EventDataStore": Protection(("TerminationProtectionEnabled",), default_on=True),
    "AWS::Cognito::UserPool": Protection(("DeletionProtection",), ("active",)),
    "AWS::DSQL::Cluster": Protection(("DeletionProtectionEnabled",)),
    "AWS::DocDB::DBCluster": Protection(("DeletionProtection",)),
    "AWS::DocDB::GlobalCluster": Protection(("DeletionProtection",)),
    "AWS::DynamoDB::GlobalTable": Protection(("Replicas", "*", "DeletionProtectionEnabled")),
    "AWS::DynamoDB::Table": Protection(("DeletionProtectionEnabled",)),
    "AWS::EC2::Instance": Protection(("DisableApiTermination",)),
    "AWS::ECS::Gateway": Protection(("DeletionProtection",), default_on=True),
    "AWS::EKS::Cluster": Protection(("DeletionProtection",)),
    "AWS::Logs::LogGroup": Protection(("DeletionProtectionEnabled",)),
    "AWS::Neptune::DBCluster": Protection(("DeletionProtection",)),
    "AWS::Neptune::GlobalCluster": Protection(("DeletionProtection",)),
    "AWS::NeptuneGraph::Graph": Protection(("DeletionProtection",), default_on=True),
    "AWS::OpenSearchServerless::Collection": Protection(("DeletionProtection",), ("enabled",)),
    "AWS::QLDB::Ledger": Protection(("DeletionProtection",), default_on=True),
    "AWS::RDS::DBCluster": Protection(("DeletionProtection",)),
    "AWS::RDS::DBInstance": Protection(("DeletionProtection",)),
    "AWS::RDS::GlobalCluster": Protection(("DeletionProtection",)),
    "AWS::SMSVOICE::NotifyConfiguration": Protection(("DeletionProtectionEnabled",)),
    "AWS::SMSVOICE::PhoneNumber": Protection(("DeletionProtectionEnabled",)),
    "AWS::SMSVOICE::Pool": Protection(("DeletionProtectionEnabled",)),
    "AWS::SMSVOICE::ProtectConfiguration": Protection(("DeletionProtectionEnabled",)),
    "AWS::SMSVOICE::RcsAgent": Protection(("DeletionProtectionEnabled",)),
    "AWS::SMSVOICE::SenderId": Protection(("DeletionProtectionEnabled",)),
    "AWS::VerifiedPermissions::PolicyStore": Protection(("DeletionProtection", "Mode"), ("enabled",)),
    "AWS::WellArchitected::AgentProfile": Protection(("DeletionProtection",)),
}
# Properties of the schemas named like deletion protection that protect something else than the resource itself.
NOT_THE_RESOURCE: dict[str, str] = {
    "AWS::AppConfig::ConfigurationProfile": "DeletionProtectionCheck: whether AppConfig checks recent use on delete",
    "AWS::AppConfig::Environment": "DeletionProtectionCheck: whether AppConfig checks recent use on delete",
    "AWS::Bedrock::DataSource": "DeletionProtectionConfiguration: protects the knowledge base's documents",
    "AWS::EC2::LaunchTemplate": "DisableApiTermination: applies to the instances launched from it",
    "AWS::ECS::CapacityProvider": "ManagedTerminationProtection: protects the group's instances running tasks",
}
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LOAD_BALANCER_ATTRIBUTE = "deletion_protection.enabled"


def _values(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
    """The values at ``path`` (``*`` steps into each list item); a missing key yields None once."""
    if not path:
        yield node
        return
    head, rest = path[0], path[1:]
    if head == "*":
        for item in node if isinstance(node, list) else []:
            yield from _values(item, rest)
    elif isinstance(node, dict):
        yield from _values(node.get(head), rest)
    else:
        yield None


def protected(r: Resource) -> str | None:
    """How the resource's template turns its deletion protection on, or None when it is off."""
    if r.type == LOAD_BALANCER:
        for attribute in r.properties.get("LoadBalancerAttributes") or []:
            if (attribute.get("Key") == LOAD_BALANCER_ATTRIBUTE
                    and str(attribute.get("Value")).lower() in ON):
                return f"LoadBalancerAttributes {LOAD_BALANCER_ATTRIBUTE}={attribute.get('Value')}"
        return None
    p = PROTECTIONS.get(r.type)
    if p is None:
        return None
    where = ".".join(p.path).replace(".*.", "[].")
    for value in _values(r.properties, p.path):
        if value is None and p.default_on:
            return f"{where} (on by default)"
        if value is not None and not isinstance(value, dict) and str(value).lower() in p.on:
            return f"{where}={value}"
    return None


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    findings: list[Finding] = []
    details: list[str] = []
    count = 0
    for r in assembly.resources():
        setting = protected(r)
        if setting is None:
            continue
        count += 1
        policy = r.deletion_policy
        if policy == "Retain":
            details.append(f"{r.name}: {setting}, DeletionPolicy Retain: CloudFormation never deletes it")
            continue
        if policy == "RetainExceptOnCreate":
            when = ("only when the create that made it rolls back, which its protection refuses: a failed first "
                    "create of the stack ends ROLLBACK_FAILED")
        else:
            when = ("when the stack is deleted, when it leaves the template and when the create that made it rolls "
                    "back, which its protection refuses: cdk destroy ends DELETE_FAILED, a failed create "
                    "ROLLBACK_FAILED")
        findings.append(Finding(r.name, f"{setting} with DeletionPolicy {policy}: CloudFormation deletes it {when}"))
    figure = f"{count} protected resources"
    return CheckResult(NAME, config.name, figure, findings, details)
