"""Fixtures of the preflight tests: workbenches over the session's synthesized assemblies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.preflight.workbench import Workbench
from tests.synthesis import Synthesized


@pytest.fixture
def bench(tmp_path: Path, synth: Callable[[str], Synthesized]) -> Callable[[str], Workbench]:
    """``bench("dev")``: a private, editable copy of dev's session assembly."""
    made = 0

    def make(env: str) -> Workbench:
        nonlocal made
        made += 1
        return Workbench(synth(env), tmp_path / f"{env}-{made}")

    return make
