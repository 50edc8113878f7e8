"""Deploy duration: the deploy role's session outlives the estimated first deploy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from tests.preflight.workbench import Workbench
from tools.reports.preflight import deploy_duration
from tools.reports.preflight.create_times import (
    CREATE_MINUTES,
    IMAGE_PULL_MINUTES,
    NLB_TARGET_REGISTRATION_MINUTES,
    STACK_OVERHEAD_MINUTES,
)
from tools.reports.preflight.rollout import rollouts
from tools.reports.preflight.teardown import ENI_CLEANUP
from tools.reports.preflight.workflow import DEPLOY_WORKFLOW, cli_defaults, deploy_job


def workflow(tmp_path: Path, *, duration: int | None, timeout: int = 180) -> Path:
    """The real deploy workflow with the credentials step's session and the jobs' timeout set."""
    doc = yaml.safe_load(DEPLOY_WORKFLOW.read_text())
    for job in doc["jobs"].values():
        if "environment" not in job:
            continue
        job["timeout-minutes"] = timeout
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials"):
                step["with"].pop("role-duration-seconds", None)
                if duration is not None:
                    step["with"]["role-duration-seconds"] = duration
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
    assert "concurrency 1" in result.figure and "session 180 min, job timeout 180 min" in result.figure


def test_one_hour_session_fails(bench: Callable[[str], Workbench], tmp_path: Path) -> None:
    wb = session(bench("dev"), 3600)
    [finding] = deploy_duration.check(wb.assembly(), wb.config, workflow(tmp_path, duration=3600)).findings
    assert finding.resource.startswith("Dev-Delivery/DeployRole")
    assert "the deploy session lasts 60 min" in finding.message and "MaxSessionDuration 3600 s" in finding.message


def test_longer_role_without_a_longer_request_still_gets_the_oidc_hour(bench: Callable[[str], Workbench],
                                                                         tmp_path: Path) -> None:
    wb = session(bench("prod"), 3 * 3600)
    [finding] = deploy_duration.check(wb.assembly(), wb.config, workflow(tmp_path, duration=None)).findings
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
    assert deploy_duration.schedule(order, deps, minutes, 1) == 26
    assert deploy_duration.schedule(order, deps, minutes, 2) == 16


def test_cli_defaults_come_from_the_pinned_cli() -> None:
    defaults = cli_defaults()
    assert (defaults["concurrency"], defaults["asset-build-concurrency"], defaults["asset-prebuild"]) == (1, 1, True)
    job = deploy_job("staging")
    assert job is not None and job.job == "deploy-staging" and job.runner_arch == "amd64"


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
    """Replacing one pod at a time behind an NLB takes minutes per pod: at 10 replicas the wait gives up."""
    wb = session(bench("prod"), 3 * 3600)
    wb.edit_objects("Services", "HorizontalPodAutoscaler", lambda h: h["spec"].update(minReplicas=10, maxReplicas=12)
                    if h["metadata"]["name"] == "users-api" else None)
    wb.edit_objects("Services", "Deployment", lambda d: d["spec"].update(
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
        if d["metadata"]["name"] == "users-api" else None)
    assembly = wb.assembly()
    [finding] = deploy_duration.check(assembly, wb.config, workflow(tmp_path, duration=3 * 3600)).findings
    [wait] = [r.wait for r in rollouts(assembly) if r.deployment.name == "users-api"]
    assert finding.resource == wait.name
    assert "at 10 replicas" in finding.message and "every deploy that changes the Deployment fails" in finding.message


def test_a_wider_surge_shortens_the_rolling_update(bench: Callable[[str], Workbench]) -> None:
    wb = bench("prod")
    wb.edit_objects("Services", "Deployment", lambda d: d["spec"].update(
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "50%"}}))
    for r in rollouts(wb.assembly()):
        assert r.update_minutes(r.maximum) <= 2 * r.pod_ready_minutes(), r.deployment.ref
