"""The assembly reader: manifests with tokens parse exactly, references resolve across stacks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.preflight.workbench import Workbench
from tools.assembly import (
    Assembly,
    AssemblyError,
    ResourceTarget,
    encode_json_with_tokens,
    parse_json_with_tokens,
    render_tokens,
)

ARN = {"Fn::GetAtt": ["Role1", "Arn"]}
BUCKET = {"Ref": "Bucket1"}


def test_tokens_parse_to_the_intrinsics_they_are() -> None:
    join = {"Fn::Join": ["", ['[{"kind":"ServiceAccount","arn":"', ARN, '","url":"s3://', BUCKET,
                              '/x","quote":"a\\"', BUCKET, '","n":', {"Ref": "Port"}, "}]"]]}
    parsed = parse_json_with_tokens(join)
    assert parsed == [{"kind": "ServiceAccount", "arn": ARN,
                       "url": {"Fn::Join": ["", ["s3://", BUCKET, "/x"]]},
                       "quote": {"Fn::Join": ["", ['a"', BUCKET]]}, "n": {"Ref": "Port"}}]
    assert parse_json_with_tokens(encode_json_with_tokens(parsed)) == parsed
    assert render_tokens(parsed)[0]["url"] == "s3://TOKEN/x"


def test_plain_json_and_nonsense() -> None:
    assert parse_json_with_tokens('{"a": 1}') == {"a": 1}
    assert encode_json_with_tokens({"a": 1}) == '{"a":1}'
    with pytest.raises(TypeError):
        parse_json_with_tokens({"Fn::Sub": "x"})


def test_every_manifest_of_the_app_parses_and_round_trips(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    assembly = wb.assembly()
    objects = assembly.kubernetes_objects
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "TargetGroupBinding",
            "SecurityGroupPolicy", "Namespace"} <= {o.kind for o in objects}
    for o in objects:
        assert parse_json_with_tokens(encode_json_with_tokens(o.manifest)) == o.manifest, o.ref


def test_references_resolve_across_stacks(bench: Callable[[str], Workbench]) -> None:
    assembly = bench("dev").assembly()
    binding = next(o for o in assembly.objects("TargetGroupBinding") if o.namespace == "orders")
    target = assembly.target(binding.resource.stack, binding.manifest["spec"]["targetGroupARN"])
    assert isinstance(target, ResourceTarget) and target.stack == "Dev-Edge"
    tg = assembly.resource(target.stack, target.logical_id)
    assert tg is not None and tg.type == "AWS::ElasticLoadBalancingV2::TargetGroup"
    assert assembly.literal("Dev-Cluster", {"Ref": "AWS::Region"}) == "eu-west-1"


def test_import_value_resolves_through_exports(bench: Callable[[str], Workbench]) -> None:
    """Strong references (`Fn::ImportValue` of an export) resolve like weak ones."""
    wb = bench("dev")
    vpc = next(iter(wb.resources("Network", "AWS::EC2::VPC")))
    wb.template("Network").setdefault("Outputs", {})["ExportVpc"] = {
        "Value": {"Ref": vpc}, "Export": {"Name": "Dev-Network:ExportsOutputRefVpc"}}
    assembly = wb.assembly()
    assert assembly.target("Dev-Cluster", {"Fn::ImportValue": "Dev-Network:ExportsOutputRefVpc"}) == \
        ResourceTarget("Dev-Network", vpc)


def test_a_directory_without_manifest_is_refused(tmp_path: object) -> None:
    with pytest.raises(AssemblyError, match="not a cloud assembly"):
        Assembly(tmp_path)  # type: ignore[arg-type]
