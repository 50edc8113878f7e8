"""cfn-lint reports no error on any synthesized template of any environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.synthesis import synthesize


# One environment per test: cfn-lint is the longest single test of the fast group, and three can run on parallel
# workers.
@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_cfn_lint_error_in_any_environment(env: str) -> None:
    files = [str(p) for p in sorted(synthesize(env).outdir.glob("*.template.json"))]
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), "--format", "json", *files],
                            capture_output=True, text=True, timeout=600)
    assert result.stdout.lstrip().startswith("["), result.stderr  # cfn-lint ran and answered in JSON
    matches = json.loads(result.stdout)
    # Cross-stack references are Fn::ImportValue (cdk.json: strong), which cfn-lint checks like any intrinsic.
    errors = [f"{m['Rule']['Id']} {m['Filename'].rsplit('/', 1)[-1]}: {m['Message']}" for m in matches
              if m["Level"] == "Error"]
    assert len(files) >= 7
    assert errors == []
