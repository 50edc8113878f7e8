"""`make contract-check`: event schema changes that a consumer of the previous version cannot read fail, unless the
version is raised with the previous schema kept (tools/reports/contract_check.py)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools.reports.contract_check import ROOT, SCHEMAS, breaking_changes, main

SOURCE = ROOT / SCHEMAS


def test_the_working_tree_against_head_passes() -> None:
    assert main(["--base", "HEAD"]) == 0


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A temporary repository whose HEAD holds a copy of the schemas."""
    shutil.copytree(SOURCE, tmp_path / SCHEMAS)
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "schemas"], check=True)
    return tmp_path


def edit(repo: Path, name: str, change: Any) -> dict[str, Any]:
    path = repo / SCHEMAS / f"{name}.json"
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=2))
    return dict(schema)


def test_a_new_required_field_fails_naming_it(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def require_gift_note(s: dict[str, Any]) -> None:
        s["properties"]["gift_note"] = {"type": "string"}
        s["required"].append("gift_note")

    edit(repo, "OrderPlaced", require_gift_note)
    assert main(["--base", "HEAD", "--root", str(repo)]) == 1
    assert "OrderPlaced v1: /gift_note: new required field" in capsys.readouterr().err


def test_an_optional_field_passes(repo: Path) -> None:
    edit(repo, "OrderPlaced", lambda s: s["properties"].update(gift_note={"type": "string"}))
    assert main(["--base", "HEAD", "--root", str(repo)]) == 0


def test_a_raised_version_with_the_previous_kept_passes_and_without_it_fails(repo: Path) -> None:
    previous = json.loads((repo / SCHEMAS / "OrderPlaced.json").read_text())

    def v2(s: dict[str, Any]) -> None:
        s["$id"] = s["$id"].rsplit(":", 1)[0] + ":2"
        s["properties"]["gift_note"] = {"type": "string"}
        s["required"].append("gift_note")

    edit(repo, "OrderPlaced", v2)
    assert main(["--base", "HEAD", "--root", str(repo)]) == 1  # consumers would stop reading v1
    (repo / SCHEMAS / "OrderPlaced.v1.json").write_text(json.dumps(previous))
    assert main(["--base", "HEAD", "--root", str(repo)]) == 0


def test_a_removed_event_type_fails(repo: Path) -> None:
    (repo / SCHEMAS / "StockRejected.json").unlink()
    assert main(["--base", "HEAD", "--root", str(repo)]) == 1


OLD: dict[str, Any] = {
    "type": "object", "required": ["id"],
    "properties": {"id": {"type": "string"}, "qty": {"type": "integer"},
                   "status": {"enum": ["A", "B"]},
                   "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}}},
}


@pytest.mark.parametrize(("change", "finding"), [
    (lambda s: s["properties"].pop("qty"), "/qty: removed field"),
    (lambda s: s["properties"]["qty"].update(type="string"), "/qty: retyped from ['integer'] to ['string']"),
    (lambda s: s["properties"]["status"].update(enum=["A"]), '/status: enum narrowed, ["B"] no longer allowed'),
    (lambda s: s["properties"]["lines"]["items"]["properties"]["sku"].update(type="integer"),
     "/lines[]/sku: retyped"),
    (lambda s: s.update(additionalProperties=False), "(root): extra fields newly forbidden"),
])
def test_each_kind_of_breaking_change_is_named(change: Any, finding: str) -> None:
    new = copy.deepcopy(OLD)
    change(new)
    assert any(f.startswith(finding) for f in breaking_changes(OLD, new)), list(breaking_changes(OLD, new))


def test_widening_is_compatible() -> None:
    new = copy.deepcopy(OLD)
    new["properties"]["status"]["enum"].append("C")
    new["properties"]["note"] = {"type": "string"}
    new["required"] = []
    assert list(breaking_changes(OLD, new)) == []
