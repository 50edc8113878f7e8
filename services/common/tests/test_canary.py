"""The canary as it ships: its synthesized code asset, run with nothing on the path but that asset, the packages the
Synthetics runtime brings and a stand-in for the runtime's step library, against the session's local edge with
the smoke accounts, as CloudWatch Synthetics runs it against a stage (tools/local/canary.py). The storefront's
page-load step, in a real browser: test_canary_storefront.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

from common.tests.synthetics_harness import run_handler, steps
from tools.local.canary import SIGN_IN_STEP
from tools.local.local_platform import LocalPlatform
from tools.local.smoke import CANARY_WORKFLOWS, provision_local


def test_the_canary_asset_runs_the_smoke_workflows_against_the_local_edge(platform: LocalPlatform,
                                                                          runtime: Path, key_id: str) -> None:
    assert platform.assembly is not None
    local = provision_local(platform)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
           **{k: v for k, v in local.items() if k.startswith("AWS_")},
           "BASE_URL": platform.edge_url, "API_KEY_ID": key_id, "SMOKE_SECRET": local["SMOKE_SECRET"],
           "PAYMENT_TOPIC": local["PAYMENT_TOPIC"]}
    r = run_handler(platform.assembly, runtime, env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert [s["step"] for s in steps(r.stdout)] == [SIGN_IN_STEP, *CANARY_WORKFLOWS]
    assert {s["status"] for s in steps(r.stdout)} == {"PASSED"}
    assert f"RESULT {json.dumps(sorted(CANARY_WORKFLOWS))}" in r.stdout


def test_a_failing_workflow_fails_the_run(platform: LocalPlatform, runtime: Path, key_id: str) -> None:
    """A stage whose smoke secret names other passwords: the sign-in step fails and the handler raises, so
    Synthetics records the run as failed (the canary's failed-runs alarm)."""
    assert platform.assembly is not None
    local = provision_local(platform)
    wrong = platform.client("secretsmanager").create_secret(
        Name="smoke/wrong", SecretString=json.dumps({"admin": {"email": "nobody@example.com", "password": "x"},
                                                     "customer": {"email": "nobody@example.com", "password": "x"}}))
    env = {"PATH": os.environ.get("PATH", ""), **{k: v for k, v in local.items() if k.startswith("AWS_")},
           "BASE_URL": platform.edge_url, "API_KEY_ID": key_id, "SMOKE_SECRET": wrong["ARN"]}
    r = run_handler(platform.assembly, runtime, env, timeout=300)
    assert r.returncode != 0
    first = steps(r.stdout)[0]
    assert first["step"] == SIGN_IN_STEP and first["status"] == "FAILED", r.stdout
    assert "POST /users/login: expected 200" in first["error"]
