"""Least-privilege statements of the canary's role (cdk_constructs/synthetic_customers.py).

What the CloudWatch Synthetics runtime itself needs (user guide, "Required roles and permissions for canaries"): put
its artifacts in its bucket (``s3:PutObject`` under the canary's prefix, ``s3:GetBucketLocation`` on the bucket, and
``s3:ListAllMyBuckets``, which has no resource to scope to), encrypted with the bucket's key, and publish its metrics
in the ``CloudWatchSynthetics`` namespace only. No CloudWatch Logs statement: the function Synthetics creates would
log to a group it names itself at the first run, unencrypted and kept forever; without the permission the Lambda
service drops those lines, and each run's log file reaches the encrypted artifacts bucket, which keeps it for the
configured days. The workflows' own needs are the smoke role's statements (policies/smoke_access.py), unchanged.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from policies.service_access import allow

ARTIFACT_WRITE_ACTIONS = ("s3:PutObject",)
BUCKET_LOCATION_ACTIONS = ("s3:GetBucketLocation",)
LIST_BUCKETS_ACTIONS = ("s3:ListAllMyBuckets",)
ARTIFACT_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
METRICS_NAMESPACE = "CloudWatchSynthetics"


def artifacts_write(bucket_arn: str, prefix: str) -> iam.PolicyStatement:
    return allow(ARTIFACT_WRITE_ACTIONS, f"{bucket_arn}/{prefix}/*")


def bucket_location(bucket_arn: str) -> iam.PolicyStatement:
    return allow(BUCKET_LOCATION_ACTIONS, bucket_arn)


def list_buckets() -> iam.PolicyStatement:
    """The runtime lists the account's buckets before it uploads; the action has no resource-level scope."""
    return allow(LIST_BUCKETS_ACTIONS, "*")


def artifacts_key(key_arn: str, region: str) -> iam.PolicyStatement:
    """Encrypt artifacts with the bucket's CMK, and only through S3."""
    return iam.PolicyStatement(actions=list(ARTIFACT_KEY_ACTIONS), resources=[key_arn],
                               conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}})


def synthetics_metrics() -> iam.PolicyStatement:
    """PutMetricData has no resource; the namespace condition keeps the role to the runtime's metrics."""
    return iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"],
                               conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}})
