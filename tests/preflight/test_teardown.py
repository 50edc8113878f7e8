"""Teardown: what survives `cdk destroy` and in which order it deletes; dev leaves nothing behind.

The fixtures find what they break by type and properties (a log group by the name it carries, the interface cleanup
by its custom resource type, the functions by the security group they use), so they follow the app as it changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.preflight.workbench import Workbench
from tools.assembly import encode_json_with_tokens, parse_json_with_tokens
from tools.reports.preflight import teardown
from tools.reports.preflight.names import name


def log_group(name_: Any) -> dict[str, Any]:
    return {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": name_, "RetentionInDays": 14},
            "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}


def clean(wb: Workbench) -> Workbench:
    """Dev as it should tear down: nothing retained, every service-created log group pre-created, every bucket
    emptied on delete. Adds only what is missing, so what the app already does stays the app's."""
    for part in wb.parts:
        for body in wb.template(part)["Resources"].values():
            if body.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot"):
                body["DeletionPolicy"] = body["UpdateReplacePolicy"] = "Delete"
    assembly = wb.assembly()
    existing = teardown.log_groups(assembly)
    for part in wb.parts:
        for g in teardown.service_log_groups(assembly, wb.stack(part)):
            if g.name not in existing:
                wb.add(part, f"{g.resource.logical_id}Logs{len(existing)}", log_group(g.value))
                existing.add(g.name)
        emptied = {json.dumps(b["Properties"]["BucketName"])
                   for b in wb.resources(part, "Custom::S3AutoDeleteObjects").values()}
        for lid in wb.resources(part, "AWS::S3::Bucket"):
            if json.dumps({"Ref": lid}) not in emptied:
                wb.add(part, f"{lid}AutoDelete", {"Type": "Custom::S3AutoDeleteObjects", "Properties": {
                    "ServiceToken": "arn", "BucketName": {"Ref": lid}}})
    return wb


def cluster(wb: Workbench) -> str:
    return next(iter(wb.resources("Cluster", "AWS::EKS::Cluster")))


def held_functions(wb: Workbench) -> list[str]:
    """The Cluster stack's VPC functions on the cluster security group (the kubectl provider's); one is added, wired
    like them (deleted before the cleanup), if the app no longer has any."""
    group = json.dumps({"Fn::GetAtt": [cluster(wb), "ClusterSecurityGroupId"]})
    found = [lid for lid, b in wb.resources("Cluster", "AWS::Lambda::Function").items()
             if group in map(json.dumps, (b["Properties"].get("VpcConfig") or {}).get("SecurityGroupIds") or [])]
    if not found:
        subnets = wb.resources("Cluster", "AWS::EKS::Cluster")[cluster(wb)]["Properties"]["ResourcesVpcConfig"]
        wb.add("Cluster", "HeldFunction", {"Type": "AWS::Lambda::Function", "DependsOn": [cluster_cleanup(wb)],
                                           "Properties": {"VpcConfig": {"SecurityGroupIds": [json.loads(group)],
                                                                        "SubnetIds": subnets["SubnetIds"]}}})
        found = ["HeldFunction"]
    return found


def cluster_cleanup(wb: Workbench) -> str:
    """The network interface cleanup that deletes the cluster's security group."""
    return next(lid for lid, b in wb.resources("Cluster", teardown.ENI_CLEANUP).items()
                if b["Properties"].get("DeleteClusterSecurityGroup") == "true")


def waiter(wb: Workbench, part: str, cleanup: str) -> dict[str, Any]:
    """The Step Functions state machine that polls the cleanup's isComplete handler."""
    resources = wb.template(part)["Resources"]
    framework = resources[cleanup]["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    return dict(resources[resources[framework]["Properties"]["Environment"]["Variables"]["WAITER_STATE_MACHINE_ARN"]
                          ["Ref"]])


