"""Deploy duration: how long a first deploy and a change of one service's code take, and whether everything that
waits on them (the deploy role's session, the job's timeout, the rollout waits, the config's limits) outlasts them.

**The model** (the pinned CLI's own, aws-cdk ``WorkGraphBuilder`` and ``WorkGraph.doParallel``): `cdk deploy --all`
runs one work graph of asset builds, asset publishes and stack deployments. A stack starts once the stacks it depends
on are deployed and its own assets are published; image builds start at once (``--asset-prebuild``, the default) or
once their stack's dependencies are deployed (``--no-asset-prebuild``); at most ``--concurrency`` stacks deploy at a
time (1 by default), ``--asset-build-concurrency`` images build at a time (1 by default) and 8 publishes run at once;
ready work starts in priority order (builds, stacks, publishes). The CLI's defaults are read from the pinned CLI and
the flags from the workflow's `cdk deploy` line. An image builds natively on a runner of its platform and under QEMU
on another (several times slower); every duration comes from ``create_times.py``, each with its source.

A stack takes its change set overhead plus the longest chain of creations through its resources (``DependsOn``,
``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` inside the template: CloudFormation creates the rest in parallel); custom
resources count on that chain like any resource (the ENI cleanups the cluster and the orders workloads wait for, with
their provider functions). A rollout wait lasts until its Deployment's pods are Ready (``rollout.py``: image pull,
readiness probe, and for pods behind an NLB with readiness gates the target's registration and health checks).

**A code update** of one service: its image is built and published (the others are in the repository already, and the
CLI skips published assets), every stack whose template holds that image's tag is updated, the others are compared
and skipped. In an updated stack only the resources that hold the tag run again (its manifests and its rollout waits:
a rolling update at the HorizontalPodAutoscaler's minimum, plus a node's provisioning when the service's surge does not
fit the on-demand nodes). The figure is the slowest service's.

**Fails** when the deploy role's session (the workflow's ``role-duration-seconds``, capped by the role's
``MaxSessionDuration``; the CLI chains from it into the bootstrap roles, aws-cdk#19359) or the job's ``timeout-minutes``
is shorter than the first deploy; when either estimate exceeds the config's ``deploy_limits``; when a rollout wait
gives up before a rolling update of its Deployment at the HPA's *maximum* is done, with the NLB's slowest registration
and a node to wait for (a deploy at peak load would fail its stack, and the rollback re-runs the same wait); and when a
rollout wait may outlast the kubectl handler function that runs it (Lambda stops it at its timeout, 15 minutes at
most, and the custom resource fails).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from config.environment import EnvironmentConfig
from tools.assembly import Assembly, Resource
from tools.reports.preflight import scheduling
from tools.reports.preflight.create_times import (
    IMAGE_BUILD_EMULATED_MINUTES,
    IMAGE_BUILD_NATIVE_MINUTES,
    IMAGE_PUSH_MINUTES,
    MANIFEST_UPDATE_MINUTES,
    NODE_PROVISION_MINUTES,
    STACK_OVERHEAD_MINUTES,
    STACK_UNCHANGED_MINUTES,
    create_minutes,
)
from tools.reports.preflight.model import CheckResult, Finding
from tools.reports.preflight.rollout import ROLLOUT_WAIT, Rollout, rollouts
from tools.reports.preflight.workflow import CLI_REGISTRY, DEPLOY_WORKFLOW, DeployJob, deploy_job

NAME = "deploy-duration"
GITHUB_OIDC = "token.actions.githubusercontent.com"
DEFAULT_MAX_SESSION_SECONDS = 3600
KUBERNETES_RESOURCE = "Custom::AWSCDK-EKS-KubernetesResource"
# aws-cdk: the asset-publish slots of `cdk deploy`'s work graph (fixed, "8 in parallel seems reasonable").
PUBLISH_CONCURRENCY = 8
# aws-cdk WorkGraphBuilder.PRIORITIES: ready work of a higher priority starts first.
PRIORITY = {"build": 10, "stack": 5, "publish": 0}
# Lambda stops a function at its timeout (at most 900 s). Before the kubectl handler's wait loop starts it writes a
# kubeconfig (`aws eks update-kubeconfig`) after a cold start, and its last `kubectl get` and 10 s sleep may run past
# the wait's deadline: the wait must end this much before the function's timeout (assumption).
HANDLER_MARGIN_SECONDS = 60


def _in_vpc(r: Resource) -> bool:
    return bool((r.properties.get("VpcConfig") or {}).get("SubnetIds"))


def resource_create_minutes(r: Resource) -> float:
    return create_minutes(r.type, in_vpc=_in_vpc(r))


def stack_minutes(assembly: Assembly, stack: str,
                  known: dict[tuple[str, str], float] | None = None) -> tuple[float, list[str]]:
    """The longest chain of creations through the stack's resources, and that chain (logical ids). ``known``: create
    minutes of particular resources ((stack, logical id)), in place of their type's."""
    resources = assembly.stacks[stack].resources
    known = known if known is not None else first_rollouts(assembly)

    @cache
    def finish(lid: str) -> tuple[float, tuple[str, ...]]:
        before = max((finish(d) for d in assembly.dependencies(stack, lid)), default=(0.0, ()))
        return before[0] + known.get((stack, lid), resource_create_minutes(resources[lid])), (*before[1], lid)

    if not resources:
        return STACK_OVERHEAD_MINUTES, []
    longest = max((finish(lid) for lid in resources), key=lambda x: x[0])
    return STACK_OVERHEAD_MINUTES + longest[0], list(longest[1])


