"""cdk-nag packs applied to every synth, and the one way to acknowledge a finding.

cdk-nag 3 is a CDK validation plugin: a finding that is not acknowledged makes ``app.synth()`` raise, and the cloud
assembly's ``validation-report.json`` lists violations and acknowledged ("suppressed") findings with their reasons.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, PCIDSS321Checks
from constructs import IConstruct

# Plugin name (as it prefixes acknowledgement ids) of each pack, in the order they are applied.
PACKS: dict[str, type] = {
    "AwsSolutions": AwsSolutionsChecks,
    "NIST.800.53.R5": NIST80053R5Checks,
    "PCI.DSS.321": PCIDSS321Checks,
}

MIN_REASON_WORDS = 8


def apply_packs(app: cdk.App, packs: tuple[str, ...] = tuple(PACKS)) -> None:
    """The nag packs plus CloudFormation's own template validation (the CLI runs it; in-process synth in tests
    would not), so a dependency cycle or an invalid property fails every synth."""
    plugins: list[cdk.IPolicyValidationPlugin] = [PACKS[name](app) for name in packs]
    if not app.node.try_get_context("@aws-cdk/core:validationPlugins"):
        plugins.append(cdk.CloudFormationValidatePlugin())
    cdk.Validations.of(app).add_plugins(*plugins)


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one exact finding on one construct, with a reason specific to that resource.

    ``finding`` is the rule id as cdk-nag reports it, including the finding's qualifier where it has one, e.g.
    ``AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSWorkerNodePolicy]``. The pack is
    inferred from the rule id's prefix.
    """
    pack = _pack_of(finding)
    if len(reason.split()) < MIN_REASON_WORDS:
        raise ValueError(f"acknowledgement of {finding} needs a reason of a sentence or more, got {reason!r}")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=f"{pack}::{finding}", reason=reason))


def _pack_of(finding: str) -> str:
    for name in sorted(PACKS, key=len, reverse=True):
        if finding.startswith(name + "-"):
            return name
    raise ValueError(f"{finding!r} does not start with a known pack prefix ({', '.join(PACKS)})")


def acknowledge_child(scope: IConstruct, path: str, finding: str, reason: str) -> None:
    """Like :func:`acknowledge`, for a construct that a library creates inside ``scope`` (``path`` is
    slash-separated construct ids below ``scope``), so the acknowledgement still names one resource."""
    node = scope
    for part in path.split("/"):
        node = node.node.find_child(part)
    acknowledge(node, finding, reason)
