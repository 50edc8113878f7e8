"""`make contract-check BASE=<ref>`: every event schema of services/common/schemas at BASE against the working tree.

Fails on a change a consumer of the previous version cannot read, field by field through nested objects and array
items: a new required field, a removed field, a retyped field, a narrowed enum (or a changed or added const), extra
fields newly forbidden, a removed event type. Such a change passes only as a transition: the type's version is raised
(the number its ``$id`` ends with) and the previous version's schema is kept as ``<Type>.v<previous>.json``, so
consumers read both (services/common/envelope.py) until every message of the old version is gone.

    python -m tools.reports.contract_check --base <ref> [--root DIR]

Writes nothing; prints each finding and exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = "services/common/schemas"
Schema = Mapping[str, Any]


def version(schema: Schema) -> int:
    found = re.search(r":(\d+)$", str(schema.get("$id", "")))
    return int(found.group(1)) if found else 1


def _types(node: Schema) -> frozenset[str] | None:
    t = node.get("type")
    if t is None:
        return None
    return frozenset(t if isinstance(t, list) else [t])


def breaking_changes(old: Schema, new: Schema, where: str = "") -> Iterator[str]:
    """What a reader of ``new`` cannot read of what ``old`` allowed (or a reader of ``old`` of ``new``'s fields)."""
    here = where or "(root)"
    old_types, new_types = _types(old), _types(new)
    if old_types != new_types and old_types is not None:
        yield f"{here}: retyped from {sorted(old_types)} to {sorted(new_types) if new_types else 'any'}"
    if "enum" in old and "enum" in new:
        gone = [v for v in old["enum"] if v not in new["enum"]]
        if gone:
            yield f"{here}: enum narrowed, {json.dumps(gone)} no longer allowed"
    elif "enum" in new and "enum" not in old:
        yield f"{here}: enum added (values restricted)"
    if "const" in new and old.get("const", object()) != new["const"]:
        yield f"{here}: const {json.dumps(new['const'])} (was {json.dumps(old.get('const', 'any'))})"
    if old.get("additionalProperties", True) is not False and new.get("additionalProperties", True) is False:
        yield f"{here}: extra fields newly forbidden"
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in old_props:
        if name not in new_props:
            yield f"{where}/{name}: removed field"
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        yield f"{where}/{name}: new required field"
    for name, node in old_props.items():
        if name in new_props:
            yield from breaking_changes(node, new_props[name], f"{where}/{name}")
    if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
        yield from breaking_changes(old["items"], new["items"], f"{where}[]")


def _git(root: Path, *args: str) -> str:
    r = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)  # noqa: S603,S607 - fixed argv
    if r.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def schemas_at(root: Path, ref: str) -> dict[str, Schema]:
    names = _git(root, "ls-tree", "--name-only", f"{ref}:{SCHEMAS}").split()
    return {Path(n).stem: json.loads(_git(root, "show", f"{ref}:{SCHEMAS}/{n}")) for n in names if n.endswith(".json")}


def schemas_in(directory: Path) -> dict[str, Schema]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def check(base: Mapping[str, Schema], head: Mapping[str, Schema]) -> list[str]:
    findings: list[str] = []
    for name, old in sorted(base.items()):
        if ".v" in name:  # a kept older version: its own transition was checked when it was kept
            continue
        new = head.get(name)
        if new is None:
            findings.append(f"{name}: schema removed (consumers of it, and messages of it in queues, are stranded)")
            continue
        changes = list(breaking_changes(old, new))
        if not changes:
            continue
        if version(new) > version(old):
            kept = head.get(f"{name}.v{version(old)}")
            if kept is not None and version(kept) == version(old) and not list(breaking_changes(old, kept)):
                continue  # a transition: the new version published, the previous one still read
            findings.append(f"{name}: version raised to {version(new)} but {name}.v{version(old)}.json (the "
                            f"previous schema) is not kept as it was, so consumers stop reading version "
                            f"{version(old)}: {'; '.join(changes)}")
            continue
        findings += [f"{name} v{version(new)}: {c}" for c in changes]
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.reports.contract_check",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="git ref to compare with (e.g. origin/main, HEAD)")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository (its working tree is the head)")
    args = parser.parse_args(argv)
    base = schemas_at(args.root, args.base)
    head = schemas_in(args.root / SCHEMAS)
    findings = check(base, head)
    for f in findings:
        print(f"contract-check: {f}", file=sys.stderr)
    print(f"contract-check: {len(base)} schemas at {args.base} against the working tree, "
          f"{len(findings)} breaking change(s)")
    if findings:
        print("A consumer of the previous version cannot read these. Make the change compatible (optional "
              "fields, widened types), or raise the type's version in its $id and keep the previous schema as "
              "<Type>.v<previous>.json so consumers read both (services/common/envelope.py).", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
