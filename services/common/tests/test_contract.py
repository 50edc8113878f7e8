"""Contracts with the CDK side: configuration names, start-up errors, container port, routes, Dockerfiles (hadolint)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from contract.platform import ORDERS_SETTINGS

from common.consumer import CONSUMER_ENV
from config import topology
from config.environments import DEV
from config.topology import Service

SERVICES_DIR = Path(__file__).resolve().parents[2]
# Routes for other services only, behind client-credentials tokens; not routed through API Gateway (not in ROUTES).
INTERNAL_ROUTES = {Service.PRODUCTS: {("GET", "/internal/products/{productId}")}}


def test_retry_and_deadline_settings_are_the_names_config_renders() -> None:
    assert set(DEV.messaging.consumer_environment()) == set(CONSUMER_ENV)
    assert set(DEV.orders.environment()) == set(ORDERS_SETTINGS)


@pytest.mark.parametrize("service", topology.SERVICES, ids=lambda s: s.value)
def test_missing_env_var_fails_startup_with_one_line(service: Service) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SERVICES_DIR), "AWS_REGION": "us-east-1"}
    for entry in (["-m", f"{service.value}.worker"],
                  ["-m", "uvicorn", f"{service.value}.app:app", "--port", "0"]):
        r = subprocess.run([sys.executable, *entry], cwd=SERVICES_DIR, env=env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode != 0
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("configuration error: missing required environment variable(s): ")
        assert "TABLE_NAME" in lines[0] or "DB_SECRET_ARN" in lines[0]


@pytest.mark.parametrize("service", topology.SERVICES, ids=lambda s: s.value)
def test_dockerfile_contract(service: Service) -> None:
    text = (SERVICES_DIR / service.value / "Dockerfile").read_text()
    # The base is a build argument without default: its one value is config/images.py's, through the asset.
    assert re.search(r"^ARG BASE_IMAGE$", text, re.M)
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert f'"--port", "{topology.CONTAINER_PORT}"' in text
    assert re.search(r"^USER \d+:\d+$", text, re.M)
    assert "--no-cache-dir" in text
    assert (SERVICES_DIR / ".dockerignore").exists()


def test_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    files = [str(SERVICES_DIR / s.value / "Dockerfile") for s in topology.SERVICES]
    r = subprocess.run([hadolint, "--failure-threshold", "info", *files], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_routes_match_topology(platform: object) -> None:
    import httpx

    from tools.local.local_platform import LocalPlatform

    assert isinstance(platform, LocalPlatform)
    for service in topology.SERVICES:
        spec = httpx.get(platform.url(service) + "/openapi.json").json()
        served = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops
                  if path not in ("/healthz", "/readyz")}
        internal = {(m, p) for m, p in served if p.startswith("/internal/")}
        assert internal == INTERNAL_ROUTES.get(service, set())
        assert served - internal == {(r.method, r.path) for r in topology.ROUTES if r.service == service}
        assert not any(r.path.startswith("/internal/") for r in topology.ROUTES)
        assert httpx.get(platform.url(service) + "/healthz").status_code == 200
        assert httpx.get(platform.url(service) + "/readyz").status_code == 200
