"""Runs the checks: synthesizes each environment once (without the nag packs, which the suite does not need), or
reads an assembly that is already on disk."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from config.environment import EnvironmentConfig
from config.environments import ENVIRONMENTS, load
from tools.assembly import Assembly, AssemblyError
from tools.reports.preflight import (
    addons,
    deploy_duration,
    edge_auth,
    image_assets,
    reachability,
    scheduling,
    teardown,
)
from tools.reports.preflight.model import CheckResult

Check = Callable[[Assembly, EnvironmentConfig], CheckResult]
CHECKS: dict[str, Check] = {
    image_assets.NAME: image_assets.check,
    addons.NAME: addons.check,
    scheduling.NAME: scheduling.check,
    reachability.NAME: reachability.check,
    edge_auth.NAME: edge_auth.check,
    deploy_duration.NAME: deploy_duration.check,
    teardown.NAME: teardown.check,
}


def synthesize(config: EnvironmentConfig, outdir: Path) -> Path:
    # Construct paths in the template metadata, as `cdk synth` writes them, so findings can name them. The CDK app
    # reads this from its environment, and its Node process starts with aws-cdk-lib's first import just below.
    os.environ.setdefault("CDK_CONTEXT_JSON", json.dumps({"aws:cdk:enable-path-metadata": True}))
    from stacks.platform import build_app

    app, _ = build_app(config, outdir=str(outdir), nag=False)
    app.synth()
    return outdir


def environment_of(assembly: Assembly) -> EnvironmentConfig:
    """The config whose stack prefix (`Dev-...`) the assembly's stacks carry."""
    prefixes = {name.split("-", 1)[0] for name in assembly.stacks}
    for config in ENVIRONMENTS.values():
        if config.stack_prefix in prefixes:
            return load(config.name)
    raise AssemblyError(f"{assembly.directory}: its stacks ({', '.join(sorted(assembly.stacks))}) belong to no "
                        f"environment of config/environments.py")


def load_assembly(env: str | None, directory: Path | None, workdir: Path) -> tuple[Assembly, EnvironmentConfig]:
    """Read ``directory``, or synthesize ``env`` into a fresh folder under ``workdir``."""
    if directory is not None:
        assembly = Assembly(directory)
        config = environment_of(assembly)
        if env and env != config.name:
            raise AssemblyError(f"{directory} holds {config.name}'s stacks, not {env}'s")
        return assembly, config
    config = load(env)
    outdir = Path(tempfile.mkdtemp(prefix=f"{config.name}.", dir=workdir))
    return Assembly(synthesize(config, outdir)), config


def run(assembly: Assembly, config: EnvironmentConfig, names: list[str] | None = None) -> list[CheckResult]:
    return [CHECKS[n](assembly, config) for n in (names or list(CHECKS))]
