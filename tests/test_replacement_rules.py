"""The diff report's replacement rules come from the CloudFormation resource schemas cfn-lint ships
(tools/reports/replacement_rules.py), not from a hand table: the types of the table they replaced are checked here
against the schemas, and a replacing change of a cluster's encryption shows as a replacement."""

from __future__ import annotations

import copy
import gzip
import json
from typing import Any

import pytest

from tests.synthesis import ROOT
from tools.reports import diff_report
from tools.reports.replacement_rules import ADDITIONS, replacing_changes, rules, schema

# The hand table the rules replaced (tools/reports/diff_report.py before issue 25): 21 types, top-level properties.
HAND_TABLE: dict[str, tuple[str, ...]] = {
    "AWS::RDS::DBCluster": ("DBClusterIdentifier", "Engine", "EngineMode", "StorageEncrypted", "KmsKeyId",
                            "DatabaseName", "DBSubnetGroupName", "MasterUsername", "AvailabilityZones",
                            "SnapshotIdentifier", "SourceDBClusterIdentifier", "SourceRegion", "RestoreType",
                            "RestoreToTime", "UseLatestRestorableTime", "DBSystemId"),
    "AWS::RDS::DBInstance": ("DBInstanceIdentifier", "DBClusterIdentifier", "Engine", "StorageEncrypted",
                             "KmsKeyId", "DBName", "MasterUsername", "CharacterSetName", "NcharCharacterSetName",
                             "DBSubnetGroupName", "SourceDBInstanceIdentifier", "SourceRegion", "Timezone"),
    "AWS::DynamoDB::Table": ("KeySchema", "TableName", "LocalSecondaryIndexes", "ImportSourceSpecification"),
    "AWS::DynamoDB::GlobalTable": ("KeySchema", "TableName", "LocalSecondaryIndexes"),
    "AWS::KMS::Key": (),
    "AWS::EC2::VPC": ("CidrBlock", "Ipv4IpamPoolId", "Ipv4NetmaskLength"),
    "AWS::EC2::Subnet": ("CidrBlock", "AvailabilityZone", "AvailabilityZoneId", "VpcId", "Ipv4IpamPoolId",
                         "Ipv4NetmaskLength", "Ipv6Native", "OutpostArn"),
    "AWS::Cognito::UserPool": ("AliasAttributes", "UsernameAttributes", "UsernameConfiguration"),
    "AWS::SQS::Queue": ("QueueName", "FifoQueue"),
    "AWS::SNS::Topic": ("TopicName", "FifoTopic"),
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::Logs::LogGroup": ("LogGroupName", "LogGroupClass"),
    "AWS::EKS::Cluster": ("Name", "RoleArn", "KubernetesNetworkConfig", "BootstrapSelfManagedAddons"),
    "AWS::EC2::SecurityGroup": ("GroupDescription", "GroupName", "VpcId"),
    "AWS::IAM::Role": ("RoleName", "Path"),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName", "Path"),
    "AWS::IAM::OIDCProvider": ("Url",),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::EC2::NatGateway": ("SubnetId", "AllocationId", "ConnectivityType"),
    "AWS::EC2::EIP": ("Domain",),
}
# What the schemas make of the hand table: these were "replaces" by hand, the schemas make them conditional
# (conditionalCreateOnlyProperties: an engine upgrade happens in place, a change of engine replaces).
NOW_MAY_REPLACE = {
    "AWS::RDS::DBCluster": {"Engine", "MasterUsername", "AvailabilityZones"},
    "AWS::RDS::DBInstance": {"Engine", "SourceDBInstanceIdentifier"},
    "AWS::DynamoDB::Table": {"KeySchema"},
    "AWS::DynamoDB::GlobalTable": {"KeySchema", "LocalSecondaryIndexes"},
}
# What the hand table missed and the schemas have (the examples among them).
MISSED_BY_HAND = {
    "AWS::EKS::Cluster": {"EncryptionConfig", "AccessConfig.BootstrapClusterCreatorAdminPermissions", "OutpostConfig"},
    "AWS::RDS::DBCluster": {"ClusterScalabilityType", "PubliclyAccessible"},
    "AWS::EC2::NatGateway": {"VpcId"},
}


def _top(paths: tuple[tuple[str, ...], ...]) -> set[str]:
    return {p[0] for p in paths}


def test_the_hand_table_had_21_types_and_each_has_a_schema() -> None:
    assert len(HAND_TABLE) == 21
    assert [t for t in HAND_TABLE if schema(t) is None] == []


@pytest.mark.parametrize("resource_type", sorted(HAND_TABLE))
def test_each_hand_table_property_is_a_rule_of_the_schemas_or_a_documented_addition(resource_type: str) -> None:
    r = rules(resource_type)
    replace, maybe = _top(r.replace), _top(r.may_replace)
    for prop in HAND_TABLE[resource_type]:
        if prop in NOW_MAY_REPLACE.get(resource_type, set()):
            assert prop in maybe and prop not in replace, prop
        else:
            assert prop in replace, f"{resource_type}.{prop}: neither create-only in its schema nor an addition"


