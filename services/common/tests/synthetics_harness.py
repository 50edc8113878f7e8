"""The canary as CloudWatch Synthetics runs it, for the tests: its synthesized code asset in a Python process of its
own (``-I``: no site-packages, no PYTHONPATH) with nothing else on its path but what the runtime brings (the AWS SDK,
Selenium at the runtime's release and what it requires: config/synthetics.py) and the stand-in for the runtime's
library (tests/fixtures/synthetics_runtime: its steps, and a real Chromium behind its ``Chrome()``)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import selenium

from cdk_constructs.canary_bundle import distribution_files, requirement_tree
from config.synthetics import RUNTIME_PROVIDES, RUNTIME_SELENIUM
from tools.assembly import Assembly
from tools.local.local_platform import ROOT

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


def runtime_packages(target: Path) -> Path:
    """``target`` holding only the packages the runtime has: the AWS SDK for Python, and Selenium (the venv pins the
    runtime's release) with every distribution it requires."""
    site = Path(sysconfig.get_paths()["purelib"])
    assert set(SDK_MODULES) == RUNTIME_PROVIDES
    assert selenium.__version__ == RUNTIME_SELENIUM, "requirements-dev.txt must pin the runtime's Selenium"
    names = set(SDK_MODULES.values())
    for distribution in requirement_tree("selenium"):
        names |= {rel.split("/")[0] for rel, _ in distribution_files(distribution)}
    for name in sorted(names):
        (target / name).symlink_to(site / name)
    return target


def run_handler(assembly: Path, runtime: Path, env: Mapping[str, str], timeout: float = 600) -> \
        subprocess.CompletedProcess[str]:
    """The canary's handler run once as Synthetics runs it, in ``env`` (its environment variables); prints
    ``RESULT <sorted step names>`` when it returns."""
    asset, handler = canary_asset(assembly)
    module, function = handler.split(".")
    code = (f"import sys; sys.path[:0] = {[str(asset / 'python'), str(STAND_IN), str(runtime)]!r}; "
            f"import asyncio, json, {module}; result = asyncio.run({module}.{function}({{}}, None)); "
            "print('RESULT ' + json.dumps(sorted(result)))")
    return subprocess.run([sys.executable, "-I", "-c", code], cwd="/", env=dict(env), capture_output=True, text=True,
                          timeout=timeout)


def steps(stdout: str) -> list[dict[str, Any]]:
    """The steps the stand-in's ``execute_step`` reported, in order."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"step"')]
