"""Runs the checks: synthesizes each environment once (without the nag packs, which the suite does not need), or
reads an assembly that is already on disk."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from config.environment import EnvironmentConfig
from config.environments import ENVIRONMENTS, load
from tools.assembly import Assembly, AssemblyError, synthesize
from tools.reports.preflight import (
    access_logs,
    addons,
    custom_resources,
    deletion_protection,
    deploy_duration,
    edge_auth,
    finalizers,
    image_assets,
    immutable_fields,
    prerequisites,
    prune,
    reachability,
    scheduling,
    singletons,
    support_window,
    teardown,
    working_hours,
)
from tools.reports.preflight.model import CheckResult, acknowledge

Check = Callable[[Assembly, EnvironmentConfig], CheckResult]
CHECKS: dict[str, Check] = {
    image_assets.NAME: image_assets.check,
    addons.NAME: addons.check,
    scheduling.NAME: scheduling.check,
    reachability.NAME: reachability.check,
    edge_auth.NAME: edge_auth.check,
    deploy_duration.NAME: deploy_duration.check,
    teardown.NAME: teardown.check,
    deletion_protection.NAME: deletion_protection.check,
    custom_resources.NAME: custom_resources.check,
    prerequisites.NAME: prerequisites.check,
    finalizers.NAME: finalizers.check,
    singletons.NAME: singletons.check,
    immutable_fields.NAME: immutable_fields.check,
    prune.NAME: prune.check,
    access_logs.NAME: access_logs.check,
    support_window.NAME: support_window.check,
    working_hours.NAME: working_hours.check,
}


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
    """Each check's result, with the findings the config acknowledges moved aside (printed with their reasons)."""
    return [acknowledge(CHECKS[n](assembly, config), config.preflight_acknowledgements)
            for n in (names or list(CHECKS))]
