"""Working hours (review 1, finding 7): dev's nodes sleep on a schedule, so its deploy job wakes them and holds the
scheduled sleep before `cdk deploy` and releases it afterwards whatever happened, and `make destroy` wakes and holds
before `cdk destroy`. The check reads the sleep from the assembly and the order from the workflow and the Makefile
the repository ships; each order broken in a copy of them fails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.preflight.workbench import Workbench
from tests.synthesis import Synthesized
from tools.assembly import Assembly
from tools.reports.preflight import working_hours


def _copies(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    workflow, makefile = tmp_path / "deploy.yml", tmp_path / "Makefile"
    makefile.write_text(working_hours.MAKEFILE.read_text())
    doc = yaml.safe_load(working_hours.DEPLOY_WORKFLOW.read_text())
    workflow.write_text(yaml.safe_dump(doc))
    return workflow, makefile, doc


def _dev_steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = doc["jobs"]["deploy-dev"]["steps"]
    return steps


def test_dev_sleeps_and_its_deploy_and_teardown_hold_the_sleep(synth: Callable[[str], Synthesized]) -> None:
    dev = synth("dev")
    result = working_hours.check(Assembly(dev.outdir), dev.config)
    assert result.ok, result.findings
    assert result.figure == f"{len(dev.config.cluster.node_pools)} sleep schedules"
    assert any("'Wake the node groups and hold their scheduled sleep'" in d and "before cdk deploy" in d
               for d in result.details)
    assert any(d.startswith("make destroy: '$(PY) -m tools.ops.wake $(ENV) --hold") for d in result.details)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_an_environment_that_never_sleeps_has_nothing_to_hold(synth: Callable[[str], Synthesized], env: str) -> None:
    s = synth(env)
    assert s.config.cluster.schedule is None
    result = working_hours.check(Assembly(s.outdir), s.config)
    assert result.ok and result.figure == "no scheduled sleep"


def _break_deploy_wake(doc: dict[str, Any]) -> None:
    """The wake as it was before review 1: no hold, so a scheduled sleep can empty the nodes mid-deploy."""
    for s in _dev_steps(doc):
        if "make wake" in str(s.get("run", "")):
            s["run"] = s["run"].replace(" HOLD=1", "")


def _wake_after_deploy(doc: dict[str, Any]) -> None:
    steps = _dev_steps(doc)
    wake = next(s for s in steps if "make wake" in str(s.get("run", "")))
    steps.remove(wake)
    steps.insert(next(i for i, s in enumerate(steps) if "cdk deploy" in str(s.get("run", ""))) + 1, wake)


def _release_only_on_success(doc: dict[str, Any]) -> None:
    for s in _dev_steps(doc):
        if "make sleep" in str(s.get("run", "")):
            s["if"] = "env.WAKE_ROLE_ARN != ''"


def _no_release(doc: dict[str, Any]) -> None:
    doc["jobs"]["deploy-dev"]["steps"] = [s for s in _dev_steps(doc) if "make sleep" not in str(s.get("run", ""))]


@pytest.mark.parametrize(("breaks", "expected"), [
    (_break_deploy_wake, "no step wakes dev and holds its scheduled sleep (make wake ENV=dev WAIT=1 HOLD=1)"),
    (_wake_after_deploy, "wakes dev only after the cdk deploy step"),
    (_release_only_on_success, "releases the held sleep only when the deploy succeeded"),
    (_no_release, "no step after cdk deploy releases the held sleep"),
])
def test_a_deploy_that_does_not_wake_and_hold_first_fails(synth: Callable[[str], Synthesized], tmp_path: Path,
                                                          breaks: Callable[[dict[str, Any]], None],
                                                          expected: str) -> None:
    dev = synth("dev")
    workflow, makefile, doc = _copies(tmp_path)
    breaks(doc)
    workflow.write_text(yaml.safe_dump(doc))
    [finding] = working_hours.check(Assembly(dev.outdir), dev.config, workflow=workflow, makefile=makefile).findings
    assert finding.resource == "deploy.yml job deploy-dev" and expected in finding.message


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda text: text.replace("\t$(PY) -m tools.ops.wake $(ENV) --hold --wait --if-scheduled\n", ""),
     "cdk destroy runs without waking dev and holding its scheduled sleep first"),
    (lambda text: text.replace(" --hold --wait --if-scheduled", " --wait --if-scheduled"),
     "cdk destroy runs without waking dev and holding its scheduled sleep first"),
    (lambda text: text.replace("\ndestroy: synth\n", "\nteardown: synth\n"), "no destroy target"),
])
def test_a_teardown_that_does_not_wake_and_hold_first_fails(synth: Callable[[str], Synthesized], tmp_path: Path,
                                                            edit: Callable[[str], str], expected: str) -> None:
    dev = synth("dev")
    workflow, makefile, _ = _copies(tmp_path)
    text = makefile.read_text()
    assert edit(text) != text
    makefile.write_text(edit(text))
    [finding] = working_hours.check(Assembly(dev.outdir), dev.config, workflow=workflow, makefile=makefile).findings
    assert expected in finding.message


def test_the_sleep_is_read_from_the_assembly(bench: Callable[[str], Workbench], tmp_path: Path) -> None:
    """Schedules that never empty a group (a wake only) are no sleep: nothing to hold, even with no wake at all."""
    wb = bench("dev")
    sleeps = working_hours.sleep_schedules(wb.assembly())
    assert len(sleeps) == len(wb.config.cluster.node_pools) and all("Sleep" in r.logical_id for r in sleeps)
    for lid in [lid for lid in wb.resources("Cluster", "AWS::Scheduler::Schedule") if "Sleep" in lid]:
        wb.remove("Cluster", lid)
    workflow, makefile, doc = _copies(tmp_path)
    _break_deploy_wake(doc)
    workflow.write_text(yaml.safe_dump(doc))
    result = working_hours.check(wb.assembly(), wb.config, workflow=workflow, makefile=makefile)
    assert result.ok and result.figure == "no scheduled sleep"
