"""What every check returns: findings that name the resource, and one short figure for the summary line.

A check reports what it computes will fail as a finding, never as a caution in its details: the check then fails,
unless the environment's config acknowledges that very finding (:func:`acknowledge`) with a reason, which the report
prints beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from config.environment import PreflightAcknowledgement


@dataclass(frozen=True)
class Finding:
    """One mistake: ``resource`` names it (stack/logical id and construct path, or a Kubernetes kind and name)."""

    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.message}"


@dataclass(frozen=True)
class Acknowledged:
    finding: Finding
    reason: str

    def __str__(self) -> str:
        return f"acknowledged: {self.finding} -- reason (config): {self.reason}"


@dataclass
class CheckResult:
    check: str
    environment: str
    figure: str
    findings: list[Finding] = field(default_factory=list)
    # Further lines a human reads after the summary (utilisation tables, plans); never asserted on by the suite.
    details: list[str] = field(default_factory=list)
    acknowledged: list[Acknowledged] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def line(self) -> str:
        ack = f" ({len(self.acknowledged)} acknowledged)" if self.acknowledged else ""
        return f"{'PASS' if self.ok else 'FAIL'}  {self.check:<20} {self.environment:<8} {self.figure}{ack}"


def acknowledge(result: CheckResult, acknowledgements: Iterable[PreflightAcknowledgement]) -> CheckResult:
    """Move the findings the config acknowledges for this check out of the failures, with their reasons; an
    acknowledgement of this check that matches no finding becomes a finding itself (it outlived its cause)."""
    mine = [a for a in acknowledgements if a.check == result.check]
    kept: list[Finding] = []
    used: set[int] = set()
    for f in result.findings:
        i = next((i for i, a in enumerate(mine) if a.resource in f.resource), None)
        if i is None:
            kept.append(f)
        else:
            used.add(i)
            result.acknowledged.append(Acknowledged(f, mine[i].reason))
    for i, a in enumerate(mine):
        if i not in used:
            kept.append(Finding(f"config {result.environment}.preflight_acknowledgements",
                                f"acknowledges {a.check} findings about {a.resource!r}, but the check finds none: "
                                "remove it"))
    result.findings = kept
    return result
