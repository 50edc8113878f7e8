"""Immutable fields: a Kubernetes field that cannot change, fed by a CloudFormation resource that a change can replace,
sits in an object whose name follows that resource, so a replacement creates a new object instead of changing the
field.

The AWS Load Balancer Controller's webhook refuses an update of a ``TargetGroupBinding``'s ``spec.targetGroupARN``,
``spec.targetType``, ``spec.ipAddressType`` or ``spec.vpcID`` ("TargetGroupBinding update may not change these
immutable fields", ``webhooks/elbv2/targetgroupbinding_validator.go``), and refuses a second binding of a bound target
group. A target group is replaced by giving it a new logical id (the cross-stack export of its ARN fails any
replacement under the same one: docs/deploying.md, "Changes that replace a resource other stacks use"): its binding
must then be a new object, named after the new group, which kubectl creates while the old binding (and the old group)
go. So every binding records the logical id of the group it is bound to (annotation
:data:`cdk_constructs.workload_manifests.TARGET_GROUP_ANNOTATION`) and is named by
:func:`cdk_constructs.workload_manifests.target_group_binding_name` from it; the check fails a binding that does not,
or whose record is not the group its ARN names.
"""

from __future__ import annotations

from typing import Any

from cdk_constructs.workload_manifests import TARGET_GROUP_ANNOTATION, target_group_binding_name
from config.environment import EnvironmentConfig
from tools.assembly import Assembly
from tools.reports.preflight.model import CheckResult, Finding

NAME = "immutable-fields"
IMMUTABLE = {"TargetGroupBinding": ("spec.targetGroupARN", "spec.targetType", "spec.ipAddressType", "spec.vpcID")}


def _field(manifest: dict[str, Any], path: str) -> Any:
    node: Any = manifest
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    findings: list[Finding] = []
    fed = 0
    for o in assembly.objects(*IMMUTABLE):
        annotations = (o.manifest.get("metadata") or {}).get("annotations") or {}
        for path in IMMUTABLE[o.kind]:
            t = assembly.target(o.resource.stack, _field(o.manifest, path))
            source = assembly.resource(t.stack, t.logical_id) if t else None
            if source is None:
                continue
            fed += 1
            expected = target_group_binding_name(o.namespace, source.logical_id)
            recorded = annotations.get(TARGET_GROUP_ANNOTATION)
            if recorded != source.logical_id or o.name != expected:
                findings.append(Finding(o.ref, f"{path} (immutable) comes from {source.name}; a change that "
                                               f"replaces it cannot roll through, since the binding keeps its name "
                                               f"and the controller refuses the new value: name it "
                                               f"{expected!r} after the group and record "
                                               f"{TARGET_GROUP_ANNOTATION}: {source.logical_id} (it records "
                                               f"{recorded!r})"))
    figure = f"{fed} immutable fields fed by the templates' resources"
    return CheckResult(NAME, config.name, figure, findings)
