"""Test groups for the whole repository (pyproject.toml's markers; the README's "Tests" says which make target runs
which group). A test joins a group by what it needs, not by where it lives:

- ``platform``: asks for the session's local platform (the ``platform`` fixture of services/conftest.py, or a fixture
  built on it): marked here, from its fixtures, so a new test that uses the platform is in the group by itself;
- ``docker``, ``own_platform``, ``browser``: declared by the module (``pytestmark``), since what they start is not a
  fixture of ours (a Docker build, a platform of their own, a browser);
- ``tool_run``: declared by the test or module, for a test that runs one of the repository's tools end to end
  (`make diff` synthesizing other commits, the storefront's npm build, `make fault`, `make account-check` against
  moto): seconds of CPU each, which would make `make check` miss its 3 minutes; `make test` runs them (`make
  test-tools`).

Everything else is the fast group `make check` runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

GROUPS = ("platform", "docker", "own_platform", "browser", "tool_run")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "platform" in getattr(item, "fixturenames", ()) and item.get_closest_marker("platform") is None:
            item.add_marker(pytest.mark.platform)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The assemblies a pytest-xdist run's workers shared (tests/synthesis.py), removed by the controller at the end;
    # TEST_ASSEMBLIES (make test, make check) is the Makefile's to clear.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run and not hasattr(session.config, "workerinput") and not os.environ.get("TEST_ASSEMBLIES"):
        shutil.rmtree(Path(tempfile.gettempdir()) / f"cdk-test-assemblies-{run}", ignore_errors=True)
