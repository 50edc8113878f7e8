"""Deploy duration: the deploy role's session outlives the first deploy of the environment.

The workflow assumes the Delivery stack's deploy role through OIDC and the CDK CLI chains from that session into the
bootstrap roles (aws-cdk#19359): when the session ends, the CLI loses its credentials mid-deploy. The session lasts
what the credentials step asks for (``role-duration-seconds``, one hour by default for OIDC), which may not exceed
the role's ``MaxSessionDuration`` (STS refuses the request), and the job's ``timeout-minutes`` caps it all.

The estimate: the CLI builds every image first (``--asset-prebuild``, ``--asset-build-concurrency`` builds at a time;
arm64 images on an x86 runner under QEMU), then deploys the stacks in dependency order, ``--concurrency`` at a time
(1 by default: one after the other), each taking its change set overhead plus the longest chain of creations
through its resources (``DependsOn``, ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` inside the template: CloudFormation creates
the rest in parallel), with create times from ``create_times.py``. The CLI's defaults are read from the pinned CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from config.environment import EnvironmentConfig
from tools.preflight.assembly import Assembly, Resource
from tools.preflight.create_times import (
    IMAGE_BUILD_EMULATED_MINUTES,
    IMAGE_BUILD_NATIVE_MINUTES,
    IMAGE_PUSH_MINUTES,
    STACK_OVERHEAD_MINUTES,
    create_minutes,
)
from tools.preflight.model import CheckResult, Finding
from tools.preflight.workflow import CLI_REGISTRY, DEPLOY_WORKFLOW, deploy_job

NAME = "deploy-duration"
GITHUB_OIDC = "token.actions.githubusercontent.com"
DEFAULT_MAX_SESSION_SECONDS = 3600


def stack_minutes(assembly: Assembly, stack: str) -> tuple[float, list[str]]:
    """The longest chain of creations through the stack's resources, and that chain (logical ids)."""
    resources = assembly.stacks[stack].resources

    @cache
    def finish(lid: str) -> tuple[float, tuple[str, ...]]:
        r = resources[lid]
        before = max((finish(d) for d in assembly.dependencies(stack, lid)), default=(0.0, ()))
        return before[0] + create_minutes(r.type), (*before[1], lid)

    if not resources:
        return STACK_OVERHEAD_MINUTES, []
    longest = max((finish(lid) for lid in resources), key=lambda x: x[0])
    return STACK_OVERHEAD_MINUTES + longest[0], list(longest[1])


def deploy_role(assembly: Assembly) -> Resource | None:
    # Only the Delivery stack's role deploys; other roles GitHub may assume (the Edge stack's smoke test role) do not.
    for r in assembly.resources("AWS::IAM::Role"):
        if not r.stack.endswith("-Delivery"):
            continue
        doc = r.properties.get("AssumeRolePolicyDocument", {})
        for s in doc.get("Statement", []):
            if s.get("Action") == "sts:AssumeRoleWithWebIdentity" and GITHUB_OIDC in str(s.get("Condition", {})):
                return r
    return None


@dataclass(frozen=True)
class Estimate:
    images_minutes: float
    stacks_minutes: float
    per_stack: dict[str, float]

    @property
    def total(self) -> float:
        return self.images_minutes + self.stacks_minutes


def schedule(order: list[str], dependencies: dict[str, set[str]], minutes: dict[str, float], workers: int) -> float:
    """Wall time to deploy the stacks ``workers`` at a time, each as soon as its dependencies are done."""
    done: dict[str, float] = {}
    running: list[tuple[float, str]] = []
    pending = list(order)
    now = 0.0
    while pending or running:
        ready = [s for s in pending if all(d in done for d in dependencies[s])]
        while ready and len(running) < workers:
            s = ready.pop(0)
            pending.remove(s)
            running.append((now + minutes[s], s))
        running.sort()
        now, finished = running.pop(0)
        done[finished] = now
    return now


