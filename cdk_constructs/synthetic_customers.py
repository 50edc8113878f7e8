"""Synthetic customers: a CloudWatch Synthetics canary running the smoke test's workflows (tools/local/canary.py)
against the public API with the smoke accounts, then loading the storefront in the runtime's browser as a customer
does (tools/local/page_load.py); its encrypted artifacts bucket, its least-privilege role and its alarms (failed
runs, slow runs).

The canary reaches the stage exactly as `make smoke` does: the API URL, the API key (its value read at run time),
the smoke accounts' secret, and, where the stage lets the smoke test pay, the payment-events topic
(docs/smoke.md); and the storefront's public URL, which needs no permission (its screenshot goes to the artifacts
the role already writes). In an environment with working hours (config ``cluster.schedule``) it runs only in the UTC
hours when the nodes are awake whatever the season, an hour after they wake and until an hour before they sleep.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_synthetics as synthetics
from constructs import Construct

from cdk_constructs import canary_bundle
from cdk_constructs.encryption_key import EncryptionKey
from cdk_constructs.log_groups import LogSettings, provider_log_group
from cdk_constructs.retention import removal_policy
from config.environment import ComputeSchedule, RemovalMode, SyntheticsConfig
from config.synthetics import RUNTIME_VERSION
from policies import smoke_access, synthetics_access
from policies.nag import acknowledge

ARTIFACTS_PREFIX = "canary"


@dataclass(frozen=True)
class CanaryTarget:
    """What the canary is given of the stage: the Edge stack's API and smoke accounts, the payment topic where
    the smoke test may pay (``None`` in prod)."""

    api: apigw.RestApi
    api_key: apigw.IApiKey
    accounts_secret: secretsmanager.ISecret
    secrets_key: kms.IKey
    payment_topic: sns.ITopic | None
    topics_key: kms.IKey | None

    def client_statements(self, stack: cdk.Stack) -> list[iam.PolicyStatement]:
        """The smoke role's statements for this stage (policies/smoke_access.py ``stage_client``)."""
        return smoke_access.stage_client(
            partition=stack.partition, region=stack.region, accounts_secret_arn=self.accounts_secret.secret_arn,
            secrets_key_arn=self.secrets_key.key_arn, api_key_id=self.api_key.key_id,
            payment_topic_arn=self.payment_topic.topic_arn if self.payment_topic else None,
            topics_key_arn=self.topics_key.key_arn if self.topics_key else None)


