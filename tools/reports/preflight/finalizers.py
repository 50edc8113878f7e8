"""Finalizers: what a Kubernetes object's finalizer needs to run is deleted after the object.

A ``TargetGroupBinding`` carries the AWS Load Balancer Controller's finalizer (``elbv2.k8s.aws/resources``): when it
is deleted the controller deregisters the binding's targets and only then removes the finalizer
(aws-load-balancer-controller ``pkg/targetgroupbinding/resource_manager.go``, ``Cleanup``; an AccessDenied keeps the
finalizer, only a target group that no longer exists lets it go). The kubectl handler's ``kubectl delete`` waits for
the finalizer, up to the Lambda function's 15 minutes, and the custom resource then fails its deletion
(DELETE_FAILED, on a teardown or on the rollback of a failed first deploy).

So for every binding, each IAM policy that lets the controller deregister targets of its target group
(``elasticloadbalancing:DeregisterTargets`` on that target group) must be deleted after the binding's manifest: a
``DependsOn`` (or reference) from the manifest to the policy in the same stack, or the policy in a stack the
manifest's stack depends on. Without any such policy the controller cannot deregister at all.
"""

from __future__ import annotations

from typing import Any

from config.environment import EnvironmentConfig
from tools.assembly import Assembly, Resource
from tools.reports.preflight.model import CheckResult, Finding

NAME = "finalizers"
POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
DEREGISTER = "elasticloadbalancing:DeregisterTargets"


def _actions(statement: dict[str, Any]) -> set[str]:
    raw = statement.get("Action") or []
    return {str(a).lower() for a in (raw if isinstance(raw, list) else [raw])}


def _allows_deregister(actions: set[str]) -> bool:
    return bool({DEREGISTER.lower(), "elasticloadbalancing:*", "*"} & actions)


def deregistering_policies(assembly: Assembly, target_group: Resource) -> list[tuple[Resource, bool]]:
    """The policies granting DeregisterTargets on the target group, each with whether it names the group itself
    (False: a wildcard resource)."""
    out = []
    for p in assembly.resources(*POLICY_TYPES):
        for s in (p.properties.get("PolicyDocument") or {}).get("Statement") or []:
            if s.get("Effect") != "Allow" or not _allows_deregister(_actions(s)):
                continue
            raw = s.get("Resource")
            resources = raw if isinstance(raw, list) else [raw]
            names_it = any((t := assembly.target(p.stack, r)) is not None
                           and (t.stack, t.logical_id) == (target_group.stack, target_group.logical_id)
                           for r in resources)
            if names_it or "*" in resources:
                out.append((p, names_it))
                break
    return out


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    findings: list[Finding] = []
    bindings = assembly.objects("TargetGroupBinding")
    for tgb in bindings:
        t = assembly.target(tgb.resource.stack, (tgb.manifest.get("spec") or {}).get("targetGroupARN"))
        tg = assembly.resource(t.stack, t.logical_id) if t else None
        if tg is None:
            continue  # the reachability check names a binding whose target group is not in the assembly
        policies = deregistering_policies(assembly, tg)
        if not policies:
            findings.append(Finding(tgb.ref, f"no IAM policy of the assembly lets the Load Balancer Controller "
                                             f"deregister targets of {tg.logical_id}: its finalizer never completes"))
        for policy, _ in policies:
            if not assembly.deleted_after(tgb.resource, policy):
                findings.append(Finding(tgb.ref, f"{policy.name} lets the Load Balancer Controller deregister the "
                                                 f"binding's targets, but nothing makes {tgb.resource.logical_id} "
                                                 "depend on it: CloudFormation may delete it first on a teardown or "
                                                 "rollback, the finalizer then fails with AccessDenied and the "
                                                 "manifest's deletion hangs until the kubectl handler times out "
                                                 "(DELETE_FAILED)"))
    figure = f"{len(bindings)} target group bindings"
    return CheckResult(NAME, config.name, figure, findings)
