"""`python -m tools.reports.diff_report --base REF [--env dev]` (`make diff BASE=REF`): what a change does to the
templates.

Synthesizes ``REF`` (in a temporary ``git worktree`` that borrows this checkout's .venv and node_modules) and the
working tree, side by side and without AWS credentials, then writes one Markdown summary (``cdk.out/diff.md``) and
its data (``cdk.out/diff.json``):

* per stack: resources added, changed, replaced and removed; a stack on one side only is shown as added or removed;
* at the top: replacements and removals of stateful resources, IAM changes and security group changes;
* changes that vanish once asset hashes are masked (service code, Lambda bundles) are folded into a count, as are
  changes to the CDK's own metadata, so they are counted but do not drown the review;
* per stack, the CDK CLI's own diff (``cdk diff STACK --app HEAD --template BASE/STACK.template.json``), which
  needs no credentials when given a template.

The classification is computed here from the two templates, so it does not depend on the CLI's text format. A
replacement is: the logical id of a resource changing (same construct path and type, new id), the type changing, a
property that CloudFormation cannot update in place changing (the ``createOnlyProperties`` of the type's resource
schema, as cfn-lint ships it, and a few documented additions: :mod:`tools.reports.replacement_rules`), or the CLI
marking the resource ``replace``; a conditionally create-only property changing, or the CLI's ``may replace``, is
shown as a possible replacement.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.assembly import Assembly
from tools.reports.replacement_rules import replacing_changes

ROOT = Path(__file__).resolve().parents[2]

# Resources whose replacement or removal loses data or identity that other systems hold on to.
STATEFUL_TYPES = frozenset({
    "AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable",
    "AWS::KMS::Key", "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::Cognito::UserPool", "AWS::SQS::Queue",
    "AWS::SNS::Topic", "AWS::S3::Bucket", "AWS::SecretsManager::Secret", "AWS::Logs::LogGroup", "AWS::EKS::Cluster",
    "AWS::EFS::FileSystem", "AWS::ElastiCache::ReplicationGroup",
})

# Resources that grant or change access (IAM, resource policies); a KMS key counts when its KeyPolicy changes.
IAM_TYPES = frozenset({
    "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group",
    "AWS::IAM::InstanceProfile", "AWS::IAM::OIDCProvider", "AWS::IAM::RolePolicy", "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy", "AWS::S3::BucketPolicy", "AWS::Lambda::Permission", "AWS::EKS::AccessEntry",
    "AWS::EKS::PodIdentityAssociation", "AWS::SecretsManager::ResourcePolicy", "AWS::ApiGateway::Authorizer",
})
POLICY_PROPERTIES = {"AWS::KMS::Key": "KeyPolicy"}
SECURITY_GROUP_TYPES = frozenset({"AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress",
                                  "AWS::EC2::SecurityGroupEgress"})
# Resource keys other than Metadata that make a difference to the deployed resource.
COMPARED_KEYS = ("Type", "Properties", "DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy",
                 "UpdatePolicy", "CreationPolicy")
ASSET_HASH = re.compile(r"[0-9a-f]{64}")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CLI_RESOURCE_LINE = re.compile(r"^\[(?P<op>[-+~])\] (?P<type>\S+) (?P<rest>.+)$")
MAX_CLI_CHARS_PER_STACK = 6000
MAX_CLI_CHARS_TOTAL = 30000


@dataclass
class ResourceChange:
    logical_id: str
    type: str
    path: str
    kind: str  # added | removed | changed | replaced | asset-only | metadata-only
    properties: list[str] = field(default_factory=list)
    reason: str = ""
    possible_replacement: bool = False

    @property
    def stateful(self) -> bool:
        return self.type in STATEFUL_TYPES


@dataclass
class StackDiff:
    name: str
    status: str  # added | removed | changed | unchanged
    changes: list[ResourceChange] = field(default_factory=list)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    other_sections: list[str] = field(default_factory=list)
    cli_diff: str = ""
    # Changes no deploy can carry out: the report fails (exit 1) and names them first.
    refused: list[str] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[ResourceChange]:
        return [c for c in self.changes if c.kind in kinds]

    def counts(self) -> dict[str, int]:
        return {k: len(self.of_kind(k)) for k in ("added", "changed", "replaced", "removed", "asset-only",
                                                    "metadata-only")}


# ---------------------------------------------------------------------------------------------------------------
# Comparing two cloud assemblies


def stack_templates(assembly: Path) -> dict[str, Path]:
    """Stack name -> template path of every CloudFormation stack in a cloud assembly."""
    return {name: stack.template_file for name, stack in Assembly(assembly).stacks.items()}


def _significant(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: resource[k] for k in COMPARED_KEYS if k in resource}


def _masked(value: Any) -> str:
    return ASSET_HASH.sub("<asset-hash>", json.dumps(value, sort_keys=True))


def _path(resource: dict[str, Any]) -> str:
    return str(resource.get("Metadata", {}).get("aws:cdk:path", ""))


def _changed_properties(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    names: list[str] = []
    old_props, new_props = old.get("Properties", {}), new.get("Properties", {})
    for key in sorted(set(old_props) | set(new_props)):
        if old_props.get(key) != new_props.get(key):
            names.append(key)
    names += [k for k in COMPARED_KEYS if k not in ("Type", "Properties") and old.get(k) != new.get(k)]
    return names


def _minor(version: Any) -> tuple[int, ...] | None:
    return tuple(int(x) for x in version.split(".")) if isinstance(version, str) and version[:1].isdigit() else None


def kubernetes_downgrades(old_res: dict[str, Any], new_res: dict[str, Any]) -> list[str]:
    """A cluster or node group whose Kubernetes version goes down. EKS never moves a control plane back, and a
    CloudFormation rollback does not either (EKS user guide, "Roll back a cluster", CloudFormation stack rollback
    behavior): reverting a version bump leaves the cluster on the newer minor with templates of the older one, and
    node groups cannot run a kubelet older than the control plane allows. The way back is forward (docs/deploying.md,
    "Rolling back")."""
    refused = []
    for logical_id in sorted(set(old_res) & set(new_res)):
        before, after = old_res[logical_id], new_res[logical_id]
        if after["Type"] not in ("AWS::EKS::Cluster", "AWS::EKS::Nodegroup") or before["Type"] != after["Type"]:
            continue
        was, now = (_minor(r.get("Properties", {}).get("Version")) for r in (before, after))
        if was and now and now < was:
            refused.append(f"`{logical_id}` ({after['Type']}) Kubernetes {'.'.join(map(str, was))} -> "
                           f"{'.'.join(map(str, now))}: EKS cannot move a cluster back to an older minor; fix forward "
                           "(docs/deploying.md, \"Rolling back\")")
    return refused


def compare_templates(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> StackDiff:
    """Classify every resource of one stack (``old``/``new`` None: the stack is absent on that side)."""
    status = "added" if old is None else "removed" if new is None else "changed"
    old_res: dict[str, Any] = (old or {}).get("Resources", {})
    new_res: dict[str, Any] = (new or {}).get("Resources", {})
    diff = StackDiff(name=name, status=status)

    removed = {k: v for k, v in old_res.items() if k not in new_res}
    added = {k: v for k, v in new_res.items() if k not in old_res}
    # A logical id that changed: same construct path and type on both sides, different ids.
    added_by_path = {(_path(v), v["Type"]): k for k, v in added.items() if _path(v)}
    for old_id, res in sorted(removed.items()):
        new_id = added_by_path.get((_path(res), res["Type"])) if _path(res) else None
        if new_id is not None:
            del added[new_id]
            diff.changes.append(ResourceChange(new_id, res["Type"], _path(res), "replaced",
                                               reason=f"logical id changed from {old_id}"))
        else:
            diff.changes.append(ResourceChange(old_id, res["Type"], _path(res), "removed"))
    for new_id, res in sorted(added.items()):
        diff.changes.append(ResourceChange(new_id, res["Type"], _path(res), "added"))

    for logical_id in sorted(set(old_res) & set(new_res)):
        before, after = old_res[logical_id], new_res[logical_id]
        kind_of = after["Type"]
        if _significant(before) == _significant(after):
            if before != after:
                diff.changes.append(ResourceChange(logical_id, kind_of, _path(after), "metadata-only"))
            continue
        props = _changed_properties(before, after)
        if kind_of == "AWS::CDK::Metadata":
            diff.changes.append(ResourceChange(logical_id, kind_of, _path(after), "metadata-only", props))
        elif _masked(_significant(before)) == _masked(_significant(after)):
            diff.changes.append(ResourceChange(logical_id, kind_of, _path(after), "asset-only", props))
        elif before["Type"] != after["Type"]:
            diff.changes.append(ResourceChange(logical_id, kind_of, _path(after), "replaced", props,
                                               reason=f"type changed from {before['Type']}"))
        else:
            replacing, maybe = replacing_changes(kind_of, before.get("Properties", {}), after.get("Properties", {}))
            if replacing:
                diff.changes.append(ResourceChange(logical_id, kind_of, _path(after), "replaced", props,
                                                   reason="changes " + ", ".join(replacing)))
            elif maybe:
                diff.changes.append(ResourceChange(logical_id, kind_of, _path(after), "changed", props,
                                                   reason="may replace: changes " + ", ".join(maybe),
                                                   possible_replacement=True))
            else:
                diff.changes.append(ResourceChange(logical_id, kind_of, _path(after), "changed", props))

    diff.refused = kubernetes_downgrades(old_res, new_res)
    for section in ("Parameters", "Conditions", "Mappings", "Rules"):
        if (old or {}).get(section) != (new or {}).get(section) and status == "changed":
            diff.other_sections.append(section)
    old_out, new_out = (old or {}).get("Outputs", {}), (new or {}).get("Outputs", {})
    diff.outputs = {
        "added": sorted(set(new_out) - set(old_out)),
        "removed": sorted(set(old_out) - set(new_out)),
        "changed": sorted(k for k in set(old_out) & set(new_out)
                          if _masked(old_out[k]) != _masked(new_out[k])),
    }
    real = [c for c in diff.changes if c.kind not in ("asset-only", "metadata-only")]
    if status == "changed" and not real and not any(diff.outputs.values()) and not diff.other_sections:
        diff.status = "unchanged"
    return diff


def apply_cli_replacements(diff: StackDiff, cli_text: str, head: dict[str, Any] | None = None) -> None:
    """Adds the replacements the CDK CLI knows of (its resource spec covers every type) to ours, including resources
    whose template is unchanged but which reference a replaced resource (their input changes at deploy time)."""
    head_resources: dict[str, Any] = (head or {}).get("Resources", {})
    for line in cli_text.splitlines():
        m = CLI_RESOURCE_LINE.match(line.strip())
        if not m or m["op"] != "~":
            continue
        words = m["rest"].split()
        if words[-1] != "replace":
            continue
        maybe = len(words) >= 2 and words[-2] == "may"
        logical_id = words[-3] if maybe else words[-2]
        if logical_id in head_resources and not any(c.logical_id == logical_id for c in diff.changes):
            res = head_resources[logical_id]
            diff.changes.append(ResourceChange(logical_id, res["Type"], _path(res), "changed",
                                               reason="references a replaced resource"))
            if diff.status == "unchanged":
                diff.status = "changed"
        for change in diff.changes:
            if change.logical_id != logical_id or change.kind in ("replaced", "added", "removed"):
                continue
            if maybe:
                change.possible_replacement = True
            else:
                change.kind = "replaced"
                change.reason = (change.reason + "; " if change.reason else "") + "the CDK CLI marks it replace"


def compare_assemblies(base: Path, head: Path) -> list[StackDiff]:
    old, new = stack_templates(base), stack_templates(head)
    out: list[StackDiff] = []
    for name in sorted(set(old) | set(new)):
        out.append(compare_templates(
            name,
            json.loads(old[name].read_text()) if name in old else None,
            json.loads(new[name].read_text()) if name in new else None,
        ))
    return out


def is_iam_change(change: ResourceChange) -> bool:
    if change.kind in ("asset-only", "metadata-only"):
        return False
    if change.type in IAM_TYPES:
        return True
    prop = POLICY_PROPERTIES.get(change.type)
    return prop is not None and (change.kind in ("added", "removed") or prop in change.properties)


# What a reviewer checks with care beyond IAM: a fault experiment decides what is broken on purpose, and where (its
# targets, action, stop condition); a canary is traffic against the stage; their automation documents act on the VPC.
OPERATIONS_TYPES = frozenset({"AWS::FIS::ExperimentTemplate", "AWS::Synthetics::Canary", "AWS::SSM::Document"})


def is_operations_change(change: ResourceChange) -> bool:
    return change.type in OPERATIONS_TYPES and change.kind not in ("asset-only", "metadata-only")


def is_security_group_change(change: ResourceChange) -> bool:
    return change.type in SECURITY_GROUP_TYPES and change.kind not in ("asset-only", "metadata-only")


# ---------------------------------------------------------------------------------------------------------------
# Markdown


def _row(change: ResourceChange) -> str:
    detail = change.reason or (", ".join(change.properties) if change.properties else "")
    if change.possible_replacement:
        detail = (detail + "; " if detail else "") + "the CDK CLI says it may be replaced"
    return f"| `{change.logical_id}` | {change.type} | `{change.path or '-'}` | {detail or '-'} |"


def _table(changes: Iterable[ResourceChange], header: str) -> list[str]:
    rows = [_row(c) for c in changes]
    if not rows:
        return []
    return [f"**{header}**", "", "| logical id | type | construct path | detail |", "|---|---|---|---|", *rows, ""]


def render_markdown(diffs: list[StackDiff], *, base: str, head: str, env: str) -> str:
    lines = [f"## Infrastructure diff ({env}): `{base}` → `{head}`", ""]
    attention: list[str] = [f"- :no_entry: **cannot deploy** {d.name}: {r}" for d in diffs for r in d.refused]
    for d in diffs:
        for c in d.changes:
            where = f"{d.name}: `{c.logical_id}` ({c.type})"
            if c.stateful and c.kind == "replaced":
                attention.append(f"- :warning: **stateful resource replaced** {where}: {c.reason}")
            elif c.stateful and c.kind == "removed":
                attention.append(f"- :warning: **stateful resource removed** {where}"
                                 + (" (the whole stack is removed)" if d.status == "removed" else ""))
            elif c.stateful and c.possible_replacement:
                attention.append(f"- :warning: stateful resource may be replaced {where}"
                                 + (f": {c.reason}" if c.reason else ""))
    iam = [(d.name, c) for d in diffs for c in d.changes if is_iam_change(c)]
    sgs = [(d.name, c) for d in diffs for c in d.changes if is_security_group_change(c)]
    attention += [f"- IAM {c.kind}: {name}: `{c.logical_id}` ({c.type})" for name, c in iam]
    attention += [f"- security group {c.kind}: {name}: `{c.logical_id}` ({c.type})" for name, c in sgs]
    ops = [(d.name, c) for d in diffs for c in d.changes if is_operations_change(c)]
    attention += [f"- {'fault experiment' if c.type == 'AWS::FIS::ExperimentTemplate' else 'operations'} "
                  f"{c.kind}: {name}: `{c.logical_id}` ({c.type})"
                  + (f": {', '.join(c.properties)}" if c.properties else "") for name, c in ops]
    lines += ["### Needs attention", ""]
    lines += attention or ["Nothing: no stateful resource replaced or removed, no IAM, security group, fault "
                           "experiment or canary change."]
    lines += [""]

    lines += ["### Stacks", "", "| stack | status | added | changed | replaced | removed | asset-hash only |",
              "|---|---|---|---|---|---|---|"]
    for d in diffs:
        n = d.counts()
        lines.append(f"| {d.name} | {d.status} | {n['added']} | {n['changed']} | {n['replaced']} | {n['removed']} "
                     f"| {n['asset-only']} |")
    lines.append("")

    cli_budget = MAX_CLI_CHARS_TOTAL
    for d in diffs:
        if d.status == "unchanged" and not d.of_kind("asset-only"):
            continue
        lines += [f"### {d.name} ({d.status})", ""]
        for kind, title in (("replaced", "Replaced"), ("removed", "Removed"), ("added", "Added"),
                            ("changed", "Changed (in place)")):
            lines += _table(d.of_kind(kind), title)
        folded = d.of_kind("asset-only")
        if folded:
            lines += [f"<details><summary>{len(folded)} resource(s) changed only by asset hashes (code or image "
                      "bundles)</summary>", "",
                      *[f"- `{c.logical_id}` ({c.type}): {', '.join(c.properties)}" for c in folded], "",
                      "</details>", ""]
        meta = d.of_kind("metadata-only")
        if meta:
            lines += [f"{len(meta)} resource(s) changed only in CDK metadata (construct paths, analytics).", ""]
        outputs = [f"{k} {', '.join(f'`{o}`' for o in v)}" for k, v in d.outputs.items() if v]
        if outputs:
            lines += ["Outputs: " + "; ".join(outputs), ""]
        if d.other_sections:
            lines += ["Also changed: " + ", ".join(d.other_sections), ""]
        if d.cli_diff.strip():
            text = d.cli_diff.strip()
            limit = min(MAX_CLI_CHARS_PER_STACK, max(cli_budget, 0))
            cut = len(text) > limit
            text = text[:limit]
            cli_budget -= len(text)
            lines += ["<details><summary>cdk diff</summary>", "", "```", text, "```",
                      *(["(cut; the full text is in the diff-cli artifact)"] if cut else []), "", "</details>", ""]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Synthesizing both sides and running the CLI


def _tool_env(repo: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(repo / ".venv" / "bin"), str(repo / "node_modules" / ".bin"), env["PATH"]])
    env.update({"CDK_DISABLE_VERSION_CHECK": "1", "NO_COLOR": "1", "FORCE_COLOR": "0",
                "AWS_EC2_METADATA_DISABLED": "true", "CDK_DISABLE_CLI_TELEMETRY": "true"})
    return env


def _cdk(repo: Path) -> str:
    return str(repo / "node_modules" / ".bin" / "cdk")


GIT = shutil.which("git") or "git"


def _git(repo: Path, *args: str, check: bool = True) -> str:
    # Fixed argv (git and our own arguments), no shell.
    proc = subprocess.run([GIT, "-C", str(repo), *args], check=check, capture_output=True, text=True)  # noqa: S603
    return proc.stdout.strip()


def synth(checkout: Path, tools_repo: Path, env_name: str, out: Path) -> subprocess.Popen[str]:
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    # The checkout's own services/ first: the borrowed venv's path file names the working tree's, whose service
    # contract may differ from the base's.
    env = {**_tool_env(tools_repo), "PYTHONPATH": str(checkout / "services")}
    return subprocess.Popen(  # noqa: S603 - fixed argv: the pinned CDK CLI, no shell
        [_cdk(tools_repo), "synth", "--quiet", "--no-notices", "-c", f"env={env_name}", "--output", str(out)],
        cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wait(proc: subprocess.Popen[str], what: str) -> None:
    output, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"diff: synth of {what} failed:\n{output.strip()}")


@contextmanager
def worktree(repo: Path, ref: str) -> Iterator[tuple[Path, str]]:
    """A temporary detached worktree of ``ref`` that borrows ``repo``'s .venv and node_modules; yields (path, sha).

    Where ``ref`` has the storefront (web/), it also borrows ``repo``'s built storefront (web/dist), which its Web
    stack deploys: the files differ only in content, which reaches the templates as asset hashes (masked here)."""
    sha = _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    tmp = Path(tempfile.mkdtemp(prefix="cdk-diff-base."))
    path = tmp / "base"
    _git(repo, "worktree", "add", "--detach", "--quiet", str(path), sha)
    try:
        for shared in (".venv", "node_modules"):
            if not (path / shared).exists():
                (path / shared).symlink_to((repo / shared).resolve())
        if (path / "web").is_dir() and not (path / "web" / "dist").exists() and (repo / "web" / "dist").is_dir():
            (path / "web" / "dist").symlink_to((repo / "web" / "dist").resolve())
        yield path, sha
    finally:
        _git(repo, "worktree", "remove", "--force", str(path), check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def synth_both(repo: Path, base_ref: str, env_name: str, base_out: Path, head_out: Path) -> str:
    """Synthesizes ``base_ref`` and the working tree of ``repo`` in parallel; returns the base commit."""
    with worktree(repo, base_ref) as (path, sha):
        base = synth(path, repo, env_name, base_out)
        head = synth(repo, repo, env_name, head_out)
        _wait(head, "the working tree")
        _wait(base, f"{base_ref} ({sha[:12]})")
    return sha


def cli_diff(repo: Path, stack: str, base_template: Path | None, head_out: Path, scratch: Path) -> str:
    """The CDK CLI's diff of one stack against a template (an empty one for a stack that is new)."""
    if base_template is None:
        base_template = scratch / "empty.template.json"
        base_template.write_text("{}")
    proc = subprocess.run(  # noqa: S603 - fixed argv: the pinned CDK CLI, no shell
        [_cdk(repo), "diff", stack, "--app", str(head_out), "--template", str(base_template), "--no-notices",
         "--exclusively"],
        cwd=repo, env=_tool_env(repo), capture_output=True, text=True, check=False,
    )
    return ANSI.sub("", proc.stdout + proc.stderr).strip()


