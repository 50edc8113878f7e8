"""Working hours: a deploy or a teardown of an environment whose nodes sleep on a schedule wakes them first and
holds the scheduled sleep until it is done.

The assembly says whether the environment sleeps: an ``AWS::Scheduler::Schedule`` that calls
``eks:UpdateNodegroupConfig`` with the asleep sizes (``cdk_constructs/node_group_schedule.py``). Asleep, the
cluster has no node: a deploy's rollout waits for pods that cannot be scheduled until the stack fails, and a
teardown's deletion of the cluster's workloads waits for controllers (the load balancer controller's finalizers, the
VPC resource controller) that have nowhere to run. Awake but not held, the sleep at the end of the day (and its second
pass half an hour later) empties the nodes in the middle of either.

So, for such an environment, this check fails unless:
- its deploy job (``.github/workflows/deploy.yml``, the job whose ``cdk deploy`` reads ``assemblies/<env>``) runs
  ``make wake ENV=<env> ... HOLD=1`` (or ``python -m tools.ops.wake <env> ... --hold``) before its ``cdk deploy``
  step, and ``make sleep ENV=<env>`` (which releases the hold) after it, whatever happened (``if: always() ...``);
- ``make destroy`` (the teardown runbook, docs/deploying.md) runs ``tools.ops.wake $(ENV) --hold`` before its
  ``cdk destroy``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cdk_constructs.node_group_schedule import ASLEEP, UPDATE_NODEGROUP_TARGET
from config.environment import EnvironmentConfig
from tools.assembly import Assembly, Resource, parse_json_with_tokens
from tools.reports.preflight.model import CheckResult, Finding

NAME = "working-hours"
ROOT = Path(__file__).resolve().parents[3]
DEPLOY_WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
MAKEFILE = ROOT / "Makefile"


def sleep_schedules(assembly: Assembly) -> list[Resource]:
    """The schedules that scale a node group to no node and keep it there."""
    out = []
    for r in assembly.resources("AWS::Scheduler::Schedule"):
        target = r.properties.get("Target") or {}
        if target.get("Arn") != UPDATE_NODEGROUP_TARGET:
            continue
        try:
            request = parse_json_with_tokens(target.get("Input"))
        except (ValueError, TypeError):
            continue
        # A morning wake of a pool the autoscaler alone sizes also asks for no node now (desired 0), but lets it
        # grow; a sleep takes the room away (ASLEEP: EKS's least maximum, 1, and nothing desired).
        if isinstance(request, dict) and request.get("ScalingConfig") == ASLEEP:
            out.append(r)
    return out


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command.replace("\\\n", " "))
    except ValueError:
        return command.split()


def wakes_and_holds(command: str, env: str) -> bool:
    """Whether a shell command (a workflow step's or a recipe's) wakes ``env`` and holds its scheduled sleep."""
    for line in command.splitlines():
        w = _words(line)
        if "make" in w and "wake" in w and f"ENV={env}" in w and "HOLD=1" in w:
            return True
        if "tools.ops.wake" in w and env in w and "--hold" in w:
            return True
    return False


def releases(command: str, env: str) -> bool:
    w = _words(command)
    return ("make" in w and "sleep" in w and f"ENV={env}" in w) or (
        "tools.ops.wake" in w and env in w and "--sleep" in w)


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    run: str
    condition: str


def deploy_steps(env: str, workflow: Path) -> tuple[str, list[Step]] | None:
    """The deploy job of ``env`` and its steps, or None when the workflow deploys it nowhere."""
    doc: dict[str, Any] = yaml.safe_load(workflow.read_text())
    for job_name, job in (doc.get("jobs") or {}).items():
        steps = [Step(i, str(s.get("name") or s.get("uses") or f"step {i + 1}"), str(s.get("run", "")),
                      str(s.get("if", ""))) for i, s in enumerate(job.get("steps") or [])]
        if any("cdk deploy" in s.run and f"assemblies/{env}" in s.run for s in steps):
            return str(job_name), steps
    return None


def recipe(target: str, makefile: Path) -> list[str] | None:
    """The recipe lines of ``target`` in the Makefile (None: no such rule)."""
    lines = makefile.read_text().splitlines()
    rule = re.compile(rf"^{re.escape(target)}\s*:(?!=)")
    for i, line in enumerate(lines):
        if rule.match(line):
            out = []
            for body in lines[i + 1:]:
                if not body.startswith("\t"):
                    break
                out.append(body.strip())
            return out
    return None


def check(assembly: Assembly, config: EnvironmentConfig, *, workflow: Path = DEPLOY_WORKFLOW,
          makefile: Path = MAKEFILE) -> CheckResult:
    sleeps = sleep_schedules(assembly)
    env = config.name
    if not sleeps:
        return CheckResult(NAME, env, "no scheduled sleep")
    findings: list[Finding] = []
    details = [f"{len(sleeps)} schedules scale node groups to none: "
               + ", ".join(f"{r.stack}/{r.logical_id}" for r in sleeps)]
    found = deploy_steps(env, workflow)
    if found is None:
        findings.append(Finding(f"{workflow.name}", f"no job deploys assemblies/{env}"))
    else:
        job, steps = found
        where = f"{workflow.name} job {job}"
        deploy_at = next(s.index for s in steps if "cdk deploy" in s.run)
        wake = next((s for s in steps if wakes_and_holds(s.run, env)), None)
        if wake is None:
            findings.append(Finding(where, f"no step wakes {env} and holds its scheduled sleep (make wake ENV={env} "
                                           "WAIT=1 HOLD=1) before cdk deploy: outside working hours the rollout "
                                           "waits for pods no node can run, and a scheduled sleep during the "
                                           "deploy empties the nodes"))
        elif wake.index > deploy_at:
            findings.append(Finding(where, f"step {wake.name!r} wakes {env} only after the cdk deploy step"))
        else:
            details.append(f"{where}: {wake.name!r} (step {wake.index + 1}) before cdk deploy (step {deploy_at + 1})")
        release = next((s for s in steps[deploy_at + 1:] if releases(s.run, env)), None)
        if release is None:
            findings.append(Finding(where, f"no step after cdk deploy releases the held sleep (make sleep ENV={env}): "
                                           "the nodes would run around the clock"))
        elif not release.condition.startswith("always()"):
            findings.append(Finding(where, f"step {release.name!r} releases the held sleep only when the deploy "
                                           "succeeded (its if: does not start with always())"))
        else:
            details.append(f"{where}: {release.name!r} (step {release.index + 1}) releases it, whatever happened")
    body = recipe("destroy", makefile)
    if body is None:
        findings.append(Finding(f"{makefile.name}", "no destroy target: the teardown runbook's make destroy wakes "
                                                    "the nodes and holds the sleep before cdk destroy"))
    else:
        destroy_at = next((i for i, line in enumerate(body) if re.search(r"(\bcdk|\$\(CDK\))\s+destroy\b", line)),
                          None)
        wake_at = next((i for i, line in enumerate(body) if wakes_and_holds(line.replace("$(ENV)", env), env)), None)
        if destroy_at is None:
            findings.append(Finding(f"{makefile.name} destroy", "its recipe runs no cdk destroy"))
        elif wake_at is None or wake_at > destroy_at:
            findings.append(Finding(f"{makefile.name} destroy",
                                    f"cdk destroy runs without waking {env} and holding its scheduled sleep first "
                                    "(tools.ops.wake $(ENV) --hold): asleep, the deletion of the cluster's workloads "
                                    "waits for controllers that have no node and the teardown hangs"))
        else:
            details.append(f"make destroy: {body[wake_at]!r} before {body[destroy_at]!r}")
    return CheckResult(NAME, env, f"{len(sleeps)} sleep schedules", findings, details)