def update_minutes(assembly: Assembly, stack: str, changed: set[str],
                   known: dict[tuple[str, str], float]) -> tuple[float, list[str]]:
    """The longest chain through the resources of ``stack`` that an update runs again (``changed``)."""

    @cache
    def finish(lid: str) -> tuple[float, tuple[str, ...]]:
        r = assembly.stacks[stack].resources[lid]
        before = max((finish(d) for d in assembly.dependencies(stack, lid) if d in changed), default=(0.0, ()))
        own = known.get((stack, lid), MANIFEST_UPDATE_MINUTES if r.type == KUBERNETES_RESOURCE
                        else resource_create_minutes(r))
        return before[0] + own, (*before[1], lid)

    if not changed:
        return STACK_UNCHANGED_MINUTES, []
    longest = max((finish(lid) for lid in changed), key=lambda x: x[0])
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


# --- the CLI's work graph -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    id: str
    kind: str  # build, publish, stack
    minutes: float
    deps: frozenset[str] = frozenset()


def schedule(jobs: Iterable[Job], slots: dict[str, int]) -> dict[str, float]:
    """When each job finishes if every job starts as soon as its dependencies are done and a slot of its kind is
    free, ready jobs in priority order (the CLI's ``doParallel``)."""
    pending = list(jobs)
    done: dict[str, float] = {}
    running: list[tuple[float, str, str]] = []
    now = 0.0
    while pending or running:
        ready = sorted((j for j in pending if j.deps <= done.keys()), key=lambda j: -PRIORITY[j.kind])
        for j in ready:
            if sum(1 for r in running if r[2] == j.kind) < max(slots.get(j.kind, 1), 1):
                pending.remove(j)
                running.append((now + j.minutes, j.id, j.kind))
        if not running:
            raise ValueError(f"unsatisfiable dependencies: {', '.join(j.id for j in pending)}")
        running.sort()
        now, finished, _ = running.pop(0)
        done[finished] = now
    return done


def schedule_stacks(order: list[str], dependencies: dict[str, set[str]], minutes: dict[str, float],
                    workers: int) -> float:
    """Wall time to deploy the stacks ``workers`` at a time, each as soon as its dependencies are done."""
    finish = schedule([Job(s, "stack", minutes[s], frozenset(dependencies[s])) for s in order], {"stack": workers})
    return max(finish.values(), default=0.0)


@dataclass(frozen=True)
class Image:
    stack: str
    asset: str  # the asset's id in the stack's asset manifest
    tag: str  # its destination image tag (the asset hash the templates carry)
    platform: str


def images(assembly: Assembly, skip: set[str]) -> list[Image]:
    out = []
    for stack in assembly.stack_order():
        if stack in skip:
            continue
        for asset_id, image in assembly.asset_manifest(stack).get("dockerImages", {}).items():
            tags = {str(d.get("imageTag")) for d in (image.get("destinations") or {}).values() if d.get("imageTag")}
            out.append(Image(stack, asset_id, next(iter(sorted(tags)), asset_id),
                             str(image.get("source", {}).get("platform", ""))))
    return out


@dataclass
class Estimate:
    minutes: float
    per_stack: dict[str, float]
    images_minutes: float  # when the last image is published
    chains: dict[str, list[str]] = field(default_factory=dict)


def _build_minutes(image: Image, runner_arch: str) -> float:
    native = not image.platform or image.platform.endswith(runner_arch)
    return IMAGE_BUILD_NATIVE_MINUTES if native else IMAGE_BUILD_EMULATED_MINUTES


