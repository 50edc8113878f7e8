"""What a resource the teardown keeps needs of what it deletes.

``cdk destroy`` keeps every resource whose ``DeletionPolicy`` is ``Retain`` or ``RetainExceptOnCreate`` (and a final
snapshot of each ``Snapshot`` one) and deletes everything else. A kept resource may still use a deleted one:

- **blocks**: the deletion fails while the kept resource uses it, so the stack ends ``DELETE_FAILED`` and every stack
  it depends on after it (:data:`BLOCKS`): EC2 refuses to delete a security group, subnet or VPC that a network
  interface, a rule or a subnet of the kept resource still uses (``DependencyViolation``); RDS refuses to delete a
  subnet group or parameter group a DB cluster or instance uses, and a cluster that still has instances; EKS refuses
  to delete a cluster that still has node groups;
- **loses**: the deletion succeeds but leaves the kept resource (or a kept snapshot) unusable (:data:`LOSES`): data
  encrypted under a KMS key that is then deleted cannot be read again, and a database whose master secret is deleted
  keeps a password nobody has;
- anything else cannot stop the deletion nor the kept resource (a role it calls with, a topic in a key policy's
  condition, and any reference that only writes text: a log group named after a function or cluster): listed in
  the plan, never a failure.

A reference is any ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` (a dynamic reference such as ``{{resolve:secretsmanager:...}}``
included), ``Fn::ImportValue`` or ``Fn::GetStackOutput`` in the kept resource's properties, followed across stacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tools.assembly import Assembly, Resource, ResourceTarget

KEPT = ("Retain", "RetainExceptOnCreate")
BLOCKS: dict[str, str] = {
    "AWS::EC2::SecurityGroup": "EC2 refuses to delete a security group that network interfaces or rules still use "
                               "(DependencyViolation)",
    "AWS::EC2::Subnet": "EC2 refuses to delete a subnet that still holds network interfaces (DependencyViolation)",
    "AWS::EC2::VPC": "EC2 refuses to delete a VPC that still holds subnets or security groups (DependencyViolation)",
    "AWS::RDS::DBSubnetGroup": "RDS refuses to delete a subnet group a DB cluster or instance uses",
    "AWS::RDS::DBClusterParameterGroup": "RDS refuses to delete a parameter group a DB cluster uses "
                                         "(InvalidDBParameterGroupState)",
    "AWS::RDS::DBParameterGroup": "RDS refuses to delete a parameter group a DB instance uses "
                                  "(InvalidDBParameterGroupState)",
    "AWS::RDS::OptionGroup": "RDS refuses to delete an option group a DB instance uses",
    "AWS::RDS::DBCluster": "RDS refuses to delete a DB cluster that still has instances",
    "AWS::EKS::Cluster": "EKS refuses to delete a cluster that still has node groups or add-ons (ResourceInUse)",
}
LOSES: dict[str, str] = {
    "AWS::KMS::Key": "what is encrypted under it can no longer be decrypted once the key is deleted",
    "AWS::SecretsManager::Secret": "the credentials it holds are gone once the secret is deleted",
}
# Only the key matters to a final snapshot: the snapshot is encrypted under the cluster's key.
SNAPSHOT_NEEDS = ("AWS::KMS::Key",)


@dataclass(frozen=True)
class Use:
    kept: Resource
    where: str  # the property path of the reference
    used: Resource
    verdict: str  # "blocks", "loses" or "harmless"
    why: str


def _intrinsics(node: Any, path: tuple[str, ...],
                text: bool = False) -> Iterator[tuple[tuple[str, ...], dict[str, Any], bool]]:
    """Each reference with its property path and whether it only builds text (a name or an ARN written out by
    ``Fn::Join``/``Fn::Sub``); a dynamic reference (``{{resolve:...}}``) is a use, not text."""
    if isinstance(node, dict):
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn in ("Ref", "Fn::GetAtt", "Fn::ImportValue", "Fn::GetStackOutput"):
                yield path, node, text
                return
            if fn == "Fn::Sub":
                template = str(arg[0] if isinstance(arg, list) else arg)
                inner = "{{resolve:" not in template
                for m in re.findall(r"\$\{([^}!]+)\}", template):
                    lid, _, attribute = m.partition(".")
                    yield path, ({"Fn::GetAtt": [lid, attribute]} if attribute else {"Ref": lid}), inner
                if isinstance(arg, list) and len(arg) > 1:
                    yield from _intrinsics(arg[1], path, inner)
                return
            if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
                literal = "".join(p for p in arg[1] if isinstance(p, str)) if isinstance(arg[1], list) else ""
                yield from _intrinsics(arg[1], path, "{{resolve:" not in literal)
                return
        for k, v in node.items():
            yield from _intrinsics(v, (*path, str(k)), text)
    elif isinstance(node, list):
        for v in node:
            yield from _intrinsics(v, path, text)


def deleted(r: Resource) -> bool:
    return r.deletion_policy not in KEPT


def uses(assembly: Assembly, kept: Resource) -> Iterator[Use]:
    """What ``kept`` (retained, or a Snapshot resource's final snapshot) refers to that the teardown deletes."""
    seen: set[tuple[str, ResourceTarget]] = set()
    for path, node, text in _intrinsics(kept.properties, ()):
        t = assembly.target(kept.stack, node)
        used = assembly.resource(t.stack, t.logical_id) if t else None
        if t is None or used is None or not deleted(used) or used is kept:
            continue
        where = ".".join(path) or "(properties)"
        key = (where, ResourceTarget(t.stack, t.logical_id))
        if key in seen:
            continue
        seen.add(key)
        if kept.deletion_policy == "Snapshot":
            if used.type in SNAPSHOT_NEEDS:
                yield Use(kept, where, used, "loses", f"its final snapshot is encrypted under it: {LOSES[used.type]}")
            continue
        if text:
            yield Use(kept, where, used, "harmless", "only written into text (a name or an ARN), never used")
        elif used.type in BLOCKS:
            yield Use(kept, where, used, "blocks", BLOCKS[used.type])
        elif used.type in LOSES:
            yield Use(kept, where, used, "loses", LOSES[used.type])
        else:
            yield Use(kept, where, used, "harmless", "cannot block the deletion nor the kept resource")


def all_uses(assembly: Assembly, skip: tuple[str, ...] = ()) -> list[Use]:
    """Every use of a deleted resource by a kept one (or by a Snapshot resource's final snapshot)."""
    return [u for r in assembly.resources()
            if r.type not in skip and (r.deletion_policy in KEPT or r.deletion_policy == "Snapshot")
            for u in uses(assembly, r)]
