"""The synthetic customers as synthesized: the canary (runtime, handler, schedule, environment, the storefront it
loads), its code asset (exactly the bundle of the smoke test's code), its role (least privilege, no log group of its
own, nothing for the storefront), its bucket (KMS, retention) and its alarms."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import selenium

from cdk_constructs import canary_bundle
from cdk_constructs.synthetic_customers import ARTIFACTS_PREFIX, awake_utc_hours
from config.environments import DEV
from config.synthetics import RUNTIME_SELENIUM, RUNTIME_VERSION
from tests.synthesis import Synthesized
from tools.assembly import Assembly
from tools.local import canary as canary_code


def canary(env: Synthesized) -> dict[str, Any]:
    (props,) = [r["Properties"] for r in env.resources("Observability", "AWS::Synthetics::Canary").values()]
    return props


def test_the_canary_runs_the_smoke_code_on_the_python_runtime(env: Synthesized) -> None:
    props = canary(env)
    assert props["RuntimeVersion"] == RUNTIME_VERSION and props["Code"]["Handler"] == "canary.handler"
    assert props["Name"] == f"{env.config.name}-customers"
    assert props["RunConfig"]["TimeoutInSeconds"] == env.config.synthetics.timeout_seconds
    variables = props["RunConfig"]["EnvironmentVariables"]
    assert set(variables) == {"BASE_URL", "API_KEY_ID", "SMOKE_SECRET", "STOREFRONT_URL"} | (
        {"PAYMENT_TOPIC"} if env.config.api.smoke_test_pays else set())
    assert "ImportValue" in json.dumps(variables["API_KEY_ID"])  # the key's id; its value never in a template
    assert props["ProvisionedResourceCleanup"] == "AUTOMATIC"
    assert props["ArtifactS3Location"]["Fn::Join"][1][-1] == f"/{ARTIFACTS_PREFIX}"


def test_the_canary_loads_the_storefront_the_web_stack_serves(env: Synthesized) -> None:
    """The Web stack's StorefrontUrl, the shop's domain over HTTPS, in the canary's region. A plain value: no export
    joins the stacks, and no stack dependency either way, so the storefront's chain (WebGlobal, CloudFront) stays off
    the path from Edge through Observability to Services."""
    assembly = Assembly(env.outdir)
    prefix = env.config.stack_prefix
    web, observability = (assembly.stacks[f"{prefix}-{part}"] for part in ("Web", "Observability"))
    url = canary(env)["RunConfig"]["EnvironmentVariables"]["STOREFRONT_URL"]
    assert url == web.outputs["StorefrontUrl"]["Value"] == f"https://{env.config.web.domain_name}"
    assert web.region == observability.region == env.config.region
    assert not any("Export" in output for output in web.outputs.values())  # nothing imports from the Web stack
    assert not assembly.stack_requires(web.name, observability.name)  # no cycle
    for waiting in (observability.name, f"{prefix}-Services"):
        assert not assembly.stack_requires(waiting, web.name), waiting
        assert not assembly.stack_requires(waiting, f"{prefix}-WebGlobal"), waiting


def test_the_canary_reaches_the_storefront_as_a_customer_with_no_permission_for_it(env: Synthesized) -> None:
    """Loading a public page needs no AWS permission: the role holds nothing of the Web stack or CloudFront (its
    screenshots go to the artifacts it already writes), and the canary runs outside any VPC, on the internet."""
    web = Assembly(env.outdir).stacks[f"{env.config.stack_prefix}-Web"]
    statements = json.dumps(_statements(env))
    assert "cloudfront" not in statements.lower() and f'"{web.name}:' not in statements
    assert not any(f'"{logical_id}"' in statements for logical_id in web.resources)
    assert "VPCConfig" not in canary(env) and "VpcConfig" not in canary(env)


def test_prod_runs_every_five_minutes_and_dev_only_while_awake(prod: Synthesized, dev: Synthesized) -> None:
    assert canary(prod)["Schedule"]["Expression"] == "rate(5 minutes)"
    # Europe/Dublin 08:00-18:00: UTC 08-18 in winter, 07-17 in summer; an hour's margin at both ends.
    assert awake_utc_hours(DEV.cluster.schedule) == (9, 15)  # type: ignore[arg-type]
    assert canary(dev)["Schedule"]["Expression"] == "cron(0/15 9-15 ? * MON,TUE,WED,THU,FRI *)"


def test_the_code_asset_is_the_bundle_of_the_smoke_code(dev: Synthesized) -> None:
    key = canary(dev)["Code"]["S3Key"].removesuffix(".zip")
    stack = f"{dev.config.stack_prefix}-Observability"
    source = Assembly(dev.outdir).asset_manifest(stack)["files"][key]["source"]
    staged = dev.outdir / source["path"]
    files = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    expected = canary_bundle.contents()
    assert files == [rel for rel, _ in expected]
    assert all((staged / rel).read_bytes() == path.read_bytes() for rel, path in expected)
    shipped = {rel.split("/")[1] for rel in files}
    assert {"canary.py", "tools", "config", "contract", "httpx", "httpcore", "h11", "anyio", "certifi"} <= shipped
    assert not shipped & {"boto3", "botocore", "pytest", "moto", "aws_cdk", "selenium"}  # the runtime's own
    assert (staged / "python/canary.py").read_text() == Path("tools/local/canary.py").read_text()
    assert (staged / "python/tools/local/page_load.py").read_text() == Path("tools/local/page_load.py").read_text()
    assert not (staged / "python/tools/local/chromium.py").exists()  # this machine's browser, not the runtime's


def test_the_tests_drive_the_browser_with_the_runtimes_selenium() -> None:
    assert selenium.__version__ == RUNTIME_SELENIUM


def test_a_storefront_url_without_a_browser_to_load_it_is_refused_before_any_step() -> None:
    steps: list[str] = []

    async def execute_step(name: str, function: Any) -> Any:
        steps.append(name)

    with pytest.raises(ValueError, match="no browser"):
        asyncio.run(canary_code.run({"STOREFRONT_URL": "https://shop.example.com"}, execute_step))
    assert steps == []


def _statements(env: Synthesized) -> list[dict[str, Any]]:
    policies = [r["Properties"] for r in env.resources("Observability", "AWS::IAM::ManagedPolicy").values()
                if "Synthetic customers" in str(r["Properties"].get("Description", ""))]
    (policy,) = policies
    return list(policy["PolicyDocument"]["Statement"])


def test_the_role_can_do_what_the_runtime_and_the_workflows_need_and_no_more(env: Synthesized) -> None:
    actions = sorted(a for s in _statements(env) for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                            else s["Action"]))
    pays = ["sns:Publish", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"] if env.config.api.smoke_test_pays \
        else []
    assert actions == sorted(["s3:PutObject", "s3:GetBucketLocation", "s3:ListAllMyBuckets", "kms:GenerateDataKey",
                              "kms:Decrypt", "cloudwatch:PutMetricData", "secretsmanager:GetSecretValue",
                              "secretsmanager:DescribeSecret", "kms:Decrypt", "apigateway:GET", *pays])
    assert not any(a.startswith("logs:") for a in actions)
    wildcard = [s for s in _statements(env) if s["Resource"] == "*"]
    assert {json.dumps(s["Action"]) for s in wildcard} == {'"s3:ListAllMyBuckets"', '"cloudwatch:PutMetricData"'}
    metrics = next(s for s in wildcard if s["Action"] == "cloudwatch:PutMetricData")
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}}


def test_the_artifacts_bucket_is_encrypted_private_and_expires(env: Synthesized) -> None:
    buckets = {k: r["Properties"] for k, r in env.resources("Observability", "AWS::S3::Bucket").items()
               if k.startswith("SyntheticCustomers")}
    (bucket,) = buckets.values()
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "KMSMasterKeyID" in rule["ServerSideEncryptionByDefault"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    expiry = {r.get("ExpirationInDays") for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert env.config.synthetics.artifact_retention_days in expiry


def test_failed_and_slow_runs_page(env: Synthesized) -> None:
    alarms = {r["Properties"]["AlarmName"]: r["Properties"]
              for r in env.resources("Observability", "AWS::CloudWatch::Alarm").values()
              if "-synthetics-" in r["Properties"]["AlarmName"]}
    failed = alarms[f"{env.config.name}-synthetics-customers-failed-Critical"]
    slow = alarms[f"{env.config.name}-synthetics-customers-slow-Critical"]
    s = env.config.synthetics
    assert failed["MetricName"] == "SuccessPercent" and failed["Namespace"] == "CloudWatchSynthetics"
    assert failed["Threshold"] == 100 and failed["ComparisonOperator"] == "LessThanThreshold"
    assert slow["MetricName"] == "Duration" and slow["Threshold"] == s.duration_alarm_seconds * 1000
    for alarm in (failed, slow):
        assert alarm["Period"] == s.interval_minutes * 60
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == s.failed_runs_to_alarm
        assert alarm["AlarmActions"] and alarm["TreatMissingData"] == "notBreaching"
