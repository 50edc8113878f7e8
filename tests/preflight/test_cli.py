"""`python -m tools.reports.preflight`: one line per check and environment, findings after, exit 1 on any failure."""

from __future__ import annotations

import pytest

from tests.synthesis import Synthesized
from tools.reports.preflight.__main__ import main
from tools.reports.preflight.runner import CHECKS


def test_one_line_per_check_and_environment(dev: Synthesized, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--assembly", str(dev.outdir)])
    out = capsys.readouterr().out.splitlines()
    lines = [ln for ln in out if ln.startswith(("PASS  ", "FAIL  "))]
    assert [ln.split()[1:3] for ln in lines] == [[name, "dev"] for name in CHECKS]
    failed = sum(ln.startswith("FAIL") for ln in lines)
    assert out[-1] == f"preflight: {len(lines) - failed} passed, {failed} failed"
    assert code == (1 if failed else 0)


def test_assembly_of_another_environment_is_refused(dev: Synthesized, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--assembly", str(dev.outdir), "--env", "prod", "--check", "teardown"]) == 2
    assert "holds dev's stacks, not prod's" in capsys.readouterr().err