def awake_utc_hours(schedule: ComputeSchedule) -> tuple[int, int]:
    """First and last UTC hour (inclusive) in which a run starts on every working day of the year: the schedule's
    local hours at both of the zone's UTC offsets, less the first hour (nodes and pods starting) and the last."""
    zone = zoneinfo.ZoneInfo(schedule.timezone)
    offsets = {int((datetime(2026, month, 15, 12, tzinfo=zone).utcoffset() or timedelta(0)).total_seconds() // 3600)
               for month in (1, 7)}
    first = schedule.wake_hour - min(offsets) + 1
    last = schedule.sleep_hour - max(offsets) - 2
    if not 0 <= first <= last <= 23:
        raise ValueError(f"no UTC hour is inside {schedule.timezone}'s working hours {schedule.wake_hour}-"
                         f"{schedule.sleep_hour} in every season")
    return first, last


class SyntheticCustomers(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, environment: str, config: SyntheticsConfig,
                 target: CanaryTarget, storefront_url: str, working_hours: ComputeSchedule | None,
                 alarm_topic: sns.ITopic, removal: RemovalMode, log_settings: LogSettings) -> None:
        super().__init__(scope, construct_id)
        if not cdk.Token.is_unresolved(storefront_url) and not storefront_url.startswith("https://"):
            raise ValueError(f"the canary loads the storefront over HTTPS, as customers do: {storefront_url!r}")
        stack = cdk.Stack.of(self)
        self.key = EncryptionKey(self, "ArtifactsKey", description=f"Canary artifacts of {environment}",
                                 removal=removal).key
        # Encrypted by the bucket's default (SSE-KMS with this key): Synthetics' own artifact encryption setting is
        # for Node.js runtimes only (CloudFormation ArtifactConfig), and the runtime's uploads carry no SSE header.
        self.bucket = s3.Bucket(
            self, "ArtifactsBucket",
            encryption=s3.BucketEncryption.KMS, encryption_key=self.key, bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True, versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(config.artifact_retention_days),
                                              noncurrent_version_expiration=cdk.Duration.days(1))],
            removal_policy=removal_policy(removal),
            auto_delete_objects=removal == RemovalMode.DESTROY)
        if removal == RemovalMode.DESTROY:
            provider_log_group(self, "AutoDeleteObjectsLogGroup", provider="S3AutoDeleteObjectsCustomResourceProvider",
                               users=[self.bucket.node.find_child("AutoDeleteObjectsCustomResource")],
                               log_settings=log_settings)
        why_no_log = ("It holds only the canary's run artifacts (logs, step reports), written by the canary's role "
                      "and expired after the configured days; reads are recorded by CloudTrail, and an access log "
                      "bucket of its own would need one in turn.")
        acknowledge(self.bucket, "AwsSolutions-S1", why_no_log)
        for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(self.bucket, f"{pack}-S3BucketLoggingEnabled", why_no_log)
            acknowledge(self.bucket, f"{pack}-S3BucketReplicationEnabled",
                        "Canary artifacts are diagnostics kept for days; a failed run also shows in its metrics and "
                        "alarm, so a second region's copy would protect nothing worth its cost.")

        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description=f"Synthetic customers of {environment}: artifacts, metrics, the smoke "
                                         "accounts and the API key")
        statements = [
            synthetics_access.artifacts_write(self.bucket.bucket_arn, ARTIFACTS_PREFIX),
            synthetics_access.bucket_location(self.bucket.bucket_arn),
            synthetics_access.list_buckets(),
            synthetics_access.artifacts_key(self.key.key_arn, stack.region),
            synthetics_access.synthetics_metrics(),
            *target.client_statements(stack),
        ]
        self.policy = iam.ManagedPolicy(self, "RolePolicy", roles=[self.role], statements=statements,
                                        description=f"Synthetic customers of {environment}")
        acknowledge(self.policy, "AwsSolutions-IAM5[Resource::*]",
                    "s3:ListAllMyBuckets (which the Synthetics runtime calls before uploading) and "
                    "cloudwatch:PutMetricData (conditioned on the CloudWatchSynthetics namespace) have no "
                    "resource-level scope; every other statement names its one resource.")
        acknowledge(self.policy, f"AwsSolutions-IAM5[Resource::<{self._logical(self.bucket)}.Arn>/"
                                 f"{ARTIFACTS_PREFIX}/*]",
                    "The runtime writes each run's artifacts under a new key of the canary's own prefix.")

        if working_hours is not None:
            first, last = awake_utc_hours(working_hours)
            schedule = synthetics.Schedule.cron(minute=f"0/{config.interval_minutes}", hour=f"{first}-{last}",
                                                week_day=",".join(working_hours.days))
        else:
            schedule = synthetics.Schedule.rate(cdk.Duration.minutes(config.interval_minutes))
        environment_variables = {"BASE_URL": target.api.url, "API_KEY_ID": target.api_key.key_id,
                                 "SMOKE_SECRET": target.accounts_secret.secret_arn, "STOREFRONT_URL": storefront_url}
        if target.payment_topic is not None:
            environment_variables["PAYMENT_TOPIC"] = target.payment_topic.topic_arn
        self.canary = synthetics.Canary(
            self, "Canary",
            canary_name=f"{environment}-customers",
            runtime=synthetics.Runtime(RUNTIME_VERSION, synthetics.RuntimeFamily.PYTHON),
            test=synthetics.Test.custom(code=synthetics.Code.from_asset(str(canary_bundle.build()),
                                                                         exclude=[".complete"]),
                                        handler=canary_bundle.HANDLER),
            schedule=schedule, timeout=cdk.Duration.seconds(config.timeout_seconds), memory=cdk.Size.mebibytes(1024),
            role=self.role, environment_variables=environment_variables,
            artifacts_bucket_location=synthetics.ArtifactsBucketLocation(bucket=self.bucket, prefix=ARTIFACTS_PREFIX),
            success_retention_period=cdk.Duration.days(min(config.artifact_retention_days, 455)),
            failure_retention_period=cdk.Duration.days(min(config.artifact_retention_days, 455)),
            provisioned_resource_cleanup=True, start_after_creation=True)

        period = cdk.Duration.minutes(config.interval_minutes)
        action = cw_actions.SnsAction(alarm_topic)
        runs = config.failed_runs_to_alarm
        self.failure_alarm = self.canary.metric_success_percent(period=period, statistic="Average").create_alarm(
            self, "FailedRunsAlarm", alarm_name=f"{environment}-synthetics-customers-failed-Critical",
            alarm_description=(f"The synthetic customer failed {runs} runs in a row: a seed workflow (browse, order, "
                               f"follow, pay or cancel, change, reprice) does not work through the public API, or "
                               f"the storefront ({storefront_url}) does not render its catalog or has a failed "
                               f"request, script error or CSP violation. The run's steps, log and screenshots are "
                               f"in the canary's artifacts ({environment}-customers)."),
            threshold=100, comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=runs, datapoints_to_alarm=runs, treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
        self.duration_alarm = self.canary.metric_duration(period=period, statistic="Maximum").create_alarm(
            self, "SlowRunsAlarm", alarm_name=f"{environment}-synthetics-customers-slow-Critical",
            alarm_description=(f"The synthetic customer's workflows and page load took over "
                               f"{config.duration_alarm_seconds} s, {runs} runs in a row: orders are slow to reach "
                               f"their states (queues, workers, the database), the API is slow, or the storefront "
                               f"is slow to show its catalog; see the run's step durations."),
            threshold=config.duration_alarm_seconds * 1000, evaluation_periods=runs, datapoints_to_alarm=runs,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
        for alarm in (self.failure_alarm, self.duration_alarm):
            alarm.add_alarm_action(action)

    @staticmethod
    def _logical(construct: Construct) -> str:
        return cdk.Stack.of(construct).get_logical_id(construct.node.default_child)  # type: ignore[arg-type]