def _graph(assembly: Assembly, order: list[str], per_stack: dict[str, float], built: list[Image], job: DeployJob
           ) -> tuple[dict[str, float], float]:
    jobs: list[Job] = []
    publishes: dict[str, set[str]] = {s: set() for s in order}
    for img in built:
        stack_deps = {d for d in assembly.stacks[img.stack].dependencies if d in per_stack}
        build = Job(f"build {img.asset}", "build", _build_minutes(img, job.runner_arch),
                    frozenset() if job.asset_prebuild else frozenset(stack_deps))
        publish = Job(f"publish {img.asset}", "publish", IMAGE_PUSH_MINUTES, frozenset({build.id}))
        jobs += [build, publish]
        publishes[img.stack].add(publish.id)
    for s in order:
        deps = {d for d in assembly.stacks[s].dependencies if d in per_stack} | publishes[s]
        jobs.append(Job(s, "stack", per_stack[s], frozenset(deps)))
    finish = schedule(jobs, {"stack": job.concurrency, "build": job.asset_build_concurrency,
                             "publish": PUBLISH_CONCURRENCY})
    last_image = max((t for k, t in finish.items() if k.startswith("publish ")), default=0.0)
    return finish, last_image


def estimate(assembly: Assembly, *, skip: set[str], job: DeployJob) -> Estimate:
    """A first deploy of every stack but ``skip``."""
    order = [s for s in assembly.stack_order() if s not in skip]
    known = first_rollouts(assembly)
    chains = {s: stack_minutes(assembly, s, known) for s in order}
    per_stack = {s: m for s, (m, _) in chains.items()}
    finish, last_image = _graph(assembly, order, per_stack, images(assembly, skip), job)
    return Estimate(max(finish.values(), default=0.0), per_stack, last_image, {s: c for s, (_, c) in chains.items()})


def _holds(r: Resource, tag: str) -> bool:
    return tag in repr(r.properties)


def code_update(assembly: Assembly, image: Image, *, skip: set[str], job: DeployJob) -> Estimate:
    """A change of the code behind ``image`` alone."""
    order = [s for s in assembly.stack_order() if s not in skip]
    owners = {o.ref for o in assembly.objects("Deployment", "StatefulSet", "DaemonSet")
              if image.tag in repr(o.manifest)}
    node = NODE_PROVISION_MINUTES if scheduling.surge_waiting(assembly, owners) else 0.0
    known = {(r.wait.stack, r.wait.logical_id): r.update_minutes(r.minimum, node_minutes=node)
             for r in rollouts(assembly) if r.deployment.ref in owners}
    per_stack: dict[str, float] = {}
    chains: dict[str, list[str]] = {}
    for s in order:
        changed = {lid for lid, r in assembly.stacks[s].resources.items() if _holds(r, image.tag)}
        per_stack[s], chains[s] = update_minutes(assembly, s, changed, known)
    finish, last_image = _graph(assembly, order, per_stack, [image], job)
    return Estimate(max(finish.values(), default=0.0), per_stack, last_image, chains)


def handler_timeout_seconds(assembly: Assembly, wait: Resource) -> float | None:
    """The timeout of the function that runs a custom resource: the provider framework's, and the user handler's it
    invokes synchronously (``USER_ON_EVENT_FUNCTION_ARN``), whichever is shorter; None when not in the assembly."""
    t = assembly.target(wait.stack, wait.properties.get("ServiceToken"))
    framework = assembly.resource(t.stack, t.logical_id) if t else None
    if framework is None or framework.type != "AWS::Lambda::Function":
        return None
    limits = [float(assembly.literal(framework.stack, framework.properties.get("Timeout")) or 3)]
    variables = (framework.properties.get("Environment") or {}).get("Variables") or {}
    h = assembly.target(framework.stack, variables.get("USER_ON_EVENT_FUNCTION_ARN"))
    handler = assembly.resource(h.stack, h.logical_id) if h else None
    if handler is not None and handler.type == "AWS::Lambda::Function":
        limits.append(float(assembly.literal(handler.stack, handler.properties.get("Timeout")) or 3))
    return min(limits)


