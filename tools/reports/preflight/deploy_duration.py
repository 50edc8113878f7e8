"""Deploy duration: the deploy role's session outlives the first deploy of the environment.

The workflow assumes the Delivery stack's deploy role through OIDC and the CDK CLI chains from that session into the
bootstrap roles (aws-cdk#19359): when the session ends, the CLI loses its credentials mid-deploy. The session lasts
what the credentials step asks for (``role-duration-seconds``, one hour by default for OIDC), which may not exceed
the role's ``MaxSessionDuration`` (STS refuses the request), and the job's ``timeout-minutes`` caps it all.

The estimate: the CLI builds every image first (``--asset-prebuild``, ``--asset-build-concurrency`` builds at a time;
arm64 images on an x86 runner under QEMU), then deploys the stacks in dependency order, ``--concurrency`` at a time
(1 by default: one after the other), each taking its change set overhead plus the longest chain of creations
through its resources (``DependsOn``, ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` inside the template: CloudFormation creates
the rest in parallel), with create times from ``create_times.py``; custom resources count on that chain like any
resource (the ENI cleanups the cluster and the orders workloads wait for, with their provider functions). A rollout
wait lasts until its Deployment's pods are Ready (``rollout.py``: image pull, readiness probe, and for pods behind an
NLB with readiness gates the target's registration and health checks). The CLI's defaults are read from the pinned
CLI.

Each rollout wait must also outlast a rolling update of its Deployment at the HorizontalPodAutoscaler's minimum (else
every deploy that changes it fails its stack); one that does not outlast an update at the maximum is said in the
details: a deploy at peak load fails and rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from config.environment import EnvironmentConfig
from tools.assembly import Assembly, Resource
from tools.reports.preflight.create_times import (
    IMAGE_BUILD_EMULATED_MINUTES,
    IMAGE_BUILD_NATIVE_MINUTES,
    IMAGE_PUSH_MINUTES,
    STACK_OVERHEAD_MINUTES,
    create_minutes,
)
from tools.reports.preflight.model import CheckResult, Finding
from tools.reports.preflight.rollout import Rollout, rollouts
from tools.reports.preflight.workflow import CLI_REGISTRY, DEPLOY_WORKFLOW, deploy_job

NAME = "deploy-duration"
GITHUB_OIDC = "token.actions.githubusercontent.com"
DEFAULT_MAX_SESSION_SECONDS = 3600


def stack_minutes(assembly: Assembly, stack: str,
                  known: dict[tuple[str, str], float] | None = None) -> tuple[float, list[str]]:
    """The longest chain of creations through the stack's resources, and that chain (logical ids). ``known``: create
    minutes of particular resources ((stack, logical id)), in place of their type's."""
    resources = assembly.stacks[stack].resources
    known = known if known is not None else first_rollouts(assembly)

    @cache
    def finish(lid: str) -> tuple[float, tuple[str, ...]]:
        r = resources[lid]
        before = max((finish(d) for d in assembly.dependencies(stack, lid)), default=(0.0, ()))
        return before[0] + known.get((stack, lid), create_minutes(r.type)), (*before[1], lid)

    if not resources:
        return STACK_OVERHEAD_MINUTES, []
    longest = max((finish(lid) for lid in resources), key=lambda x: x[0])
    return STACK_OVERHEAD_MINUTES + longest[0], list(longest[1])


def first_rollouts(assembly: Assembly) -> dict[tuple[str, str], float]:
    """Each rollout wait's minutes on a first deploy: the Deployment's pods all start at once."""
    return {(r.wait.stack, r.wait.logical_id): r.pod_ready_minutes(first=True) for r in rollouts(assembly)}


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
    known = first_rollouts(assembly)
    per_stack = {s: stack_minutes(assembly, s, known)[0] for s in order}
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
    details = [f"  {s}: {m:.1f} min" for s, m in est.per_stack.items()]
    for r in rollouts(assembly):
        at_min, at_max = r.update_minutes(r.minimum), r.update_minutes(r.maximum)
        slow_min = r.update_minutes(r.minimum, slow=True)
        what = (f"{r.deployment.ref}: in a rolling update a new pod is Ready {r.pod_ready_minutes():.1f}"
                + (f"-{r.pod_ready_minutes(slow=True):.1f} min after it starts (NLB registration and health checks of "
                   f"{r.target_group.logical_id})" if r.target_group else " min after it starts")
                + f", so the update takes {at_min:.1f}"
                + (f"-{slow_min:.1f}" if slow_min != at_min else "")
                + f" min at {r.minimum} replicas, {at_max:.1f} min at {r.maximum}; the rollout wait "
                  f"{r.wait.logical_id} gives up after {r.timeout_minutes:.0f} min")
        if at_min > r.timeout_minutes:
            findings.append(Finding(r.wait.name, f"{what}: every deploy that changes the Deployment fails the "
                                                 f"{r.wait.stack} stack, and it rolls back"))
        elif slow_min > r.timeout_minutes or at_max > r.timeout_minutes:
            limit = _fits(r)
            details.append(f"  caution: {what}: "
                           + ("with a slow NLB registration even a deploy at the minimum fails the stack"
                              if slow_min > r.timeout_minutes else "")
                           + ("; " if slow_min > r.timeout_minutes and at_max > r.timeout_minutes else "")
                           + (f"a deploy while the HorizontalPodAutoscaler holds more than {limit} replicas fails the "
                              "stack" if at_max > r.timeout_minutes else "")
                           + ", and it rolls back")
    slowest = max(est.per_stack, key=lambda s: est.per_stack[s])
    figure = (f"first deploy ~{minutes:.0f} min (images {est.images_minutes:.0f}, stacks {est.stacks_minutes:.0f} "
              f"at concurrency {job.concurrency}; slowest {slowest} {est.per_stack[slowest]:.0f}); session "
              f"{session:.0f} min, job timeout {job.timeout_minutes} min")
    return CheckResult(NAME, config.name, figure, findings, details)


def _fits(r: Rollout) -> int:
    """The most replicas a rolling update of ``r`` gets through within its wait's timeout."""
    return max((n for n in range(r.minimum, r.maximum + 1) if r.update_minutes(n) <= r.timeout_minutes),
               default=0)
