"""Logical IDs of stateful resources never change: a new ID makes CloudFormation replace the resource (a new,
empty database, table or key). If this test fails, the change would destroy data; rename nothing here."""

from __future__ import annotations

import pytest

from tests.synthesis import Synthesized

PINNED: dict[str, dict[str, str]] = {
    "Network": {
        "LogsKeyFE4C4A83": "AWS::KMS::Key",
        "NetworkVpc7FB7348F": "AWS::EC2::VPC",
        # Retained with the database that lives in them (review 1, finding 4).
        "NetworkVpcIsolatedSubnet1Subnet0400477E": "AWS::EC2::Subnet",
        "NetworkVpcIsolatedSubnet2SubnetF65B365A": "AWS::EC2::Subnet",
        "NetworkVpcIsolatedSubnet3Subnet8C12D961": "AWS::EC2::Subnet",
    },
    "Data": {
        "OrdersDatabaseKey2EE110A0": "AWS::KMS::Key",
        "TablesKey87EE13D9": "AWS::KMS::Key",
        "OrdersDatabaseClusterAE2D01D0": "AWS::RDS::DBCluster",
        # What the retained cluster uses, retained with it (review 1, finding 4): a replaced one is a new group the
        # cluster must be moved to, and the old one stays behind.
        "OrdersDatabaseSecurityGroupDBE82CE9": "AWS::EC2::SecurityGroup",
        "OrdersDatabaseClusterSubnets68E2DF97": "AWS::RDS::DBSubnetGroup",
        "OrdersDatabaseParameters48AE27C0": "AWS::RDS::DBClusterParameterGroup",
        "ProductsTableAE4DA8BF": "AWS::DynamoDB::GlobalTable",
        "UsersTable695FA693": "AWS::DynamoDB::GlobalTable",
        "InventoryTable0EC4A984": "AWS::DynamoDB::GlobalTable",
        "UsersUserPool7E610616": "AWS::Cognito::UserPool",
        # A new one would be a new signing key the payment provider does not know: every webhook refused.
        "PaymentWebhookSecret7647850D": "AWS::SecretsManager::Secret",
    },
    "Messaging": {
        "TopicsKey9F724072": "AWS::KMS::Key",
        "QueuesKeyBC049B51": "AWS::KMS::Key",
    },
    "Cluster": {
        "PlatformSecretsKey2CEA46FC": "AWS::KMS::Key",
    },
    # The storefront's access logs are kept for the log retention. A replaced distribution could not take the shop's
    # domain while the old one holds it (CNAMEAlreadyExists), so its logical id is pinned too.
    "Web": {
        "StorefrontLogsBucket872DF0DA": "AWS::S3::Bucket",
        "StorefrontSiteBucketF10C3BA2": "AWS::S3::Bucket",
        "StorefrontDistributionF6FC821B": "AWS::CloudFront::Distribution",
    },
    "WebGlobal": {
        "LogsKeyFE4C4A83": "AWS::KMS::Key",
    },
}


@pytest.mark.parametrize("part", sorted(PINNED))
def test_stateful_logical_ids_are_pinned(env: Synthesized, part: str) -> None:
    resources = env.template_json(part)["Resources"]
    actual = {logical_id: resources.get(logical_id, {}).get("Type") for logical_id in PINNED[part]}
    assert actual == PINNED[part]
