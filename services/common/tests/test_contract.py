"""Contracts with the CDK side: env var names, message attribute, container port, routes, Dockerfiles (hadolint)."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from common.consumer import CONSUMER_ENV
from common.publisher import EVENT_TYPE_ATTRIBUTE
from config import topology
from config.environments import DEV
from config.topology import Service

SERVICES_DIR = Path(__file__).resolve().parents[2]
COMMON = {"AWS_REGION", "COGNITO_ISSUER", "COGNITO_JWKS_URL", "COGNITO_CLIENT_ID"}
STORE = {Service.PRODUCTS: {"TABLE_NAME"}, Service.USERS: {"TABLE_NAME"}, Service.INVENTORY: {"TABLE_NAME"},
         Service.ORDERS: {"DB_SECRET_ARN", "PRODUCTS_URL"}}
# Service-to-service calls (client-credentials tokens): the caller's token endpoint and app client secret, the
# callee's allowed app clients.
SERVICE_AUTH = {Service.ORDERS: {"PRODUCTS_TOKEN_URL", "SERVICE_CLIENT_SECRET_ARN"},
                Service.PRODUCTS: {"SERVICE_CLIENT_IDS"}}
# Routes for other services only, behind client-credentials tokens; not routed through API Gateway (not in ROUTES).
INTERNAL_ROUTES = {Service.PRODUCTS: {("GET", "/internal/products/{productId}")}}


@pytest.mark.parametrize("service", topology.SERVICES, ids=lambda s: s.value)
def test_env_var_names_match_topology(service: Service) -> None:
    settings = importlib.import_module(f"{service.value}.settings")
    expected = {topology.env_var("topic", t.name) for t in topology.topics_published_by(service)}
    expected |= {topology.env_var("queue", q.name) for q in topology.queues_consumed_by(service)}
    expected |= {topology.env_var("queue", q.name) for q in topology.queues_produced_by(service)}
    # A consumer dead-letters to its queues' DLQs and retries as the messaging config says; orders has deadlines.
    expected |= {topology.env_var("dlq", q.name) for q in topology.queues_consumed_by(service)}
    if topology.queues_consumed_by(service):
        expected |= set(CONSUMER_ENV)
    if service == Service.ORDERS:
        expected |= set(settings.ORDERS_ENV)
    assert set(settings.REQUIRED_ENV) == COMMON | STORE[service] | SERVICE_AUTH.get(service, set()) | expected


def test_retry_and_deadline_settings_are_the_names_config_renders() -> None:
    from orders import settings as orders_settings

    assert set(DEV.messaging.consumer_environment()) == set(CONSUMER_ENV)
    assert set(DEV.orders.environment()) == set(orders_settings.ORDERS_ENV)


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


def test_type_attribute_matches_topology() -> None:
    assert EVENT_TYPE_ATTRIBUTE == topology.EVENT_TYPE_ATTRIBUTE


@pytest.mark.parametrize("service", topology.SERVICES, ids=lambda s: s.value)
def test_dockerfile_contract(service: Service) -> None:
    text = (SERVICES_DIR / service.value / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+\.\d+-slim-bookworm AS build$", text, re.M)
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

    from tools.local_platform import LocalPlatform

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
