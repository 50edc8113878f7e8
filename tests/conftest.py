"""Session fixtures: each environment is synthesized once per test session, with every nag pack applied."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template
from moto.server import ThreadedMotoServer

from config.environment import EnvironmentConfig
from config.environments import load
from stacks.platform import Platform, build_app

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Synthesized:
    """One environment's cloud assembly on disk, read back as plain JSON."""

    config: EnvironmentConfig
    outdir: Path
    platform: Platform

    def stack_names(self) -> list[str]:
        manifest = json.loads((self.outdir / "manifest.json").read_text())
        return sorted(k for k, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack")

    def template_json(self, part: str) -> dict[str, Any]:
        return json.loads((self.outdir / f"{self.config.stack_prefix}-{part}.template.json").read_text())

    def template(self, part: str) -> Template:
        return Template.from_json(self.template_json(part))

    def resources(self, part: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template_json(part)["Resources"].items() if v["Type"] == type_}

    def all_templates(self) -> dict[str, dict[str, Any]]:
        return {name: json.loads((self.outdir / f"{name}.template.json").read_text()) for name in self.stack_names()}

    def validation_report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return data


@cache
def synthesize(env: str) -> Synthesized:
    config = load(env)
    outdir = Path(tempfile.mkdtemp(prefix=f"cdk.out.{env}."))
    app, platform = build_app(config, outdir=str(outdir))
    app.synth()
    return Synthesized(config=config, outdir=outdir, platform=platform)


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
