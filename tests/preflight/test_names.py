"""Physical names compared by structure: what the template fixes is resolved, the same token is the same name, and
two different deploy-time values never are."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.preflight.workbench import Workbench
from tools.assembly import Assembly
from tools.reports.preflight.names import Name, name, resource_name

STACK_ID = {"Ref": "AWS::StackId"}
CREATION_ID = {"Fn::Select": [0, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", STACK_ID]}]}]}]}


@pytest.fixture
def assembly(bench: Callable[[str], Workbench]) -> Assembly:
    wb = bench("dev")
    wb.add("Cluster", "Named", {"Type": "AWS::Logs::LogGroup", "Properties": {
        "LogGroupName": {"Fn::Join": ["-", ["named", CREATION_ID]]}}})
    wb.add("Cluster", "Unnamed", {"Type": "AWS::Logs::LogGroup", "Properties": {}})
    wb.template("Cluster").setdefault("Outputs", {})["NamedOut"] = {
        "Value": {"Ref": "Named"}, "Export": {"Name": "Test:Named"}}
    return wb.assembly()


def test_joins_flatten_and_literals_merge(assembly: Assembly) -> None:
    nested = {"Fn::Join": ["", ["/a/", {"Fn::Join": ["-", ["b", "c"]]}, "/d"]]}
    assert name(assembly, "Dev-Cluster", nested) == Name(("/a/b-c/d",))
    assert name(assembly, "Dev-Cluster", {"Fn::Sub": "/x/${AWS::Region}/${AWS::StackName}"}) == \
        Name(("/x/eu-west-1/Dev-Cluster",))
    assert str(name(assembly, "Dev-Cluster", {"Fn::Select": [1, {"Fn::Split": ["-", "a-b-c"]}]})) == "b"


def test_a_reference_to_a_named_resource_is_its_name_expression(assembly: Assembly) -> None:
    by_ref = name(assembly, "Dev-Cluster", {"Fn::Join": ["", ["/logs/", {"Ref": "Named"}]]})
    spelled = name(assembly, "Dev-Cluster", {"Fn::Join": ["", ["/logs/named-", CREATION_ID]]})
    assert by_ref == spelled and not by_ref.fixed
    assert str(by_ref) == "/logs/named-{Dev-Cluster stack id}"
    # ...followed across stacks through an export, still the producer's stack id
    assert name(assembly, "Dev-Services", {"Fn::ImportValue": "Test:Named"}) == resource_name(
        assembly, "Dev-Cluster", "Named")


def test_different_deploy_time_values_differ(assembly: Assembly) -> None:
    here = name(assembly, "Dev-Cluster", {"Fn::Join": ["-", ["named", CREATION_ID]]})
    assert here != name(assembly, "Dev-Data", {"Fn::Join": ["-", ["named", CREATION_ID]]})  # another stack's id
    assert here != name(assembly, "Dev-Cluster", {"Fn::Join": ["-", ["named", STACK_ID]]})
    unnamed = resource_name(assembly, "Dev-Cluster", "Unnamed")
    assert str(unnamed) == "{Dev-Cluster/Unnamed}" and unnamed != resource_name(assembly, "Dev-Cluster", "Named")
    assert name(assembly, "Dev-Cluster", {"Fn::GetAtt": ["Named", "Arn"]}) != resource_name(
        assembly, "Dev-Cluster", "Named")


def test_lower_case_names_lower_only_the_literal_text(assembly: Assembly) -> None:
    n = name(assembly, "Dev-Cluster", {"Fn::Join": ["-", ["Orders-DB", CREATION_ID]]})
    assert str(n.lower()) == "orders-db-{Dev-Cluster stack id}" and n.lower().parts[1] == n.parts[1]
