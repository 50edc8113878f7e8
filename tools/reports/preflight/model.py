"""What every check returns: findings that name the resource, and one short figure for the summary line."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """One mistake: ``resource`` names it (stack/logical id and construct path, or a Kubernetes kind and name)."""

    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.message}"


@dataclass
class CheckResult:
    check: str
    environment: str
    figure: str
    findings: list[Finding] = field(default_factory=list)
    # Further lines a human reads after the summary (utilisation tables, plans); never asserted on by the suite.
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.check:<20} {self.environment:<8} {self.figure}"
