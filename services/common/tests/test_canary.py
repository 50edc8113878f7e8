"""The canary as it ships: its synthesized code asset, run with nothing on the path but that asset, the AWS SDK the
Synthetics runtime brings and a stand-in for the runtime's step library, against the session's local edge with
the smoke accounts, as CloudWatch Synthetics runs it against a stage (tools/local/canary.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from config.synthetics import RUNTIME_PROVIDES
from tools.assembly import Assembly
from tools.local.canary import SIGN_IN_STEP
from tools.local.local_platform import ROOT, LocalPlatform
from tools.local.smoke import CANARY_WORKFLOWS, provision_local

STAND_IN = ROOT / "tests/fixtures/synthetics_runtime"
# Import names of what the runtime provides (config/synthetics.py RUNTIME_PROVIDES, by distribution name).
SDK_MODULES = {"boto3": "boto3", "botocore": "botocore", "s3transfer": "s3transfer", "jmespath": "jmespath",
               "python-dateutil": "dateutil", "six": "six.py", "urllib3": "urllib3"}


def canary_asset(assembly: Path) -> tuple[Path, str]:
    """The directory the Observability stack's canary code asset was staged from, and the canary's handler."""
    stacks = Assembly(assembly).stacks
    name = next(n for n in stacks if n.endswith("-Observability"))
    canary = next(r for r in stacks[name].template["Resources"].values() if r["Type"] == "AWS::Synthetics::Canary")
    asset_hash = canary["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    source = Assembly(assembly).asset_manifest(name)["files"][asset_hash]["source"]
    return assembly / source["path"], canary["Properties"]["Code"]["Handler"]


@pytest.fixture(scope="module")
def runtime_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding only the AWS SDK for Python, as the runtime has it."""
    site = Path(sysconfig.get_paths()["purelib"])
    sdk = tmp_path_factory.mktemp("runtime-sdk")
    assert set(SDK_MODULES) == RUNTIME_PROVIDES
    for module in SDK_MODULES.values():
        (sdk / module).symlink_to(site / module)
    return sdk


@pytest.fixture(scope="module")
def key_id(platform: LocalPlatform) -> str:
    """The Edge stack's API key in the local AWS, as the canary reads it (apigateway:GET with includeValue)."""
    return str(platform.client("apigateway").create_api_key(name="web-client", value=platform.api_key,
                                                            enabled=True)["id"])


def test_the_canary_asset_runs_the_smoke_workflows_against_the_local_edge(platform: LocalPlatform,
                                                                          runtime_sdk: Path, key_id: str) -> None:
    assert platform.assembly is not None
    asset, handler = canary_asset(platform.assembly)
    module, function = handler.split(".")
    local = provision_local(platform)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
           **{k: v for k, v in local.items() if k.startswith("AWS_")},
           "BASE_URL": platform.edge_url, "API_KEY_ID": key_id, "SMOKE_SECRET": local["SMOKE_SECRET"],
           "PAYMENT_TOPIC": local["PAYMENT_TOPIC"]}
    code = (f"import sys; sys.path[:0] = {[str(asset / 'python'), str(STAND_IN), str(runtime_sdk)]!r}; "
            f"import asyncio, json, {module}; result = asyncio.run({module}.{function}({{}}, None)); "
            "print('RESULT ' + json.dumps(sorted(result)))")
    # -I: no site-packages, no user site, no PYTHONPATH: only what the asset and the runtime hold.
    r = subprocess.run([sys.executable, "-I", "-c", code], cwd="/", env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    steps = [json.loads(line) for line in r.stdout.splitlines() if line.startswith('{"step"')]
    assert [s["step"] for s in steps] == [SIGN_IN_STEP, *CANARY_WORKFLOWS]
    assert {s["status"] for s in steps} == {"PASSED"}
    assert f"RESULT {json.dumps(sorted(CANARY_WORKFLOWS))}" in r.stdout


def test_a_failing_workflow_fails_the_run(platform: LocalPlatform, runtime_sdk: Path, key_id: str) -> None:
    """A stage whose smoke secret names other passwords: the sign-in step fails and the handler raises, so
    Synthetics records the run as failed (the canary's failed-runs alarm)."""
    assert platform.assembly is not None
    asset, _handler = canary_asset(platform.assembly)
    local = provision_local(platform)
    wrong = platform.client("secretsmanager").create_secret(
        Name="smoke/wrong", SecretString=json.dumps({"admin": {"email": "nobody@example.com", "password": "x"},
                                                     "customer": {"email": "nobody@example.com", "password": "x"}}))
    env = {"PATH": os.environ.get("PATH", ""), **{k: v for k, v in local.items() if k.startswith("AWS_")},
           "BASE_URL": platform.edge_url, "API_KEY_ID": key_id, "SMOKE_SECRET": wrong["ARN"]}
    code = (f"import sys; sys.path[:0] = {[str(asset / 'python'), str(STAND_IN), str(runtime_sdk)]!r}; "
            f"import asyncio, canary; asyncio.run(canary.handler({{}}, None))")
    r = subprocess.run([sys.executable, "-I", "-c", code], cwd="/", env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode != 0
    first = json.loads(next(line for line in r.stdout.splitlines() if line.startswith('{"step"')))
    assert first["step"] == SIGN_IN_STEP and first["status"] == "FAILED", r.stdout
    assert "POST /users/login: expected 200" in first["error"]