@pytest.mark.parametrize("resource_type", sorted(MISSED_BY_HAND))
def test_rules_cover_what_the_hand_table_missed(resource_type: str) -> None:
    dotted = {".".join(p) for p in rules(resource_type).replace}
    assert dotted >= MISSED_BY_HAND[resource_type]


@pytest.mark.parametrize("resource_type", sorted(ADDITIONS))
def test_additions_are_few_documented_and_not_in_the_schema(resource_type: str) -> None:
    """An addition the schema comes to cover is redundant: drop it from ADDITIONS."""
    s = schema(resource_type) or {}
    in_schema = {p.removeprefix("/properties/").split("/")[0]
                 for key in ("createOnlyProperties", "conditionalCreateOnlyProperties") for p in s.get(key, [])}
    for prop, where in ADDITIONS[resource_type].items():
        assert prop in s.get("properties", {}), f"{resource_type}.{prop} is not a property of the type"
        assert prop not in in_schema, f"{resource_type}.{prop} is in the schema now: remove the addition"
        assert where.strip(), f"{resource_type}.{prop}: say where AWS documents it"
    assert sum(len(v) for v in ADDITIONS.values()) <= 10


def test_additions_that_the_cli_knows_agree_with_it() -> None:
    """The pinned CDK CLI carries CloudFormation's documented update behaviour per property (its service spec): where
    it knows a property of an addition, it agrees that a change replaces."""
    spec = json.loads(gzip.open(ROOT / "node_modules" / "aws-cdk" / "db.json.gz").read())
    types = {e["cloudFormationType"]: e for e in spec["schema"]["resource"]["entities"]}
    for resource_type, props in ADDITIONS.items():
        for prop in props:
            known = types[resource_type]["properties"][prop].get("causesReplacement")
            assert known in (None, "yes"), (resource_type, prop, known)


def _cluster() -> dict[str, Any]:
    return {"Type": "AWS::EKS::Cluster", "Metadata": {"aws:cdk:path": "S/Cluster/Resource"}, "Properties": {
        "Name": "c", "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}, "Version": "1.34",
        "EncryptionConfig": [{"Resources": ["secrets"], "Provider": {"KeyArn": {"Fn::GetAtt": ["KeyA", "Arn"]}}}],
        "AccessConfig": {"AuthenticationMode": "API", "BootstrapClusterCreatorAdminPermissions": True}}}


def _compare(before: dict[str, Any], after: dict[str, Any]) -> diff_report.ResourceChange:
    d = diff_report.compare_templates("S", {"Resources": {"Cluster": before}}, {"Resources": {"Cluster": after}})
    (change,) = d.changes
    return change


def test_a_change_of_the_clusters_encryption_is_a_replacement() -> None:
    after = _cluster()
    after["Properties"]["EncryptionConfig"][0]["Provider"]["KeyArn"] = {"Fn::GetAtt": ["KeyB", "Arn"]}
    change = _compare(_cluster(), after)
    assert (change.kind, change.reason) == ("replaced", "changes EncryptionConfig")
    stack = diff_report.StackDiff("S", "changed", [change])
    report = diff_report.render_markdown([stack], base="b", head="h", env="dev")
    assert "**stateful resource replaced** S: `Cluster` (AWS::EKS::Cluster): changes EncryptionConfig" in report


def test_nested_create_only_paths_count_only_at_that_path() -> None:
    replacing = _cluster()
    replacing["Properties"]["AccessConfig"]["BootstrapClusterCreatorAdminPermissions"] = False
    assert _compare(_cluster(), replacing).reason == "changes AccessConfig.BootstrapClusterCreatorAdminPermissions"
    in_place = _cluster()
    in_place["Properties"]["AccessConfig"]["AuthenticationMode"] = "API_AND_CONFIG_MAP"
    in_place["Properties"]["Version"] = "1.35"
    assert _compare(_cluster(), in_place).kind == "changed"


def test_a_conditionally_create_only_change_may_replace() -> None:
    base: dict[str, Any] = {"Type": "AWS::RDS::DBCluster",
                            "Properties": {"Engine": "aurora-postgresql", "DatabaseName": "orders"}}
    engine = copy.deepcopy(base)
    engine["Properties"]["Engine"] = "aurora-mysql"
    assert replacing_changes("AWS::RDS::DBCluster", base["Properties"], engine["Properties"]) == ([], ["Engine"])
    d = diff_report.compare_templates("S", {"Resources": {"Db": base}}, {"Resources": {"Db": engine}})
    (change,) = d.changes
    assert (change.kind, change.possible_replacement) == ("changed", True)
    report = diff_report.render_markdown([d], base="b", head="h", env="dev")
    assert "stateful resource may be replaced S: `Db` (AWS::RDS::DBCluster): may replace: changes Engine" in report


def test_types_without_a_schema_have_no_rules() -> None:
    assert replacing_changes("Custom::Anything", {"A": 1}, {"A": 2}) == ([], [])
