"""`make load` without ENV: the traffic-shaped Locust scenario against the local edge with the smoke accounts, in a
process of its own (Locust patches the standard library for gevent), writing its results and report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tools.local.local_platform import ROOT, LocalPlatform
from tools.local.smoke import provision_local


def test_the_load_scenario_runs_against_the_local_edge_and_reports(platform: LocalPlatform, tmp_path: Path) -> None:
    local = provision_local(platform)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **local,
           "BASE_URL": platform.edge_url, "API_KEY": platform.api_key}
    out = tmp_path / "results.json"
    r = subprocess.run([sys.executable, "-m", "tools.load", "--from-environment", "--users", "6", "--duration", "20",
                        "--spawn-rate", "6", "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    results = json.loads(out.read_text())
    assert {"GET /products", "GET /products/{productId}"} <= set(results["routes"])
    assert results["total"]["requests"] > 0 and results["total"]["failures"] == 0, results["errors"]
    for route in results["routes"].values():
        assert route["p50_ms"] <= route["p95_ms"] <= route["p99_ms"]
    orders = results["orders"]
    assert orders["placed"] >= 1 and orders["ended"].get("CONFIRMED", 0) + orders["unfinished"] <= orders["placed"]
    assert "CONFIRMED/s" in r.stdout and "GET /products" in r.stdout


def test_prod_is_refused_unless_asked() -> None:
    r = subprocess.run([sys.executable, "-m", "tools.load", "--from-environment", "--environment-name", "prod"],
                       cwd=ROOT, env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "refusing to load prod" in r.stderr
