"""Custom resources that may run before their handler's permissions exist, or after they are gone.

CloudFormation invokes a custom resource's handler as soon as the resources it depends on are created, and deletes
it before those. An IAM policy attached to the handler's role by a resource of its own (``AWS::IAM::Policy``,
``AWS::IAM::ManagedPolicy`` or ``AWS::IAM::RolePolicy`` naming the role, or a managed policy of the template in the
role's ``ManagedPolicyArns``) is created in parallel with the custom resource unless the custom resource depends on
it: the handler's create then meets AccessDenied, and at deletion CloudFormation may detach the policy before the
delete handler runs ("IAM ... changes are eventually consistent": IAM user guide, and CloudFormation's own advice to
add ``DependsOn`` from the resource that uses a role to its policy: DependsOn attribute, "IAM role policy").

The check follows every ``Custom::*`` and ``AWS::CloudFormation::CustomResource`` to the function its
``ServiceToken`` names and, through the functions and state machines that function invokes (a provider framework's
``USER_ON_EVENT_FUNCTION_ARN``, ``USER_IS_COMPLETE_FUNCTION_ARN`` and waiter state machine), to every role that runs
its code; the custom resource must depend, directly or through other resources (or its stack on the policy's
stack), on every policy attached to those roles. A policy that belongs to another custom resource sharing the
handler (inside that resource's construct, as aws-cdk-lib's ``AwsCustomResource`` makes one per resource for its
singleton function) is that resource's concern.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.environment import EnvironmentConfig
from tools.assembly import Assembly, Resource, references
from tools.reports.preflight.model import CheckResult, Finding

NAME = "custom-resources"
POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy")
RUNS_CODE = {"AWS::Lambda::Function": "Role", "AWS::StepFunctions::StateMachine": "RoleArn"}


def is_custom_resource(r: Resource) -> bool:
    return r.type.startswith("Custom::") or r.type == "AWS::CloudFormation::CustomResource"


@dataclass(frozen=True)
class Handler:
    """What runs a custom resource's code: each function or state machine and the role it runs as."""

    runner: Resource
    role: Resource


def _resolve(assembly: Assembly, stack: str, value: object) -> Resource | None:
    t = assembly.target(stack, value)
    return assembly.resource(t.stack, t.logical_id) if t else None


def handlers(assembly: Assembly, cr: Resource) -> list[Handler]:
    """Every function and state machine the custom resource's service token leads to, with its role."""
    first = _resolve(assembly, cr.stack, cr.properties.get("ServiceToken"))
    out: list[Handler] = []
    seen: set[tuple[str, str]] = set()
    todo = [first] if first is not None else []
    while todo:
        r = todo.pop()
        if (r.stack, r.logical_id) in seen or r.type not in RUNS_CODE:
            continue
        seen.add((r.stack, r.logical_id))
        role = _resolve(assembly, r.stack, r.properties.get(RUNS_CODE[r.type]))
        if role is not None and role.type == "AWS::IAM::Role":
            out.append(Handler(r, role))
        if r.type == "AWS::Lambda::Function":
            variables = (r.properties.get("Environment") or {}).get("Variables") or {}
            todo += [x for v in variables.values() if (x := _resolve(assembly, r.stack, v)) is not None]
        else:
            todo += [x for lid in references(r.properties.get("DefinitionString"))
                     if (x := assembly.resource(r.stack, lid)) is not None]
    return out


def attached_policies(assembly: Assembly, role: Resource) -> list[Resource]:
    """The policies of the assembly attached to ``role`` by resources of their own."""
    out: list[Resource] = []
    for p in assembly.resources(*POLICY_TYPES):
        names = p.properties.get("Roles") or []
        if p.type == "AWS::IAM::RolePolicy":
            names = [p.properties.get("RoleName")]
        for value in names:
            t = assembly.target(p.stack, value)
            if t is not None and (t.stack, t.logical_id) == (role.stack, role.logical_id):
                out.append(p)
    for arn in role.properties.get("ManagedPolicyArns") or []:
        managed = _resolve(assembly, role.stack, arn)
        if managed is not None and managed.type == "AWS::IAM::ManagedPolicy" and managed not in out:
            out.append(managed)
    return out


def _owns(cr: Resource, policy: Resource) -> bool:
    """Whether ``policy`` lives inside the construct of the custom resource ``cr`` (its construct path without the
    L1's ``Resource[/Default]``; without path metadata, its logical id without the hash, which aws-cdk-lib builds from
    the same path)."""
    if "aws:cdk:path" in cr.attributes.get("Metadata", {}) and "aws:cdk:path" in policy.attributes.get("Metadata", {}):
        path = cr.path
        for suffix in ("/Resource/Default", "/Default", "/Resource"):
            path = path.removesuffix(suffix) if path.endswith(suffix) else path
        return policy.path.startswith(path + "/")
    return policy.logical_id.startswith(cr.logical_id[:-8])


def waits_for(assembly: Assembly, cr: Resource, policy: Resource) -> bool:
    """Whether CloudFormation creates ``policy`` before ``cr`` and deletes it after."""
    if policy.stack == cr.stack:
        return assembly.requires(cr.stack, cr.logical_id, policy.logical_id)
    return assembly.stack_requires(cr.stack, policy.stack)


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    findings: list[Finding] = []
    customs = [r for r in assembly.resources() if is_custom_resource(r)]
    handled = {(c.stack, c.logical_id): handlers(assembly, c) for c in customs}
    runners = {key: {(h.runner.stack, h.runner.logical_id) for h in hs} for key, hs in handled.items()}
    for cr in customs:
        mine = runners[(cr.stack, cr.logical_id)]
        sharing = [c for c in customs if c is not cr and runners[(c.stack, c.logical_id)] & mine]
        for h in handled[(cr.stack, cr.logical_id)]:
            for policy in attached_policies(assembly, h.role):
                if not _owns(cr, policy) and any(_owns(c, policy) for c in sharing):
                    continue
                if waits_for(assembly, cr, policy):
                    continue
                findings.append(Finding(
                    cr.name, f"runs {h.runner.logical_id} as {h.role.logical_id}, whose policy "
                             f"{policy.stack}/{policy.logical_id} it does not depend on: CloudFormation may invoke "
                             "it before that policy is attached (AccessDenied on create) and delete the policy "
                             "before its delete runs"))
    figure = f"{len(customs)} custom resources"
    return CheckResult(NAME, config.name, figure, findings)
