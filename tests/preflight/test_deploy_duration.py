"""Deploy duration: the first deploy and a service's code update, estimated as the pinned CLI runs them, within the
config's limits, the deploy session and the job's timeout; rollout waits that outlast a rolling update at the HPA's
maximum and end inside the kubectl handler's Lambda timeout."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import yaml

from config.environment import DeployLimits
from tests.preflight.workbench import Workbench
from tools.assembly import Assembly
from tools.reports.preflight import deploy_duration
from tools.reports.preflight.create_times import (
    CREATE_MINUTES,
    IMAGE_BUILD_EMULATED_MINUTES,
    IMAGE_BUILD_NATIVE_MINUTES,
    IMAGE_PULL_MINUTES,
    IMAGE_PUSH_MINUTES,
    NLB_TARGET_REGISTRATION_MINUTES,
    STACK_OVERHEAD_MINUTES,
)
from tools.reports.preflight.deploy_duration import Job
from tools.reports.preflight.rollout import rollouts
from tools.reports.preflight.teardown import ENI_CLEANUP
from tools.reports.preflight.workflow import DEPLOY_WORKFLOW, cli_defaults, deploy_job


def workflow(tmp_path: Path, *, duration: int | None, timeout: int = 180, flags: str | None = None,
             runner: str | None = None) -> Path:
    """The real deploy workflow with the credentials step's session, the jobs' timeout, and optionally the `cdk
    deploy` flags (``--concurrency`` and ``--asset-build-concurrency`` replaced) and runner set."""
    doc = yaml.safe_load(DEPLOY_WORKFLOW.read_text())
    for job in doc["jobs"].values():
        if "environment" not in job:
            continue
        job["timeout-minutes"] = timeout
        if runner is not None:
            job["runs-on"] = runner
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials"):
                step["with"].pop("role-duration-seconds", None)
                if duration is not None:
                    step["with"]["role-duration-seconds"] = duration
            if flags is not None and "cdk deploy" in str(step.get("run", "")):
                step["run"] = re.sub(r" --(asset-build-)?concurrency \d+", "", step["run"]) + f" {flags}"
    path = tmp_path / "deploy.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def session(wb: Workbench, seconds: int) -> Workbench:
    role = deploy_duration.deploy_role(wb.assembly())
    assert role is not None and role.stack == wb.stack("Delivery")
    wb.template("Delivery")["Resources"][role.logical_id]["Properties"]["MaxSessionDuration"] = seconds
    return wb


def test_three_hour_session_passes(bench: Callable[[str], Workbench], tmp_path: Path) -> None:
    wb = session(bench("dev"), 3 * 3600)
    result = deploy_duration.check(wb.assembly(), wb.config, workflow(tmp_path, duration=3 * 3600))
    assert result.ok, result.findings
    assert "concurrency 4" in result.figure and "session 180 min, job timeout 180 min" in result.figure


def test_a_session_shorter_than_the_first_deploy_fails(bench: Callable[[str], Workbench], tmp_path: Path) -> None:
    wb = session(bench("dev"), 3600)
    [finding] = deploy_duration.check(wb.assembly(), wb.config, workflow(tmp_path, duration=1800)).findings
    assert finding.resource.startswith("Dev-Delivery/DeployRole")
    assert "the deploy session lasts 30 min" in finding.message and "role-duration-seconds (1800 s)" in finding.message


def test_longer_role_without_a_longer_request_still_gets_the_oidc_hour(bench: Callable[[str], Workbench],
                                                                         tmp_path: Path) -> None:
    """One stack at a time (the CLI's default concurrency), prod's first deploy outlasts the OIDC default hour."""
    wb = session(bench("prod"), 3 * 3600)
    config = replace(wb.config, deploy_limits=DeployLimits(first_deploy_minutes=600))
    findings = deploy_duration.check(wb.assembly(), config, workflow(tmp_path, duration=None, flags="")).findings
    [finding] = [f for f in findings if f.resource.startswith("Prod-Delivery")]
    assert "role-duration-seconds (3600 s, the OIDC default)" in finding.message


def test_request_beyond_the_role_maximum_fails(bench: Callable[[str], Workbench], tmp_path: Path) -> None:
    wb = session(bench("dev"), 2 * 3600)
    messages = [f.message for f in deploy_duration.check(wb.assembly(), wb.config,
                                                         workflow(tmp_path, duration=4 * 3600)).findings]
    assert any("STS refuses AssumeRoleWithWebIdentity" in m for m in messages)


def test_job_timeout_below_the_estimate_fails(bench: Callable[[str], Workbench], tmp_path: Path) -> None:
    wb = session(bench("dev"), 3 * 3600)
    [finding] = deploy_duration.check(wb.assembly(), wb.config,
                                      workflow(tmp_path, duration=3 * 3600, timeout=30)).findings
    assert finding.resource == "deploy.yml job deploy-dev" and "timeout-minutes 30" in finding.message


def test_assembly_without_the_delivery_stack_says_so(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    roles = wb.template("Delivery")["Resources"]
    for lid in [k for k, v in roles.items() if v["Type"] == "AWS::IAM::Role"]:
        del roles[lid]
    [finding] = deploy_duration.check(wb.assembly(), wb.config).findings
    assert "-c delivery=exclude" in finding.message


def test_the_cluster_stack_waits_for_the_cluster(bench: Callable[[str], Workbench]) -> None:
    assembly = bench("dev").assembly()
    minutes, chain = deploy_duration.stack_minutes(assembly, "Dev-Cluster")
    assert minutes >= STACK_OVERHEAD_MINUTES + CREATE_MINUTES["AWS::EKS::Cluster"].minutes
    assert "PlatformCluster6842C9C4" in chain


def test_stacks_run_as_many_at_a_time_as_the_cli_allows() -> None:
    deps = {"net": set(), "a": {"net"}, "b": {"net"}, "c": {"a", "b"}}
    minutes = {"net": 5.0, "a": 10.0, "b": 10.0, "c": 1.0}
    order = ["net", "a", "b", "c"]
    assert deploy_duration.schedule_stacks(order, deps, minutes, 1) == 26
    assert deploy_duration.schedule_stacks(order, deps, minutes, 2) == 16


def test_images_build_while_stacks_deploy_and_a_stack_waits_only_for_its_own() -> None:
    """The CLI's work graph: with --asset-prebuild the builds start at once, beside the first stacks; a stack waits
    for its dependencies and its own published images."""
    jobs = [Job("build a", "build", 6.0), Job("publish a", "publish", 1.0, frozenset({"build a"})),
            Job("net", "stack", 4.0), Job("cluster", "stack", 20.0, frozenset({"net"})),
            Job("services", "stack", 5.0, frozenset({"cluster", "publish a"}))]
    finish = deploy_duration.schedule(jobs, {"stack": 1, "build": 1, "publish": 8})
    assert finish["publish a"] == 7.0 and finish["services"] == 29.0  # not 6 + 1 + 4 + 20 + 5
    slow = [Job("build a", "build", 30.0), *jobs[1:]]
    assert deploy_duration.schedule(slow, {"stack": 1, "build": 1, "publish": 8})["services"] == 36.0


def test_cli_defaults_come_from_the_pinned_cli() -> None:
    defaults = cli_defaults()
    assert (defaults["concurrency"], defaults["asset-build-concurrency"], defaults["asset-prebuild"]) == (1, 1, True)
    job = deploy_job("staging")
    assert job is not None and job.job == "deploy-staging" and job.runner_arch == "arm64"
    assert (job.concurrency, job.asset_build_concurrency) == (4, 4)


def test_the_first_deploy_waits_for_the_cleanups_and_the_rollouts(bench: Callable[[str], Workbench]) -> None:
    """The cluster waits for its ENI cleanup (and that for its provider), the orders workloads for theirs, and each
    rollout wait lasts until its pods are Ready, behind the NLB's registration when readiness gates wait for it."""
    wb = bench("prod")
    assembly = wb.assembly()
    with_cleanup, chain = deploy_duration.stack_minutes(assembly, "Prod-Cluster")
    [cleanup] = [r.logical_id for r in assembly.resources(ENI_CLEANUP) if r.stack == "Prod-Cluster"]
    assert cleanup in chain
    for body in wb.template("Cluster")["Resources"].values():  # the cluster no longer waits for it
        body["DependsOn"] = [d for d in body.get("DependsOn", []) if d != cleanup]
    assert deploy_duration.stack_minutes(wb.assembly(), "Prod-Cluster")[0] < with_cleanup
    waits = rollouts(assembly)
    assert len(waits) == len(assembly.objects("Deployment"))
    api = [r for r in waits if r.target_group is not None]
    assert api and all(r.pod_ready_minutes(first=True) >= NLB_TARGET_REGISTRATION_MINUTES + IMAGE_PULL_MINUTES
                       for r in api)
    minutes, chain = deploy_duration.stack_minutes(assembly, "Prod-Services")
    assert chain[-1] in {r.wait.logical_id for r in api}  # the stack ends when the slowest rollout is done
    assert minutes >= STACK_OVERHEAD_MINUTES + max(r.pod_ready_minutes(first=True) for r in api)


def test_a_rollout_wait_shorter_than_a_rolling_update_fails(bench: Callable[[str], Workbench],
                                                          tmp_path: Path) -> None:
    """Replacing one pod at a time behind an NLB takes minutes per pod: at 10 replicas the wait gives up (and a code
    update of users takes as long, over the config's limit)."""
    wb = session(bench("prod"), 3 * 3600)
    wb.edit_objects("Services", "HorizontalPodAutoscaler", lambda h: h["spec"].update(minReplicas=10, maxReplicas=12)
                    if h["metadata"]["name"] == "users-api" else None)
    wb.edit_objects("Services", "Deployment", lambda d: d["spec"].update(
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
        if d["metadata"]["name"] == "users-api" else None)
    assembly = wb.assembly()
    findings = deploy_duration.check(assembly, wb.config, workflow(tmp_path, duration=3 * 3600)).findings
    [wait] = [r.wait for r in rollouts(assembly) if r.deployment.name == "users-api"]
    [finding] = [f for f in findings if f.resource == wait.name]
    assert [f.message.split(":")[0] for f in findings if f is not finding] == ["a change of its code alone takes "
                                                                               "about 44.2 min (image 3.0, updates "
                                                                               "Prod-Services), over the config's "
                                                                               "limit of 10 (deploy_limits.code_update"
                                                                               "_minutes)"]
    assert "at 10 replicas" in finding.message
    assert "at any replica count fails the Prod-Services stack" in finding.message


def test_a_quarter_surge_behind_the_nlb_outruns_the_wait(bench: Callable[[str], Workbench], tmp_path: Path) -> None:
    """Issue 22, finding 3: main's APIs replaced a quarter of their pods at a time (one at prod's minimum of 3), each
    step behind an NLB registration: 12-18 minutes at 3 replicas against a 12-minute wait. Every API fails; the app's
    own (the whole ReplicaSet at once) passes."""
    wb = session(bench("prod"), 3 * 3600)
    assert deploy_duration.check(wb.assembly(), wb.config, workflow(tmp_path, duration=3 * 3600)).ok
    wb.edit_objects("Services", "Deployment", lambda d: d["spec"]["strategy"]["rollingUpdate"].update(maxSurge="25%"))
    assembly = wb.assembly()
    findings = deploy_duration.check(assembly, wb.config, workflow(tmp_path, duration=3 * 3600)).findings
    api = {r.wait.name for r in rollouts(assembly) if r.target_group is not None}
    waits = [f for f in findings if not f.resource.startswith("image asset")]
    assert {f.resource for f in waits} == api and len(api) == 4
    assert all("the update takes 11.8 min at 3 replicas" in f.message and "gives up after 12 min" in f.message
               for f in waits)
    # one pod at a time, a code update of a service takes its three registrations: over the config's limit too
    assert {f.message.split(" (")[0] for f in findings if f not in waits} == {
        "a change of its code alone takes about 16.8 min"}


def test_a_wait_the_kubectl_handler_cannot_finish_fails(bench: Callable[[str], Workbench], tmp_path: Path) -> None:
    """A rollout wait runs inside the kubectl handler function, which Lambda stops at its timeout (900 s)."""
    wb = session(bench("dev"), 3 * 3600)
    waits = wb.resources("Services", "Custom::AWSCDK-EKS-KubernetesObjectValue")
    lid = next(iter(waits))
    wb.template("Services")["Resources"][lid]["Properties"]["TimeoutSeconds"] = 880
    findings = deploy_duration.check(wb.assembly(), wb.config, workflow(tmp_path, duration=3 * 3600)).findings
    [finding] = [f for f in findings if f.resource.startswith(f"Dev-Services/{lid}") and "Lambda" in f.message]
    assert "waits up to 880 s inside a function Lambda stops after 900 s" in finding.message


def test_the_configs_limits_fail_a_slower_deploy(bench: Callable[[str], Workbench], tmp_path: Path) -> None:
    """Issue 26: the first deploy and one service's code update within the config's limits; one stack at a time
    under QEMU (main's pipeline) exceeds both."""
    wb = session(bench("prod"), 3 * 3600)
    slow = workflow(tmp_path, duration=3 * 3600, flags="", runner="ubuntu-latest")
    messages = [f.message for f in deploy_duration.check(wb.assembly(), wb.config, slow).findings]
    assert any(m.startswith("a first deploy of prod takes about") and "over the config's limit of 60" in m
               for m in messages)
    assert any(m.startswith("a change of its code alone takes about") and "limit of 10" in m for m in messages)
    fast = deploy_duration.check(wb.assembly(), wb.config, workflow(tmp_path, duration=3 * 3600))
    assert fast.ok, fast.findings
    figures = re.search(r"first deploy ~(\d+) min .* code update ~([\d.]+) min", fast.figure)
    assert figures and int(figures[1]) <= 60 and float(figures[2]) <= 10


def test_a_code_update_touches_only_the_stacks_that_hold_its_image(bench: Callable[[str], Workbench]) -> None:
    """The image tag is in the Services stack alone: a code change updates that stack, the rest are compared and
    skipped. An output carrying the tag elsewhere adds that stack to the update."""
    wb = bench("prod")
    assembly = wb.assembly()
    job = deploy_job("prod")
    assert job is not None
    [image, *_] = deploy_duration.images(assembly, {"Prod-Delivery"})
    update = deploy_duration.code_update(assembly, image, skip={"Prod-Delivery"}, job=job)
    assert [s for s, chain in update.chains.items() if chain] == ["Prod-Services"]
    assert update.minutes <= IMAGE_BUILD_NATIVE_MINUTES + IMAGE_PUSH_MINUTES + update.per_stack["Prod-Services"] + 1
    emulated = replace(job, runner_arch="amd64")
    slower = deploy_duration.code_update(assembly, image, skip={"Prod-Delivery"}, job=emulated)
    assert slower.minutes - update.minutes == IMAGE_BUILD_EMULATED_MINUTES - IMAGE_BUILD_NATIVE_MINUTES
    wb.template("Observability").setdefault("Outputs", {})["ImageTag"] = {"Value": f"tag-{image.tag}"}
    spread = deploy_duration.code_update(wb.assembly(), image, skip={"Prod-Delivery"}, job=job)
    assert "Prod-Observability" not in [s for s, c in spread.chains.items() if c]  # outputs are not resources
    obs = next(iter(wb.resources("Observability", "AWS::SNS::Topic")))
    wb.template("Observability")["Resources"][obs]["Properties"]["DisplayName"] = image.tag
    spread = deploy_duration.code_update(Assembly(wb.assembly().directory), image, skip={"Prod-Delivery"}, job=job)
    assert [s for s, c in spread.chains.items() if c] == ["Prod-Observability", "Prod-Services"]
