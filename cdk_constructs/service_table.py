"""A service's DynamoDB table: on-demand, point-in-time recovery, customer-managed key."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.retention import removal_policy
from config.environment import RemovalMode
from config.topology import Table

TTL_ATTRIBUTE = "expires_at"  # read by services/common (dedupe and outbox bookkeeping items)


def _attr(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class ServiceTable(Construct):
    """The table of one service, shaped by ``definition`` from :mod:`config.topology` (keys, indexes)."""

    def __init__(self, scope: Construct, construct_id: str, *, definition: Table, key: kms.IKey,
                 removal: RemovalMode, deletion_protection: bool) -> None:
        super().__init__(scope, construct_id)
        self.definition = definition
        self.key = key
        self.table = dynamodb.TableV2(
            self, "Table",
            partition_key=_attr(definition.partition_key),
            sort_key=_attr(definition.sort_key) if definition.sort_key else None,
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            deletion_protection=deletion_protection,
            # Dedupe records of processed events and idempotency records expire on their own.
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=removal_policy(removal),
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=index.name,
                    partition_key=_attr(index.partition_key),
                    sort_key=_attr(index.sort_key) if index.sort_key else None,
                    projection_type=dynamodb.ProjectionType.ALL,
                )
                for index in definition.indexes
            ],
        )
