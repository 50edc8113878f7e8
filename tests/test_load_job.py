"""`make load ENV=...`: the load generator's Job as the Services stack synthesizes it on request, the load pool it
runs on, and the tool that deploys it and reads its results (AWS calls against moto and recorded responses)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cdk_constructs.load_generator import CONTEXT, results_key
from cdk_constructs.platform_cluster import DEDICATED_LABEL
from config.environment import API_CLIENT_TAG, ApiClient, ConfigError
from config.environments import DEV, PROD, STAGING
from config.images import BASE_IMAGE, BASE_IMAGE_ARG
from config.load_test import LOAD_GENERATOR, LoadTestRun, parse
from stacks.platform import build_app
from tests.synthesis import ROOT, Synthesized
from tools.assembly import Assembly
from tools.ops import load_job
from tools.reports.preflight import finalizers, prune

RUN = LoadTestRun("20261128-120000", users=50, seconds=600)


@pytest.fixture(scope="module")
def job_outdir() -> Iterator[Path]:
    """Where staging with the Job is synthesized; removed afterwards (its staged assets are tens of MB a run)."""
    outdir = Path(tempfile.mkdtemp(prefix="cdk.out.load."))
    yield outdir
    shutil.rmtree(outdir, ignore_errors=True)


@pytest.fixture(scope="module")
def staging_with_job(job_outdir: Path) -> dict[str, Any]:
    app, platform = build_app(STAGING, outdir=str(job_outdir), load_test=RUN)
    assembly = app.synth()
    return dict(assembly.get_stack_by_name(platform.services.stack_name).template)


def test_the_image_context_holds_the_scenario_and_what_it_imports_only(staging_with_job: dict[str, Any],
                                                                       job_outdir: Path) -> None:
    images = json.loads((job_outdir / "Staging-Services.assets.json").read_text())["dockerImages"]
    (source,) = [v["source"] for v in images.values() if v["source"].get("dockerFile") == "tools/load/Dockerfile"]
    staged = job_outdir / source["directory"]
    files = sorted(str(f.relative_to(staged)) for f in staged.rglob("*") if f.is_file())
    contract = sorted(f"services/contract/{f.name}" for f in (ROOT / "services/contract").glob("*.py"))
    assert files == sorted([p for p in CONTEXT if p != "services/contract"] + contract)
    assert source["dockerBuildArgs"] == {BASE_IMAGE_ARG: BASE_IMAGE}


def test_the_job_runs_the_scenario_on_the_load_pool_and_writes_its_results(staging_with_job: dict[str, Any]) -> None:
    text = json.dumps(staging_with_job["Resources"])
    assert "LoadGeneratorJob" in text and "load-20261128-120000" in text
    assert f'\\"{DEDICATED_LABEL}\\":\\"{LOAD_GENERATOR}\\"' in text  # nodeSelector
    assert '\\"effect\\":\\"NoSchedule\\"' in text and '\\"backoffLimit\\":0' in text
    for arg in ('\\"--users\\",\\"50\\"', '\\"--duration\\",\\"600\\"', '\\"--environment-name\\",\\"staging\\"'):
        assert arg in text, arg
    assert "RESULTS_URI" in text and "load/20261128-120000/results.json" in text
    assert '\\"readOnlyRootFilesystem\\":true' in text
    assert '\\"pod-security.kubernetes.io/enforce\\":\\"restricted\\"' in text
    policies = [r["Properties"] for lid, r in staging_with_job["Resources"].items()
                if lid.startswith("LoadGeneratorRolePolicy")]
    (policy,) = policies
    writes = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "s3:PutObject"]
    assert len(writes) == 1 and json.dumps(writes[0]["Resource"]).endswith('/load/20261128-120000/results.json"]]}')


def test_the_load_generator_calls_with_the_load_key_alone(staging_with_job: dict[str, Any],
                                                          job_outdir: Path) -> None:
    """Its Job's API_KEY_ID and its role's apigateway:GET name the load generator's key (its own usage plan, never
    the storefront's or the canaries'): the Edge stack's export of the key tagged api-client=load."""
    edge = json.loads((job_outdir / "Staging-Edge.template.json").read_text())["Resources"]
    keys = {next(t["Value"] for t in r["Properties"]["Tags"] if t["Key"] == API_CLIENT_TAG): lid
            for lid, r in edge.items() if r["Type"] == "AWS::ApiGateway::ApiKey"}
    assert set(keys) == {c.value for c in ApiClient}
    resources = staging_with_job["Resources"]
    job = json.dumps([r for lid, r in resources.items() if lid.startswith("LoadGeneratorJob")])
    (policy,) = [r["Properties"] for lid, r in resources.items() if lid.startswith("LoadGeneratorRolePolicy")]
    (reader,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "apigateway:GET"]
    for text in (job, json.dumps(reader["Resource"])):
        assert [c for c, lid in keys.items() if lid in text] == [ApiClient.LOAD.value]


