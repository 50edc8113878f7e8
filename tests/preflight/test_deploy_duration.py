"""Deploy duration: the deploy role's session outlives the estimated first deploy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from tests.preflight.workbench import Workbench
from tools.preflight import deploy_duration
from tools.preflight.create_times import CREATE_MINUTES, STACK_OVERHEAD_MINUTES
from tools.preflight.workflow import DEPLOY_WORKFLOW, cli_defaults, deploy_job


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
