"""`make diff`, offline: a temporary clone of this repository gets one commit per kind of change, and the summary must
show exactly that change. Slow (real synths), so the work is shared: `make diff` runs once end to end (base and a
NAT-count change), and the other two heads are synthesized in parallel and compared with the same base assembly."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.synthesis import ROOT
from tools.reports import diff_report


@dataclass(frozen=True)
class Result:
    markdown: str
    data: dict[str, Any]

    def stack(self, name: str) -> dict[str, Any]:
        (found,) = [s for s in self.data["stacks"] if s["name"] == name]
        return found

    def changes(self, *kinds: str) -> list[tuple[str, str, str]]:
        """(stack, logical id, type) of every change of these kinds."""
        return sorted((s["name"], c["logical_id"], c["type"]) for s in self.data["stacks"] for c in s["changes"]
                      if c["kind"] in kinds)


@dataclass(frozen=True)
class Diffs:
    nat: Result
    service_code: Result
    database: Result
    make_seconds: float


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def edit(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text()
    new, count = re.subn(pattern, replacement, text, count=1, flags=re.S)
    assert count == 1, f"{pattern!r} not found in {path}"
    path.write_text(new)


def commit(repo: Path, message: str) -> str:
    git(repo, "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD")


def read(md: Path) -> Result:
    return Result(markdown=md.read_text(), data=json.loads(md.with_suffix(".json").read_text()))


@pytest.fixture(scope="session")
def diffs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Diffs]:
    repo = tmp_path_factory.mktemp("diff") / "repo"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(repo)], check=True)
    for shared in (".venv", "node_modules"):
        (repo / shared).symlink_to(ROOT / shared)
    git(repo, "config", "user.email", "tests@example.com")
    git(repo, "config", "user.name", "tests")
    base = git(repo, "rev-parse", "HEAD")

    # Three heads, each one change on top of base.
    git(repo, "checkout", "-q", "-b", "service-code", base)
    with (repo / "services" / "products" / "app.py").open("a") as f:
        f.write("\n# a change to the service's code only\n")
    service_code = commit(repo, "service code only")
    git(repo, "checkout", "-q", "-b", "database", base)
    edit(repo / "cdk_constructs" / "orders_database.py", r'DATABASE_NAME = "orders"', 'DATABASE_NAME = "orderdb"')
    database = commit(repo, "rename the orders database (replaces the cluster)")
    git(repo, "checkout", "-q", "-b", "nat", base)
    edit(repo / "config" / "environments.py", r"(DEV = EnvironmentConfig\(.*?nat_gateways=)1", r"\g<1>2")
    commit(repo, "dev: two NAT gateways")

    # End to end, as CI runs it: `make diff` of base against the checked-out head (the NAT change).
    started = time.monotonic()
    # The clone borrows this checkout's set-up venv and node_modules: tell make not to set them up again.
    keep = ["-o", ".venv/.installed", "-o", "node_modules/.installed", "-o", "system-deps"]
    proc = subprocess.run(["make", "--no-print-directory", *keep, "diff", f"BASE={base}", "ENV=dev"], cwd=repo,
                          capture_output=True, text=True, check=False, timeout=600)
    make_seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    nat = read(repo / "cdk.out" / "diff.md")

    # The other heads against the same base assembly, synthesized side by side.
    work = repo / "cdk.out.diff"
    heads = {"service-code": service_code, "database": database}
    with diff_report.worktree(repo, service_code) as (tree_a, _), diff_report.worktree(repo, database) as (tree_b, _):
        procs = {name: diff_report.synth(tree, repo, "dev", work / name)
                 for name, tree in (("service-code", tree_a), ("database", tree_b))}
        for name, p in procs.items():
            diff_report._wait(p, name)
    results = {}
    for name, sha in heads.items():
        md = repo / "cdk.out" / f"diff-{name}.md"
        diff_report.report(repo, work / "base", work / name, base=base[:12], head=sha[:12], env_name="dev",
                           out_md=md, work=work / f"{name}-cli")
        results[name] = read(md)
    yield Diffs(nat=nat, service_code=results["service-code"], database=results["database"],
                make_seconds=make_seconds)


@pytest.mark.tool_run
def test_nat_change_shows_exactly_that_change(diffs: Diffs) -> None:
    r = diffs.nat
    assert r.changes("added") == [
        ("Dev-Network", "NetworkVpcPublicSubnet2EIP24F41572", "AWS::EC2::EIP"),
        ("Dev-Network", "NetworkVpcPublicSubnet2NATGateway42CB86F5", "AWS::EC2::NatGateway"),
        # and the new NAT gateway's port allocation alarm
        ("Dev-Observability", "Platformdevplatformnat2portallocationCriticalDB12FFD6", "AWS::CloudWatch::Alarm"),
    ]
    # (dev has no platform dashboard to show the new alarm on: config dashboards OVERVIEW)
    assert r.changes("changed") == [
        ("Dev-Network", "NetworkVpcPrivateSubnet2DefaultRouteA15DC6D5", "AWS::EC2::Route")]
    assert r.changes("replaced", "removed", "asset-only") == []
    assert {s["name"]: s["status"] for s in r.data["stacks"] if s["status"] != "unchanged"} == {
        "Dev-Network": "changed", "Dev-Observability": "changed"}
    assert "| Dev-Network | changed | 2 | 1 | 0 | 0 | 0 |" in r.markdown
    assert "| Dev-Observability | changed | 1 | 0 | 0 | 0 | 0 |" in r.markdown
    assert "Nothing: no stateful resource replaced or removed" in r.markdown
    # The CLI's own diff of the stack is included.
    assert "[+] AWS::EC2::NatGateway" in r.markdown


@pytest.mark.tool_run
def test_service_code_change_is_only_a_folded_asset_hash_change(diffs: Diffs) -> None:
    r = diffs.service_code
    assert r.changes("added", "changed", "replaced", "removed") == []
    folded = r.changes("asset-only")
    assert folded, "a change under services/ must change an image asset hash"
    assert {stack for stack, _, _ in folded} == {"Dev-Services"}
    n = len(r.stack("Dev-Services")["changes"]) - len(
        [c for c in r.stack("Dev-Services")["changes"] if c["kind"] == "metadata-only"])
    assert f"| Dev-Services | unchanged | 0 | 0 | 0 | 0 | {n} |" in r.markdown
    assert f"{n} resource(s) changed only by asset hashes" in r.markdown
    assert "Nothing: no stateful resource replaced or removed" in r.markdown


@pytest.mark.tool_run
def test_database_replacement_is_flagged_at_the_top(diffs: Diffs) -> None:
    r = diffs.database
    replaced = [c for c in r.changes("replaced") if c[2] == "AWS::RDS::DBCluster"]
    assert len(replaced) == 1
    top = r.markdown.split("### Stacks")[0]
    # A replacing change renames the cluster too (cdk_constructs/replaceable_name.py), and its log group follows.
    assert (f"**stateful resource replaced** Dev-Data: `{replaced[0][1]}` (AWS::RDS::DBCluster): changes "
            "DBClusterIdentifier, DatabaseName") in top
    assert "(AWS::Logs::LogGroup): changes LogGroupName" in top
    # The CLI knows what a replacement ripples into: an ingress rule on the cluster's port is replaced with it.
    ripple = [c for c in r.stack("Dev-Data")["changes"] if c["reason"].startswith("references a replaced resource")]
    assert ripple and all(c["kind"] == "replaced" for c in ripple)
    assert "security group replaced: Dev-Data" in top


@pytest.mark.tool_run
def test_make_diff_wall_time(diffs: Diffs) -> None:
    # Two synths side by side plus the CLI's diff: well under CI's budget.
    assert diffs.make_seconds < 180


def test_stack_on_one_side_only_is_added_or_removed() -> None:
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    added = diff_report.compare_templates("Dev-New", None, template)
    removed = diff_report.compare_templates("Dev-Old", template, None)
    assert (added.status, [c.kind for c in added.changes]) == ("added", ["added"])
    assert (removed.status, [c.kind for c in removed.changes]) == ("removed", ["removed"])
    md = diff_report.render_markdown([added, removed], base="a", head="b", env="dev")
    assert "**stateful resource removed** Dev-Old: `Queue` (AWS::SQS::Queue) (the whole stack is removed)" in md


def test_logical_id_change_is_a_replacement() -> None:
    meta = {"aws:cdk:path": "Dev-Data/Orders/Cluster/Resource"}
    old = {"Resources": {"ClusterA": {"Type": "AWS::RDS::DBCluster", "Properties": {}, "Metadata": meta}}}
    new = {"Resources": {"ClusterB": {"Type": "AWS::RDS::DBCluster", "Properties": {}, "Metadata": meta}}}
    (change,) = diff_report.compare_templates("Dev-Data", old, new).changes
    assert (change.kind, change.logical_id) == ("replaced", "ClusterB")
    assert change.reason == "logical id changed from ClusterA"


def test_iam_and_security_group_changes_are_called_out() -> None:
    old = {"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": []}},
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"SecurityGroupIngress": []}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"a": 1}, "Description": "x"}},
    }}
    new = json.loads(json.dumps(old))
    new["Resources"]["Role"]["Properties"]["Policies"] = [{"PolicyName": "p"}]
    new["Resources"]["Sg"]["Properties"]["SecurityGroupIngress"] = [{"CidrIp": "0.0.0.0/0"}]
    new["Resources"]["Key"]["Properties"]["KeyPolicy"] = {"a": 2}
    md = diff_report.render_markdown([diff_report.compare_templates("Dev-X", old, new)], base="a", head="b", env="dev")
    top = md.split("### Stacks")[0]
    assert "IAM changed: Dev-X: `Role`" in top and "IAM changed: Dev-X: `Key`" in top
    assert "security group changed: Dev-X: `Sg`" in top


def test_fault_experiment_and_canary_changes_are_called_out() -> None:
    """A changed fault experiment changes what is broken on purpose: it heads the report like an IAM change."""
    old = {"Resources": {
        "Fault": {"Type": "AWS::FIS::ExperimentTemplate", "Properties": {"Actions": {"Fault": {"Parameters": {
            "instanceTerminationPercentage": "50"}}}}},
        "Canary": {"Type": "AWS::Synthetics::Canary", "Properties": {"Schedule": {"Expression": "rate(5 minutes)"}}},
    }}
    new = json.loads(json.dumps(old))
    new["Resources"]["Fault"]["Properties"]["Actions"]["Fault"]["Parameters"]["instanceTerminationPercentage"] = "100"
    new["Resources"]["Canary"]["Properties"]["Schedule"]["Expression"] = "rate(1 minute)"
    md = diff_report.render_markdown([diff_report.compare_templates("Staging-Services", old, new)], base="a",
                                     head="b", env="staging")
    top = md.split("### Stacks")[0]
    assert "fault experiment changed: Staging-Services: `Fault` (AWS::FIS::ExperimentTemplate): Actions" in top
    assert "operations changed: Staging-Services: `Canary` (AWS::Synthetics::Canary): Schedule" in top


def test_cli_replace_marks_are_added() -> None:
    old = {"Resources": {"T": {"Type": "AWS::Foo::Bar", "Properties": {"Name": "a"}}}}
    new = {"Resources": {"T": {"Type": "AWS::Foo::Bar", "Properties": {"Name": "b"}}}}
    d = diff_report.compare_templates("S", old, new)
    assert d.changes[0].kind == "changed"
    diff_report.apply_cli_replacements(d, "Resources\n[~] AWS::Foo::Bar Some/Path T replace\n └─ [~] Name\n")
    assert (d.changes[0].kind, d.changes[0].reason) == ("replaced", "the CDK CLI marks it replace")


def test_a_kubernetes_version_going_down_is_refused_and_named_first() -> None:
    """Fresh review, finding 2: reverting a version bump cannot roll the control plane back (EKS never moves a
    cluster to an older minor, nor does a stack rollback), so the diff fails it instead of presenting a revert."""
    def template(version: str) -> dict[str, Any]:
        return {"Resources": {
            "Cluster": {"Type": "AWS::EKS::Cluster", "Properties": {"Version": version, "Name": "c"}},
            "Nodes": {"Type": "AWS::EKS::Nodegroup", "Properties": {"Version": version}}}}
    down = diff_report.compare_templates("Dev-Cluster", template("1.35"), template("1.34"))
    assert [r.split(" (")[0] for r in down.refused] == ["`Cluster`", "`Nodes`"]
    assert "Kubernetes 1.35 -> 1.34: EKS cannot move a cluster back" in down.refused[0]
    md = diff_report.render_markdown([down], base="a", head="b", env="dev")
    attention = md.split("### Needs attention", 1)[1]
    assert attention.lstrip().startswith("- :no_entry: **cannot deploy** Dev-Cluster: `Cluster`")
    assert diff_report.compare_templates("Dev-Cluster", template("1.34"), template("1.35")).refused == []
    assert diff_report.compare_templates("Dev-Cluster", template("1.9"), template("1.10")).refused == []
