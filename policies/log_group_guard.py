"""A check of the synthesized templates that fails synth on any log group without retention, without the
environment's logs CMK, or whose removal is not the environment's (dev must tear down without leaving log groups;
prod keeps them).

It is a CDK validation plugin, like the nag packs: it runs once per synth over the written templates (one call from
the CDK into Python), not as an Aspect called back for every construct of the app (about 900 calls per synth)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

RULE = "LogGroupGuard"
# How CloudFormation spells each deletion policy in a template (an absent DeletionPolicy means Delete).
TEMPLATE_DELETION = {cdk.CfnDeletionPolicy.DELETE: "Delete", cdk.CfnDeletionPolicy.RETAIN: "Retain",
                     cdk.CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE: "RetainExceptOnCreate",
                     cdk.CfnDeletionPolicy.SNAPSHOT: "Snapshot"}


@jsii.implements(cdk.IPolicyValidationPlugin)
class LogGroupGuard:
    """``key_stack`` holds ``key``, the logs CMK every log group must use (its own stack's log groups reference it
    with Fn::GetAtt, the others import the stack's export of that); ``retention_days``: the retention periods the
    environment's config allows (general logs, flow logs); ``deletion_policy``: what the environment's removal mode
    makes of a log group."""

    def __init__(self, *, key_stack: cdk.Stack, key: cdk.IResource, retention_days: Collection[int],
                 deletion_policy: cdk.CfnDeletionPolicy,
                 regional_keys: Collection[tuple[cdk.Stack, cdk.IResource]] = ()) -> None:
        """``regional_keys``: (stack, key) of a stack in another region, whose log groups use that key instead
        (a KMS key serves its own region alone)."""
        self._key_stack = key_stack
        self._key = key
        self._regional = {Path(stack.template_file).name: stack.resolve(k.node.default_child.get_att("Arn"))  # type: ignore[union-attr]
                          for stack, k in regional_keys}
        self.retention_days = frozenset(retention_days)
        self.deletion_policy = TEMPLATE_DELETION[deletion_policy]

    @property
    def name(self) -> str:
        return RULE

    @property
    def version(self) -> str | None:
        return None

    @property
    def rule_ids(self) -> list[str] | None:
        return [RULE]

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        key_ref = self._key_stack.resolve(self._key.node.default_child.get_att("Arn"))  # type: ignore[union-attr]
        key_template = Path(self._key_stack.template_file).name
        templates = {Path(p): json.loads(Path(p).read_text()) for p in context.template_paths}
        imports = {out["Export"]["Name"] for path, t in templates.items() if path.name == key_template
                   for out in t.get("Outputs", {}).values() if out.get("Value") == key_ref and "Export" in out}
        violations = []
        for path, template in sorted(templates.items()):
            if path.name in self._regional:
                allowed_keys = [self._regional[path.name]]
            else:
                allowed_keys = [key_ref] if path.name == key_template else [{"Fn::ImportValue": name}
                                                                            for name in imports]
            for logical_id, resource in template.get("Resources", {}).items():
                if resource.get("Type") != "AWS::Logs::LogGroup":
                    continue
                problems = self.problems(resource, allowed_keys)
                if problems:
                    violations.append(cdk.PolicyViolation(
                        rule_name=RULE, description=f"log group guard: {'; '.join(problems)}",
                        violating_resources=[cdk.PolicyViolatingResource(
                            resource_logical_id=logical_id, template_path=str(path), locations=["Properties"])],
                        fix="give the log group the config's retention, the Network stack's logs_key and "
                            "removal_policy(config.removal)"))
        return cdk.PolicyValidationPluginReport(success=not violations, violations=violations)

    def problems(self, resource: dict[str, Any], allowed_keys: list[Any]) -> list[str]:
        props = resource.get("Properties", {})
        problems = []
        retention = props.get("RetentionInDays")
        if retention not in self.retention_days:
            problems.append(f"retention {retention} days is not one the config sets "
                            f"({', '.join(map(str, sorted(self.retention_days)))})")
        key = props.get("KmsKeyId")
        if key is None:
            problems.append("it is not encrypted (set encryption_key to the Network stack's logs_key)")
        elif key not in allowed_keys:
            problems.append("it is encrypted with a key other than the Network stack's logs_key")
        deletion = resource.get("DeletionPolicy", "Delete")
        if deletion != self.deletion_policy:
            problems.append(f"its deletion policy {deletion} is not the environment's {self.deletion_policy} "
                            f"(apply removal_policy(config.removal))")
        return problems
