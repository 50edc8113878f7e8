"""`python -m policies.summary cdk.out`: one line per nag pack of a synthesized assembly (the compliance summary
`make synth` prints); exits 1 if any finding is unacknowledged."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from policies.report import format_violations, read_findings


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "cdk.out")
    findings = read_findings(out / "validation-report.json")
    open_ = [f for f in findings if not f.acknowledged]
    acked = Counter(f.pack for f in findings if f.acknowledged)
    packs = sorted({f.pack for f in findings} | set(acked))
    for pack in packs:
        print(f"compliance {pack}: {sum(1 for f in open_ if f.pack == pack)} unacknowledged, "
              f"{acked[pack]} acknowledged (report: {out / 'validation-report.json'})")
    if open_:
        print(format_violations(open_), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
