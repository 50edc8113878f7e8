"""Session fixtures: each environment is synthesized once per test session, with every nag pack applied."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from moto.server import ThreadedMotoServer

from tests.synthesis import Synthesized, synthesize


@pytest.fixture(scope="session")
def synth() -> Callable[[str], Synthesized]:
    """``synth("prod")``: the environment's assembly, synthesized at most once per session."""
    return synthesize


@pytest.fixture(scope="session")
def dev() -> Synthesized:
    return synthesize("dev")


@pytest.fixture(scope="session")
def prod() -> Synthesized:
    return synthesize("prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def env(request: pytest.FixtureRequest) -> Synthesized:
    """Parametrizes a test over dev and prod."""
    return synthesize(request.param)


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """A moto server over HTTP on a free port, for one test module: the URL to give boto3 as endpoint_url."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