def test_dev_that_leaves_nothing_behind_passes(bench: Callable[[str], Workbench]) -> None:
    wb = clean(bench("dev"))
    functions = held_functions(wb)
    result = teardown.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    assert result.figure == f"{len(wb.parts)} stacks, 0 left behind"
    plan = "\n".join(result.details)
    assert plan.index(". Dev-Services") < plan.index(". Dev-Cluster") < plan.index(f"{len(wb.parts)}. Dev-Network")
    # The storefront goes before the stacks it reads (Edge, Data) and the us-east-1 stack it reads from.
    step = {m[2]: int(m[1]) for m in re.finditer(r"(\d+)\. (Dev-\w+)", plan)}
    assert step["Dev-Web"] < min(step["Dev-Edge"], step["Dev-Data"], step["Dev-WebGlobal"]), step
    assert min(step.values()) == 1 and 1 in (step["Dev-Services"], step["Dev-Web"]), step
    # The app's own cleanups are recognised: no blocker, but said in the plan.
    for fn in functions:
        assert f"released: {fn} (AWS::Lambda::Function) -- " in plan and cluster_cleanup(wb) in plan
    assert "released: branch network interfaces of the pods" in plan


def test_log_groups_named_after_generated_names_are_recognised(bench: Callable[[str], Workbench]) -> None:
    """The control-plane and PostgreSQL log groups carry the cluster's and the DB cluster's own generated names
    (joins over the stack id): the same expression is the same name."""
    wb = clean(bench("dev"))
    assembly = wb.assembly()
    for part, type_ in (("Cluster", "AWS::EKS::Cluster"), ("Data", "AWS::RDS::DBCluster")):
        [g] = [x for x in teardown.service_log_groups(assembly, wb.stack(part)) if x.resource.type == type_]
        assert not g.name.fixed and str(g.name).endswith(f"-{{{wb.stack(part)} stack id}}/"
                                                         f"{'cluster' if part == 'Cluster' else 'postgresql'}")
        assert g.name in teardown.log_groups(assembly), g.resource.logical_id


@pytest.mark.parametrize(("part", "type_", "service"), [("Cluster", "AWS::EKS::Cluster", "EKS control-plane logging"),
                                                         ("Data", "AWS::RDS::DBCluster", "RDS log export")])
def test_log_group_under_another_generated_name_fails(bench: Callable[[str], Workbench], part: str, type_: str,
                                                      service: str) -> None:
    """A log group whose name differs only in a deploy-time piece (here: the Network stack's id in place of its own
    stack's) is another log group."""
    wb = clean(bench("dev"))
    assembly = wb.assembly()
    [g] = [x for x in teardown.service_log_groups(assembly, wb.stack(part)) if x.resource.type == type_]
    [lid] = [lid for lid, b in wb.resources(part, "AWS::Logs::LogGroup").items()
             if name(assembly, wb.stack(part), b["Properties"].get("LogGroupName")) == g.name]
    text = json.dumps(wb.template(part)["Resources"][lid]["Properties"]["LogGroupName"])
    assert '{"Ref": "AWS::StackId"}' in text
    other_stack = json.dumps({"Fn::ImportValue": "Dev-Network:StackId"})
    wb.template(part)["Resources"][lid]["Properties"]["LogGroupName"] = json.loads(
        text.replace('{"Ref": "AWS::StackId"}', other_stack))
    wb.template("Network").setdefault("Outputs", {})["StackId"] = {"Value": {"Ref": "AWS::StackId"},
                                                                   "Export": {"Name": "Dev-Network:StackId"}}
    [finding] = teardown.check(wb.assembly(), wb.config).findings
    assert finding.resource == f"{wb.stack(part)}: log group {g.name}"
    assert f"{service} of {g.resource.logical_id} creates it" in finding.message


def test_retained_log_group_in_dev_fails(bench: Callable[[str], Workbench]) -> None:
    wb = clean(bench("dev"))
    [lid] = [lid for lid, b in wb.resources("Data", "AWS::Logs::LogGroup").items()
             if "/aws/rds/cluster/" in json.dumps(b["Properties"].get("LogGroupName"))]
    wb.template("Data")["Resources"][lid]["DeletionPolicy"] = "RetainExceptOnCreate"
    # Its name carries the stack id, so creating the stack again does not meet it: no recreate hazard. Its logs are
    # encrypted under the logs key, which the teardown deletes: kept, they could no longer be read.
    [survives, unreadable] = teardown.check(wb.assembly(), wb.config).findings
    assert survives.resource == unreadable.resource == f"Dev-Data: {lid} (AWS::Logs::LogGroup)"
    assert "survives cdk destroy in dev (removal: destroy): DeletionPolicy RetainExceptOnCreate" in survives.message
    assert unreadable.message.startswith("kept by the teardown (DeletionPolicy RetainExceptOnCreate), but its KmsKeyId "
                                         "uses Dev-Network/LogsKey")
    assert unreadable.message.endswith("(AWS::KMS::Key), which the teardown deletes: what is encrypted under it can no "
                                       "longer be decrypted once the key is deleted; the kept data is lost to it")