def report(repo: Path, base_out: Path, head_out: Path, *, base: str, head: str, env_name: str, out_md: Path,
           work: Path) -> list[StackDiff]:
    """Compares two synthesized assemblies, runs the CLI's diff per stack, writes ``out_md`` and its .json."""
    diffs = compare_assemblies(base_out, head_out)
    old, new = stack_templates(base_out), stack_templates(head_out)
    cli_dir = work / "cli"
    cli_dir.mkdir(parents=True, exist_ok=True)
    todo = [d for d in diffs if d.status in ("changed", "added")]
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        texts = list(pool.map(lambda d: cli_diff(repo, d.name, old.get(d.name), head_out, cli_dir), todo))
    for d, text in zip(todo, texts, strict=True):
        d.cli_diff = text
        (cli_dir / f"{d.name}.txt").write_text(text + "\n")
        apply_cli_replacements(d, text, json.loads(new[d.name].read_text()))
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(render_markdown(diffs, base=base, head=head, env=env_name))
    out_md.with_suffix(".json").write_text(json.dumps(
        {"base": base, "head": head, "env": env_name,
         "stacks": [{k: v for k, v in asdict(d).items() if k != "cli_diff"} for d in diffs]}, indent=2) + "\n")
    return diffs


def run(repo: Path, base_ref: str, env_name: str, out_md: Path, work: Path) -> list[StackDiff]:
    started = time.monotonic()
    base_out, head_out = work / "base", work / "head"
    sha = synth_both(repo, base_ref, env_name, base_out, head_out)
    synth_seconds = time.monotonic() - started
    head_desc = "working tree"
    try:
        head_desc = _git(repo, "rev-parse", "--short=12", "HEAD") + (
            " + uncommitted changes" if _git(repo, "status", "--porcelain", "--untracked-files=no") else "")
    except subprocess.CalledProcessError:
        pass
    diffs = report(repo, base_out, head_out, base=f"{base_ref} ({sha[:12]})", head=head_desc, env_name=env_name,
                   out_md=out_md, work=work)
    total = time.monotonic() - started
    print(f"diff: {len(diffs)} stack(s), synth {synth_seconds:.1f}s, total {total:.1f}s -> {out_md}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", required=True, help="git ref to compare against, e.g. origin/main")
    parser.add_argument("--env", default="dev", help="environment to synthesize (dev, staging, prod)")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="checkout whose working tree is the head")
    parser.add_argument("--out", type=Path, default=None, help="Markdown summary (default REPO/cdk.out/diff.md)")
    parser.add_argument("--work", type=Path, default=None,
                        help="where both assemblies and CLI diffs go (default REPO/cdk.out.diff)")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    diffs = run(repo, args.base, args.env, (args.out or repo / "cdk.out" / "diff.md").resolve(),
                (args.work or repo / "cdk.out.diff").resolve())
    refused = [f"{d.name}: {r}" for d in diffs for r in d.refused]
    for line in refused:
        print(f"diff: cannot deploy: {line}", file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
