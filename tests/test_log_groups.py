"""LogSettings: the one value every log group of an environment is made from (key, retention, removal)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from cdk_constructs.log_groups import LogSettings, adopt_library_log_groups
from config.environment import RemovalMode


@pytest.mark.parametrize(("removal", "deletion"), [(RemovalMode.DESTROY, "Delete"),
                                                   (RemovalMode.RETAIN, "RetainExceptOnCreate"),
                                                   (RemovalMode.SNAPSHOT, "RetainExceptOnCreate")])
def test_a_log_group_gets_the_key_the_retention_and_the_removal_mode(removal: RemovalMode, deletion: str) -> None:
    stack = cdk.Stack(cdk.App(), "Logs")
    key = kms.Key(stack, "Key")
    settings = LogSettings(key=key, retention_days=30, removal=removal)
    settings.log_group(stack, "Group", log_group_name="/named/group")
    # Flow logs keep their own retention with the same key and removal mode.
    settings.with_retention(365).log_group(stack, "FlowGroup")
    groups = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}  # type: ignore[arg-type]
    assert {(g["Properties"].get("LogGroupName"), g["Properties"]["RetentionInDays"], g["DeletionPolicy"])
            for g in groups.values()} == {("/named/group", 30, deletion), (None, 365, deletion)}
    assert all(g["Properties"]["KmsKeyId"] == key_arn for g in groups.values())


def test_library_log_groups_without_a_key_are_adopted_and_others_left_alone() -> None:
    from aws_cdk import aws_logs as logs

    stack = cdk.Stack(cdk.App(), "Logs")
    key = kms.Key(stack, "Key")
    settings = LogSettings(key=key, retention_days=14, removal=RemovalMode.DESTROY)
    library = logs.CfnLogGroup(stack, "Library")  # as a library creates it: no key, no retention
    settings.log_group(stack, "Ours")  # has the key already: not adopted
    assert adopt_library_log_groups(stack, log_settings=settings) == [library.node.path]
    groups = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    library_props = groups[stack.get_logical_id(library)]
    assert library_props["Properties"]["RetentionInDays"] == 14
    assert library_props["DeletionPolicy"] == "Delete"
