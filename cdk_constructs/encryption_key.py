"""Customer-managed KMS key with yearly rotation, removal policy from config."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.retention import removal_policy
from config.environment import RemovalMode


class EncryptionKey(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, description: str, removal: RemovalMode) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self, "Key",
            description=description,
            enable_key_rotation=True,
            removal_policy=removal_policy(removal),
        )