def test_without_a_request_there_is_no_job(env: Synthesized) -> None:
    assert not [k for k in env.template_json("Services")["Resources"] if k.startswith("LoadGenerator")]


def test_the_load_pool_is_tainted_and_starts_empty(synth: Any) -> None:
    groups = [r["Properties"] for r in synth("prod").resources("Cluster", "AWS::EKS::Nodegroup").values()
              if r["Properties"].get("Labels", {}).get(DEDICATED_LABEL) == LOAD_GENERATOR]
    (group,) = groups
    assert group["Taints"] == [{"Effect": "NO_SCHEDULE", "Key": DEDICATED_LABEL, "Value": LOAD_GENERATOR}]
    assert group["ScalingConfig"]["MinSize"] == 0 and group["CapacityType"] == "SPOT"


@pytest.mark.parametrize(("config", "value", "expected"), [
    (PROD, "r1:50:600", "a prod load test only with :allow-prod"),
    (DEV, "r1:50:600", "dev.cluster.node_pools"),
    (STAGING, "r1:0:600", "load.users=0"),
    (STAGING, "r1:5:5", "load.seconds=5"),
    (STAGING, "r1;rm -rf:5:60", "load='r1;rm -rf:5:60'"),
])
def test_a_bad_request_fails_synth_in_one_line(config: Any, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(value, config)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert parse("r1:50:600:allow-prod", PROD) == LoadTestRun("r1", 50, 600, allow_prod=True)


def test_make_load_runs_locally_without_env_and_in_the_cluster_with_it() -> None:
    local = subprocess.run(["make", "-n", "--no-print-directory", "load", "USERS=7", "DURATION=30"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert "-m tools.load --users 7 --duration 30" in local.stdout
    remote = subprocess.run(["make", "-n", "--no-print-directory", "load", "ENV=prod", "USERS=7", "DURATION=30"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "-m tools.ops.load_job --env prod --users 7 --duration 30" in remote.stdout
    assert "--allow-prod" not in remote.stdout
    assert load_job.main(["--env", "prod", "--users", "7", "--duration", "30"]) == 2


def test_a_checkout_that_differs_from_the_deployed_stack_is_refused() -> None:
    client = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    synthesized = {"Resources": {"A": {"Type": "AWS::SNS::Topic"}, "B": {"Type": "AWS::SQS::Queue"}}}
    with Stubber(client) as stub:
        stub.add_response("get_template", {"TemplateBody": json.dumps(synthesized)},
                          {"StackName": "Staging-Services", "TemplateStage": "Original"})
        load_job.check_deployed_matches(client, "Staging-Services", synthesized)
        deployed = {"Resources": {"A": {"Type": "AWS::SNS::Topic"}}}
        stub.add_response("get_template", {"TemplateBody": json.dumps(deployed)},
                          {"StackName": "Staging-Services", "TemplateStage": "Original"})
        with pytest.raises(load_job.LoadJobError, match=r"differs from the deployed one \(1 resources, e.g. B\)"):
            load_job.check_deployed_matches(client, "Staging-Services", synthesized)


def test_the_deploys_add_the_job_then_remove_it(tmp_path: Path) -> None:
    with_job = load_job.deploy_command(STAGING, RUN, tmp_path)
    assert with_job[1:4] == ["deploy", "Staging-Services", "--exclusively"]
    assert ["-c", "load=20261128-120000:50:600"] == with_job[-2:] and ["-c", "delivery=exclude"] == with_job[-4:-2]
    assert not any(a.startswith("load=") for a in load_job.deploy_command(STAGING, None, tmp_path))


@pytest.fixture
def s3(moto: str) -> Iterator[Any]:
    client = boto3.client("s3", endpoint_url=moto, region_name="eu-west-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    client.create_bucket(Bucket="ops", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield client


def test_results_are_read_from_the_run_key_and_a_missing_run_times_out(s3: Any) -> None:
    s3.put_object(Bucket="ops", Key=results_key("r1"), Body=b'{"users": 3}')
    assert load_job.wait_for_results(s3, "ops", results_key("r1"), timeout=1, poll=0.1) == {"users": 3}
    with pytest.raises(load_job.LoadJobError, match=r"no results at s3://ops/load/r2/results\.json"):
        load_job.wait_for_results(s3, "ops", results_key("r2"), timeout=0.3, poll=0.1)


def test_the_stack_with_the_job_passes_the_prune_and_finalizer_checks(staging_with_job: dict[str, Any],
                                                                      job_outdir: Path) -> None:
    """The run's objects come and go with it: each its own manifest, so nothing of a run outlives the deploy that
    removes the Job (the preflight's checks over the assembly `make load ENV=...` deploys)."""
    assembly = Assembly(job_outdir)
    assert prune.check(assembly, STAGING).ok, prune.check(assembly, STAGING).findings
    assert finalizers.check(assembly, STAGING).ok
