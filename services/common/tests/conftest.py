"""Fixtures of the canary's tests (test_canary.py, test_canary_storefront.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.tests.synthetics_harness import runtime_packages
from tools.local.local_platform import LocalPlatform


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding only the packages the Synthetics runtime brings."""
    return runtime_packages(tmp_path_factory.mktemp("runtime"))


@pytest.fixture(scope="session")
def key_id(platform: LocalPlatform) -> str:
    """The Edge stack's API key in the local AWS, as the canary reads it (apigateway:GET with includeValue). Once
    per session, like the platform: API Gateway refuses a second key with the same value (ConflictException), so the
    canary's two test modules on one worker share it."""
    return str(platform.client("apigateway").create_api_key(name="web-client", value=platform.api_key,
                                                            enabled=True)["id"])
