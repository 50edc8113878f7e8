"""What the deploy workflow (`.github/workflows/deploy.yml`) does for one environment: the `cdk deploy` flags,
the session the credentials step asks for, the job's timeout and the runner's architecture."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY_WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
CLI_REGISTRY = ROOT / "node_modules" / "aws-cdk" / "lib" / "cli" / "cli-type-registry.json"
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
# aws-actions/configure-aws-credentials action.yml: "Role duration in seconds (default: 6 hours, 1 hour for
# OIDC/specified aws-session-token)"; the workflow assumes its role through OIDC.
OIDC_DEFAULT_SESSION_SECONDS = 3600
# GitHub Actions: a job's timeout-minutes defaults to 360.
DEFAULT_JOB_TIMEOUT_MINUTES = 360


@dataclass(frozen=True)
class DeployJob:
    job: str
    command: str
    concurrency: int
    asset_prebuild: bool
    asset_build_concurrency: int
    session_seconds: int
    session_explicit: bool
    timeout_minutes: int
    runner_arch: str


def cli_defaults(registry: Path = CLI_REGISTRY) -> dict[str, Any]:
    """The pinned CDK CLI's own defaults for `cdk deploy` (from its command registry, not from memory)."""
    if not registry.is_file():
        raise FileNotFoundError(f"{registry} is missing: run `make setup` to install the pinned CDK CLI")
    options = json.loads(registry.read_text())["commands"]["deploy"]["options"]
    return {name: spec.get("default") for name, spec in options.items()}


def _flag(args: list[str], name: str) -> str | None:
    for i, a in enumerate(args):
        if a == f"--{name}" and i + 1 < len(args) and not args[i + 1].startswith("--"):
            return args[i + 1]
        if a == f"--{name}":
            return "true"
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
        if a == f"--no-{name}":
            return "false"
    return None


def deploy_job(environment: str, workflow: Path = DEPLOY_WORKFLOW, registry: Path = CLI_REGISTRY) -> DeployJob | None:
    """The job that runs `cdk deploy` for ``environment`` (its GitHub environment, or `--app assemblies/<env>`)."""
    doc = yaml.safe_load(workflow.read_text())
    defaults = cli_defaults(registry)
    for name, job in (doc.get("jobs") or {}).items():
        env = job.get("environment")
        env_name = env.get("name") if isinstance(env, dict) else env
        steps = job.get("steps") or []
        command = next((s["run"] for s in steps if "cdk deploy" in str(s.get("run", ""))), None)
        if command is None or (env_name != environment and f"assemblies/{environment}" not in command):
            continue
        line = next(ln for ln in str(command).splitlines() if "cdk deploy" in ln)
        args = shlex.split(line)
        # The credentials in force when `cdk deploy` runs: the last credentials step before it (a job may assume
        # another role first, e.g. dev's wake role).
        deploy_at = next(i for i, s in enumerate(steps) if s.get("run") == command)
        creds: dict[str, Any] = next((s for s in reversed(steps[:deploy_at])
                                      if str(s.get("uses", "")).startswith(CREDENTIALS_ACTION)), {})
        duration = (creds.get("with") or {}).get("role-duration-seconds")
        runs_on = str(job.get("runs-on", "ubuntu-latest"))
        return DeployJob(
            job=str(name), command=line.strip(),
            concurrency=int(_flag(args, "concurrency") or defaults.get("concurrency") or 1),
            asset_prebuild=(_flag(args, "asset-prebuild") or str(defaults.get("asset-prebuild", True))).lower()
            == "true",
            asset_build_concurrency=int(_flag(args, "asset-build-concurrency")
                                        or defaults.get("asset-build-concurrency") or 1),
            session_seconds=int(duration) if duration is not None else OIDC_DEFAULT_SESSION_SECONDS,
            session_explicit=duration is not None,
            timeout_minutes=int(job.get("timeout-minutes", DEFAULT_JOB_TIMEOUT_MINUTES)),
            runner_arch="arm64" if "arm" in runs_on.lower() else "amd64")
    return None
