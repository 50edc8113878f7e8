"""Least-privilege statements of the load generator's role (cdk_constructs/load_generator.py): its run's results
object, encrypted with the operations bucket's key through S3. The smoke accounts, the API key and the payment
topic are the smoke role's statements (policies/smoke_access.py)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from policies.service_access import allow

RESULTS_WRITE_ACTIONS = ("s3:PutObject",)


def results_write(bucket_arn: str, key: str) -> iam.PolicyStatement:
    """One object: this run's results."""
    return allow(RESULTS_WRITE_ACTIONS, f"{bucket_arn}/{key}")


def results_key(key_arn: str, region: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[key_arn],
                               conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}})