def test_retain_where_retain_except_on_create_would_do_fails_everywhere(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 1: with Retain a failed first create leaves the resource behind (42 of them in prod's
    assembly then). Prod's own retained resources are RetainExceptOnCreate and pass; one set back to Retain fails."""
    wb = bench("prod")
    retained = [(part, lid) for part in wb.parts for lid, b in wb.template(part)["Resources"].items()
                if b.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
                and b["Type"] not in teardown.IN_CLUSTER]
    assert len(retained) > 30 and all(
        wb.template(part)["Resources"][lid]["DeletionPolicy"] == "RetainExceptOnCreate" for part, lid in retained)
    assert teardown.check(wb.assembly(), wb.config).ok
    part, lid = next((p, i) for p, i in retained if p == "Data" and i.startswith("TablesKey"))
    wb.template(part)["Resources"][lid]["DeletionPolicy"] = "Retain"
    [finding] = teardown.check(wb.assembly(), wb.config).findings
    assert finding.resource == f"Prod-Data: {lid} (AWS::KMS::Key)"
    assert "keeps it even when the create that made it rolls back" in finding.message


def test_log_group_a_service_creates_fails(bench: Callable[[str], Workbench]) -> None:
    wb = clean(bench("dev"))
    for lid, body in wb.resources("Edge", "AWS::Logs::LogGroup").items():
        if "API-Gateway-Execution-Logs_" in json.dumps(body["Properties"].get("LogGroupName")):
            wb.remove("Edge", lid)
    [finding] = teardown.check(wb.assembly(), wb.config).findings
    assert finding.resource.startswith("Dev-Edge: log group API-Gateway-Execution-Logs_{Dev-Edge/ApiRestApi")
    assert "API Gateway execution logging" in finding.message


def _drop_cleanup(wb: Workbench) -> None:
    wb.remove("Cluster", cluster_cleanup(wb))


def _keep_cluster_group(wb: Workbench) -> None:
    wb.template("Cluster")["Resources"][cluster_cleanup(wb)]["Properties"]["DeleteClusterSecurityGroup"] = "false"


def _other_cluster(wb: Workbench) -> None:
    wb.template("Cluster")["Resources"][cluster_cleanup(wb)]["Properties"]["ClusterName"] = {
        "Fn::Join": ["-", ["another-cluster", {"Ref": "AWS::StackId"}]]}


def _other_vpc(wb: Workbench) -> None:
    wb.add("Cluster", "OtherVpc", {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.99.0.0/16"}})
    wb.template("Cluster")["Resources"][cluster_cleanup(wb)]["Properties"]["VpcId"] = {"Ref": "OtherVpc"}


def _unordered(wb: Workbench) -> None:
    cleanup = cluster_cleanup(wb)
    for body in wb.template("Cluster")["Resources"].values():
        if cleanup in (body.get("DependsOn") or []):
            body["DependsOn"] = [d for d in body["DependsOn"] if d != cleanup]


def _short_waiter(wb: Workbench) -> None:
    machine = waiter(wb, "Cluster", cluster_cleanup(wb))["Properties"]
    definition = parse_json_with_tokens(machine["DefinitionString"])
    for state in definition["States"].values():
        for retry in state.get("Retry", []):
            retry.update(IntervalSeconds=30, MaxAttempts=40, BackoffRate=1)
    machine["DefinitionString"] = encode_json_with_tokens(definition)


def _short_service_timeout(wb: Workbench) -> None:
    wb.template("Cluster")["Resources"][cluster_cleanup(wb)]["Properties"]["ServiceTimeout"] = 600


@pytest.mark.parametrize(("edit", "expected"), [
    (_drop_cleanup, "no Custom::NetworkInterfaceCleanup deletes that group"),
    (_keep_cluster_group, "no Custom::NetworkInterfaceCleanup deletes that group"),
    (_other_cluster, "no Custom::NetworkInterfaceCleanup deletes that group"),
    (_other_vpc, "watches another VPC than the function's"),
    (_unordered, "is not deleted after"),
    (_short_waiter, "waits only 20 min for them (Lambda takes up to 45 min)"),
    (_short_service_timeout, "waits only 10 min for them"),
])
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_functions_on_the_cluster_security_group_block_without_a_cleanup_that_works(
        bench: Callable[[str], Workbench], env: str, edit: Callable[[Workbench], None], expected: str) -> None:
    """In prod too: its removal mode keeps data, and a stack deletion failing on a held security group is no
    choice of it."""
    wb = bench(env)
    if env == "dev":
        clean(wb)
    functions = held_functions(wb)
    assert teardown.check(wb.assembly(), wb.config).ok
    edit(wb)
    findings = teardown.check(wb.assembly(), wb.config).findings
    assert sorted(f.resource for f in findings) == sorted(
        f"{wb.config.stack_prefix}-Cluster: {fn} (AWS::Lambda::Function)" for fn in functions), findings
    assert all("use the security group EKS created for" in f.message and expected in f.message for f in findings)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_pod_interfaces_without_their_cleanup_fail(bench: Callable[[str], Workbench], env: str) -> None:
    """Nothing deleted after the workloads waits for the VPC resource controller to release the branch interfaces:
    a deletion blocker (it was a caution before issue 22), in every environment."""
    wb = bench(env)
    if env == "dev":
        clean(wb)
    for lid, body in wb.resources("Services", teardown.ENI_CLEANUP).items():
        if body["Properties"].get("SecurityGroupIds"):
            wb.remove("Services", lid)
    result = teardown.check(wb.assembly(), wb.config)
    [finding] = result.findings
    prefix = wb.config.stack_prefix
    assert finding.resource.startswith(f"{prefix}-Services: branch network interfaces of the pods {prefix}-Services/")
    assert "nothing deleted after the workloads waits for that" in finding.message
    assert "released: branch" not in "\n".join(result.details)


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda wb: wb.add("Edge", "LogsBucket", {"Type": "AWS::S3::Bucket", "Properties": {}}),
     "bucket that is not empty"),
    (lambda wb: next(iter(wb.resources("Data", "AWS::RDS::DBCluster").values()))["Properties"].update(
        DeletionProtection=True), "DeletionProtection=True: its deletion fails"),
])
def test_deletion_blockers_fail(bench: Callable[[str], Workbench], edit: Callable[[Workbench], Any],
                                expected: str) -> None:
    wb = clean(bench("dev"))
    edit(wb)
    findings = teardown.check(wb.assembly(), wb.config).findings
    assert findings and all(expected in f.message for f in findings)


