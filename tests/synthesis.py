"""The test session's synthesized assemblies: each environment synthesized once per session (the fixtures of
tests/conftest.py hand these out), read back as plain JSON."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from config.environment import EnvironmentConfig
from config.environments import load
from stacks.platform import Platform, build_app
from tools.assembly import Assembly

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Synthesized:
    """One environment's cloud assembly on disk, read back as plain JSON."""

    config: EnvironmentConfig
    outdir: Path
    platform: Platform

    def stack_names(self) -> list[str]:
        return sorted(Assembly(self.outdir).stacks)

    def template_json(self, part: str) -> dict[str, Any]:
        return json.loads((self.outdir / f"{self.config.stack_prefix}-{part}.template.json").read_text())

    def template(self, part: str) -> Template:
        return Template.from_json(self.template_json(part))

    def resources(self, part: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template_json(part)["Resources"].items() if v["Type"] == type_}

    def all_templates(self) -> dict[str, dict[str, Any]]:
        return {name: stack.template for name, stack in sorted(Assembly(self.outdir).stacks.items())}

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
