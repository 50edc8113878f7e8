"""Reading cdk-nag's findings back out of a cloud assembly's ``validation-report.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Finding:
    pack: str
    rule: str
    path: str
    description: str
    acknowledged: bool
    reason: str | None = None
    acknowledged_at: str | None = None


def read_findings(report_path: Path) -> list[Finding]:
    data: dict[str, Any] = json.loads(report_path.read_text())
    out: list[Finding] = []
    for plugin in data.get("pluginReports", []):
        pack = plugin["pluginName"]
        for kind, acknowledged in (("violations", False), ("suppressedViolations", True)):
            for v in plugin.get(kind, []):
                for c in v.get("violatingConstructs", []):
                    out.append(Finding(
                        pack=pack, rule=v["ruleName"], path=c["constructPath"], description=v["description"],
                        acknowledged=acknowledged, reason=v.get("reason"), acknowledged_at=v.get("acknowledgedAt"),
                    ))
    return out


def format_violations(findings: list[Finding]) -> str:
    lines = [f"{f.pack}: {f.rule} at {f.path}: {f.description}" for f in findings if not f.acknowledged]
    return "\n".join(sorted(lines))