def test_retained_fixed_name_in_a_replaceable_stack_fails_everywhere(bench: Callable[[str], Workbench]) -> None:
    wb = bench("prod")
    wb.add("Observability", "NamedLogs", {**log_group("/platform/prod/audit"), "DeletionPolicy": "Retain"})
    findings = teardown.check(wb.assembly(), wb.config).findings
    assert any(f.resource == "Prod-Observability: NamedLogs (AWS::Logs::LogGroup /platform/prod/audit)"
               and "fails with 'already exists'" in f.message for f in findings)


def test_teardown_plan_command_prints_the_plan(bench: Callable[[str], Workbench],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    wb = clean(bench("dev"))
    wb.assembly()
    assert teardown.main(["--assembly", str(wb.dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Teardown plan for dev (removal: destroy).") and "PASS  teardown" in out


def test_a_retained_crd_manifest_leaves_nothing_behind(bench: Callable[[str], Workbench]) -> None:
    """The Load Balancer Controller's CRDs are retained on delete (deleting a CRD deletes every object of its kind,
    every TargetGroupBinding with it); what a kubectl manifest holds goes with the cluster, so dev still leaves
    nothing behind and no create leftover is reported."""
    wb = bench("dev")
    crds = [b for b in wb.resources("Cluster", "Custom::AWSCDK-EKS-KubernetesResource").values()
            if "CustomResourceDefinition" in json.dumps(b["Properties"]["Manifest"])]
    assert len(crds) == 2 and {b["DeletionPolicy"] for b in crds} == {"Retain"}
    result = teardown.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    assert sum("keeps the object in the cluster" in d for d in result.details) == 2


def _delete(wb: Workbench, part: str, type_: str, match: str = "") -> list[str]:
    """Give the matching resources DeletionPolicy Delete (as main had them before review 1, finding 4)."""
    found = [lid for lid, b in wb.resources(part, type_).items() if match in lid]
    for lid in found:
        body = wb.template(part)["Resources"][lid]
        body["DeletionPolicy"] = body["UpdateReplacePolicy"] = "Delete"
    assert found, (part, type_, match)
    return found


@pytest.mark.parametrize(("part", "type_", "match", "kept", "where", "expected"), [
    ("Data", "AWS::EC2::SecurityGroup", "OrdersDatabaseSecurityGroup", "AWS::RDS::DBCluster", "VpcSecurityGroupIds",
     "EC2 refuses to delete a security group that network interfaces or rules still use"),
    ("Data", "AWS::RDS::DBClusterParameterGroup", "", "AWS::RDS::DBCluster", "DBClusterParameterGroupName",
     "RDS refuses to delete a parameter group a DB cluster uses"),
    ("Data", "AWS::SecretsManager::Secret", "ClusterSecret", "AWS::RDS::DBCluster", "MasterUserPassword",
     "the credentials it holds are gone once the secret is deleted; the kept data is lost to it"),
    ("Network", "AWS::EC2::Subnet", "Isolated", "AWS::RDS::DBSubnetGroup", "SubnetIds",
     "EC2 refuses to delete a subnet that still holds network interfaces"),
    ("Network", "AWS::EC2::VPC", "", "AWS::EC2::SecurityGroup|AWS::EC2::Subnet", "VpcId",
     "EC2 refuses to delete a VPC that still holds subnets or security groups"),
])
def test_a_kept_resource_using_one_the_teardown_deletes_fails(bench: Callable[[str], Workbench], part: str,
                                                              type_: str, match: str, kept: str, where: str,
                                                              expected: str) -> None:
    """Review finding 4: prod retained its Aurora cluster but deleted its security group (the cluster's interfaces
    stay in it: DependencyViolation, Prod-Data DELETE_FAILED, and Prod-Network's subnets after it), its parameter
    group and its master secret. Prod now keeps them, with the VPC and isolated subnets they live in; each one set
    back to Delete fails again."""
    wb = bench("prod")
    result = teardown.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    assert any(d.startswith("Kept resources use ") and "harmlessly: only written into text" in d
               for d in result.details)
    deleted = _delete(wb, part, type_, match)
    findings = teardown.check(wb.assembly(), wb.config).findings
    assert findings and all(any(f"({k})" in f.resource for k in kept.split("|"))
                            for f in findings if f"its {where} " in f.message)
    mine = [f for f in findings if f"its {where} uses Prod-{part}/" in f.message]
    assert {f.message.split(f"its {where} uses Prod-{part}/")[1].split(" ")[0] for f in mine} == set(deleted)
    assert all(expected in f.message for f in mine)


def test_a_final_snapshot_needs_its_key(bench: Callable[[str], Workbench]) -> None:
    """A Snapshot resource is deleted, but its final snapshot is kept, encrypted under the cluster's key: a deleted
    key makes it unrestorable. (Its other references, such as the subnet group, go with it.)"""
    wb = bench("staging")
    assert teardown.check(wb.assembly(), wb.config).ok
    [key] = _delete(wb, "Data", "AWS::KMS::Key", "OrdersDatabaseKey")
    findings = teardown.check(wb.assembly(), wb.config).findings
    [snapshot] = [f for f in findings if f.resource.startswith("Staging-Data: OrdersDatabaseCluster")]
    assert snapshot.message.startswith("its final snapshot is kept (DeletionPolicy Snapshot), but its KmsKeyId uses "
                                       f"Staging-Data/{key} (AWS::KMS::Key)")


def rotation_application(wb: Workbench) -> str:
    """The Data stack's secret rotation application (a Serverless Application Repository nested stack)."""
    [lid] = [lid for lid, b in wb.resources("Data", "AWS::Serverless::Application").items()
             if "vpcSecurityGroupIds" in b["Properties"].get("Parameters", {})]
    return lid


def rotation_groups(wb: Workbench) -> list[str]:
    """The security groups the rotation application's function runs with (the application's parameter)."""
    value = wb.resources("Data", "AWS::Serverless::Application")[rotation_application(wb)]["Properties"][
        "Parameters"]["vpcSecurityGroupIds"]
    items = value["Fn::Join"][1] if "Fn::Join" in value else [value]
    return [i["Fn::GetAtt"][0] for i in items]


def rotation_cleanup(wb: Workbench) -> str:
    """The network interface cleanup that watches the rotation function's security group."""
    groups = set(rotation_groups(wb))
    return next(lid for lid, b in wb.resources("Data", teardown.ENI_CLEANUP).items()
                if groups & {g["Fn::GetAtt"][0] for g in b["Properties"].get("SecurityGroupIds", [])})


def _drop_rotation_cleanup(wb: Workbench) -> None:
    wb.remove("Data", rotation_cleanup(wb))


def _rotation_cleanup_unordered(wb: Workbench) -> None:
    body = wb.template("Data")["Resources"][rotation_application(wb)]
    body["DependsOn"] = [d for d in body.get("DependsOn", []) if d != rotation_cleanup(wb)]


def _rotation_cleanup_in_other_vpc(wb: Workbench) -> None:
    wb.add("Data", "OtherVpc", {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.99.0.0/16"}})
    wb.template("Data")["Resources"][rotation_cleanup(wb)]["Properties"]["VpcId"] = {"Ref": "OtherVpc"}


def _rotation_cleanup_watches_nothing(wb: Workbench) -> None:
    wb.template("Data")["Resources"][rotation_cleanup(wb)]["Properties"]["SecurityGroupIds"] = []


def _rotation_cleanup_short_timeout(wb: Workbench) -> None:
    wb.template("Data")["Resources"][rotation_cleanup(wb)]["Properties"]["ServiceTimeout"] = 900


def test_dev_rotation_function_interfaces_are_released(bench: Callable[[str], Workbench]) -> None:
    """The rotation function of the orders database runs in the VPC inside a nested SAR application; the app's
    cleanup, deleted after the application and before the group, is recognised and said in the plan."""
    wb = clean(bench("dev"))
    app, cleanup = rotation_application(wb), rotation_cleanup(wb)
    assert wb.resources("Data", teardown.ENI_CLEANUP)[cleanup]["Properties"].get("ClusterName") is None
    result = teardown.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    [line] = [d for d in result.details if f"released: {app} (AWS::Serverless::Application)" in d]
    assert f"Dev-Data/{cleanup} ({teardown.ENI_CLEANUP}), deleted after the application and before the group" in line


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize(("edit", "expected"), [
    (_drop_rotation_cleanup, "no Custom::NetworkInterfaceCleanup watches that group"),
    (_rotation_cleanup_watches_nothing, "no Custom::NetworkInterfaceCleanup watches that group"),
    (_rotation_cleanup_unordered, "is not deleted after"),
    (_rotation_cleanup_in_other_vpc, "watches another VPC than the function's"),
    (_rotation_cleanup_short_timeout, "waits only 15 min for them (Lambda takes up to 45 min)"),
])
def test_rotation_function_in_the_vpc_blocks_without_a_cleanup_that_works(
        bench: Callable[[str], Workbench], env: str, edit: Callable[[Workbench], None], expected: str) -> None:
    """Main before this check: the rotation application's function holds its security group after the application
    is deleted; the teardown deletes that group (in prod too: it is not kept), so EC2 refuses (DependencyViolation)
    and the Data stack's deletion stalls. A finding in every environment (prod's teardown keeps the data, not this
    group)."""
    wb = bench(env)
    if env == "dev":
        clean(wb)
    app = rotation_application(wb)
    assert teardown.check(wb.assembly(), wb.config).ok
    edit(wb)
    findings = teardown.check(wb.assembly(), wb.config).findings
    prefix = wb.config.stack_prefix
    mine = [f for f in findings if f.resource == f"{prefix}-Data: {app} (AWS::Serverless::Application)"]
    assert len(mine) == len(rotation_groups(wb)) >= 1, findings
    assert all("runs in the VPC with security group" in f.message and "DependencyViolation" in f.message
               and expected in f.message for f in mine)


def test_a_kept_rotation_group_needs_no_cleanup(bench: Callable[[str], Workbench]) -> None:
    """A security group the teardown keeps is not deleted, so Lambda's interfaces in it block nothing."""
    wb = clean(bench("dev"))
    for group in rotation_groups(wb):
        wb.template("Data")["Resources"][group]["DeletionPolicy"] = "RetainExceptOnCreate"
    _drop_rotation_cleanup(wb)
    findings = teardown.check(wb.assembly(), wb.config).findings
    assert not [f for f in findings if "(AWS::Serverless::Application)" in f.resource], findings