def _rollout_findings(assembly: Assembly, details: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    at_min_node = NODE_PROVISION_MINUTES if scheduling.surge_waiting(assembly) else 0.0
    for r in rollouts(assembly):
        fast = r.update_minutes(r.minimum, node_minutes=at_min_node)
        worst = r.update_minutes(r.maximum, slow=True, node_minutes=NODE_PROVISION_MINUTES)
        what = (f"{r.deployment.ref}: in a rolling update a new pod is Ready {r.pod_ready_minutes():.1f}"
                + (f"-{r.pod_ready_minutes(slow=True):.1f} min after it starts (NLB registration and health checks of "
                   f"{r.target_group.logical_id})" if r.target_group else " min after it starts")
                + f", so the update takes {fast:.1f} min at {r.minimum} replicas and up to {worst:.1f} min at "
                  f"{r.maximum} ({'the NLB' + chr(39) + 's slowest registration, ' if r.target_group else ''}a node "
                  f"to wait for); the rollout wait {r.wait.logical_id} gives up after {r.timeout_minutes:.0f} min")
        details.append(f"  {what}")
        if worst > r.timeout_minutes:
            limit = _fits(r)
            when = (f"while the HorizontalPodAutoscaler holds more than {limit} replicas" if limit
                    else "at any replica count")
            findings.append(Finding(r.wait.name, f"{what}: a deploy that changes the Deployment {when} fails the "
                                                 f"{r.wait.stack} stack, and its rollback runs the same wait"))
    for wait in assembly.resources(ROLLOUT_WAIT):
        cap = handler_timeout_seconds(assembly, wait)
        timeout = float(assembly.literal(wait.stack, wait.properties.get("TimeoutSeconds")) or 300)
        if cap is not None and timeout + HANDLER_MARGIN_SECONDS > cap:
            findings.append(Finding(wait.name, f"waits up to {timeout:.0f} s inside a function Lambda stops after "
                                               f"{cap:.0f} s (less {HANDLER_MARGIN_SECONDS} s for its start and "
                                               "last poll): the custom resource fails instead of reporting"))
    return findings


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
    skip = {role.stack}
    est = estimate(assembly, skip=skip, job=job)
    minutes = est.minutes
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
    limits = config.deploy_limits
    if minutes > limits.first_deploy_minutes:
        slowest = max(est.per_stack, key=lambda s: est.per_stack[s])
        findings.append(Finding(f"{workflow.name} job {job.job}", f"a first deploy of {config.name} takes about "
                                f"{minutes:.0f} min, over the config's limit of {limits.first_deploy_minutes:g} "
                                f"(deploy_limits.first_deploy_minutes); slowest stack {slowest} "
                                f"{est.per_stack[slowest]:.0f} min, images done at {est.images_minutes:.0f} min"))
    updates = {img.asset: code_update(assembly, img, skip=skip, job=job) for img in images(assembly, skip)}
    slowest_update = max(updates, key=lambda a: updates[a].minutes, default=None)
    update = updates[slowest_update].minutes if slowest_update else 0.0
    if slowest_update and update > limits.code_update_minutes:
        u = updates[slowest_update]
        touched = [s for s, m in u.per_stack.items() if u.chains[s]]
        findings.append(Finding(f"image asset {slowest_update}", f"a change of its code alone takes about "
                                f"{update:.1f} min (image {u.images_minutes:.1f}, updates {', '.join(touched)}), over "
                                f"the config's limit of {limits.code_update_minutes:g} "
                                "(deploy_limits.code_update_minutes)"))
    details = [f"  first deploy: {s} {m:.1f} min ({' > '.join(est.chains[s][-3:])})" for s, m in est.per_stack.items()]
    for asset, u in updates.items():
        updated = {s: m for s, m in u.per_stack.items() if u.chains[s]}
        details.append(f"  code update of {asset}: {u.minutes:.1f} min (image published at {u.images_minutes:.1f}; "
                       + ", ".join(f"{s} {m:.1f} min" for s, m in updated.items()) + "; other stacks unchanged)")
    findings += _rollout_findings(assembly, details)
    figure = (f"first deploy ~{minutes:.0f} min (limit {limits.first_deploy_minutes:g}; images published by "
              f"{est.images_minutes:.0f}, stacks at concurrency {job.concurrency}), code update ~{update:.1f} min "
              f"(limit {limits.code_update_minutes:g}); session {session:.0f} min, job timeout "
              f"{job.timeout_minutes} min")
    return CheckResult(NAME, config.name, figure, findings, details)


def _fits(r: Rollout) -> int:
    """The most replicas a rolling update of ``r`` gets through within its wait's timeout (slowest registration,
    a node to wait for)."""
    return max((n for n in range(r.minimum, r.maximum + 1)
                if r.update_minutes(n, slow=True, node_minutes=NODE_PROVISION_MINUTES) <= r.timeout_minutes),
               default=0)