def estimate(assembly: Assembly, *, skip: set[str], concurrency: int, prebuild_workers: int,
             runner_arch: str) -> Estimate:
    images = 0.0
    for stack in assembly.stack_order():
        if stack in skip:
            continue
        for image in assembly.asset_manifest(stack).get("dockerImages", {}).values():
            platform = str(image.get("source", {}).get("platform", f"linux/{runner_arch}"))
            build = IMAGE_BUILD_NATIVE_MINUTES if platform.endswith(runner_arch) else IMAGE_BUILD_EMULATED_MINUTES
            images += build + IMAGE_PUSH_MINUTES
    images /= max(prebuild_workers, 1)
    order = [s for s in assembly.stack_order() if s not in skip]
    per_stack = {s: stack_minutes(assembly, s)[0] for s in order}
    deps = {s: {d for d in assembly.stacks[s].dependencies if d in per_stack} for s in order}
    return Estimate(images, schedule(order, deps, per_stack, max(concurrency, 1)), per_stack)


def check(assembly: Assembly, config: EnvironmentConfig, workflow: Path = DEPLOY_WORKFLOW,
          registry: Path = CLI_REGISTRY) -> CheckResult:
    findings: list[Finding] = []
    role = deploy_role(assembly)
    if role is None:
        return CheckResult(NAME, config.name, "no deploy role", [Finding(
            "assembly", "no role trusted by GitHub's OIDC provider: synthesize with the Delivery stack (without "
                        "-c delivery=exclude) to check its session")])
    try:
        job = deploy_job(config.name, workflow, registry)
    except FileNotFoundError as err:
        return CheckResult(NAME, config.name, "CDK CLI missing", [Finding(str(registry), str(err))])
    if job is None:
        return CheckResult(NAME, config.name, "no deploy job", [Finding(
            str(workflow), f"no job runs `cdk deploy` for {config.name}")])
    max_session = int(assembly.literal(role.stack, role.properties.get("MaxSessionDuration"))
                      or DEFAULT_MAX_SESSION_SECONDS)
    est = estimate(assembly, skip={role.stack}, concurrency=job.concurrency,
                   prebuild_workers=job.asset_build_concurrency if job.asset_prebuild else 1,
                   runner_arch=job.runner_arch)
    minutes = est.total
    if job.session_seconds > max_session:
        findings.append(Finding(f"{workflow.name} job {job.job}", f"asks for a {job.session_seconds} s session but "
                                f"{role.name} allows {max_session} s: STS refuses AssumeRoleWithWebIdentity"))
    session = min(job.session_seconds, max_session) / 60
    if session <= minutes:
        who = (f"the credentials step's role-duration-seconds ({job.session_seconds} s"
               + ("" if job.session_explicit else ", the OIDC default") + ")"
               if job.session_seconds < max_session else f"MaxSessionDuration {max_session} s")
        findings.append(Finding(role.name, f"the deploy session lasts {session:.0f} min ({who}) but a first deploy "
                                           f"of {config.name} takes about {minutes:.0f} min: the CLI loses its "
                                           f"credentials mid-deploy"))
    if job.timeout_minutes <= minutes:
        findings.append(Finding(f"{workflow.name} job {job.job}", f"timeout-minutes {job.timeout_minutes} is below "
                                                                  f"the estimated first deploy ({minutes:.0f} min)"))
    slowest = max(est.per_stack, key=lambda s: est.per_stack[s])
    figure = (f"first deploy ~{minutes:.0f} min (images {est.images_minutes:.0f}, stacks {est.stacks_minutes:.0f} "
              f"at concurrency {job.concurrency}; slowest {slowest} {est.per_stack[slowest]:.0f}); session "
              f"{session:.0f} min, job timeout {job.timeout_minutes} min")
    details = [f"  {s}: {m:.1f} min" for s, m in est.per_stack.items()]
    return CheckResult(NAME, config.name, figure, findings, details)
