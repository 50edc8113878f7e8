"""A copy of a synthesized assembly that a test breaks (or repairs) before handing it to a check.

Templates and manifests are copied; the staged asset folders are linked, and copied only when a test edits one, so a
test costs milliseconds rather than a 60 MB copy. Kubernetes manifests are edited as Python objects and written
back in the `Fn::Join` form aws-cdk-lib writes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.synthesis import Synthesized
from tools.assembly import (
    HELM_CHART,
    KUBERNETES_RESOURCE,
    Assembly,
    encode_json_with_tokens,
    parse_json_with_tokens,
)


class Workbench:
    def __init__(self, source: Synthesized, directory: Path) -> None:
        self.config = source.config
        self.dir = directory
        directory.mkdir(parents=True)
        for entry in source.outdir.iterdir():
            if entry.is_dir():
                (directory / entry.name).symlink_to(entry, target_is_directory=True)
            else:
                shutil.copy2(entry, directory / entry.name)
        self._templates: dict[str, dict[str, Any]] = {}

    def stack(self, part: str) -> str:
        return f"{self.config.stack_prefix}-{part}"

    def template(self, part: str) -> dict[str, Any]:
        if part not in self._templates:
            self._templates[part] = json.loads((self.dir / f"{self.stack(part)}.template.json").read_text())
        return self._templates[part]

    def resources(self, part: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template(part)["Resources"].items() if v["Type"] == type_}

    @property
    def parts(self) -> list[str]:
        """Every stack of the assembly, by its part name (`Cluster` for `Dev-Cluster`)."""
        prefix = f"{self.config.stack_prefix}-"
        return sorted(f.name.removesuffix(".template.json").removeprefix(prefix)
                      for f in self.dir.glob(f"{prefix}*.template.json"))

    def add(self, part: str, logical_id: str, body: dict[str, Any]) -> None:
        self.template(part)["Resources"][logical_id] = body

    def remove(self, part: str, logical_id: str) -> None:
        """Delete a resource and every `DependsOn` naming it (a template CloudFormation would still accept)."""
        resources = self.template(part)["Resources"]
        del resources[logical_id]
        for body in resources.values():
            if "DependsOn" in body:
                deps = [body["DependsOn"]] if isinstance(body["DependsOn"], str) else body["DependsOn"]
                body["DependsOn"] = [d for d in deps if d != logical_id]

    def objects(self, part: str) -> Iterator[dict[str, Any]]:
        """Every Kubernetes object of the stack's manifests, editable in place (written back by :meth:`assembly`)."""
        for r in self.template(part)["Resources"].values():
            if r["Type"] != KUBERNETES_RESOURCE:
                continue
            docs = r.setdefault("_docs", parse_json_with_tokens(r["Properties"]["Manifest"]))
            yield from docs

    def edit_objects(self, part: str, kind: str, edit: Callable[[dict[str, Any]], None]) -> int:
        n = 0
        for o in self.objects(part):
            if o["kind"] == kind:
                edit(o)
                n += 1
        return n

    def helm_values(self, part: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        for r in self.template(part)["Resources"].values():
            if r["Type"] == HELM_CHART:
                yield r["Properties"], parse_json_with_tokens(r["Properties"]["Values"])

    def own_asset(self, folder: str) -> Path:
        """Replace the link to a staged asset folder by a copy the test may edit."""
        path = self.dir / folder
        if path.is_symlink():
            target = path.resolve()
            path.unlink()
            shutil.copytree(target, path)
        return path

    def assembly(self) -> Assembly:
        for part, template in self._templates.items():
            for r in template["Resources"].values():
                docs = r.pop("_docs", None)
                if docs is not None:
                    r["Properties"]["Manifest"] = encode_json_with_tokens(docs)
            (self.dir / f"{self.stack(part)}.template.json").write_text(json.dumps(template, indent=1))
        self._templates.clear()
        return Assembly(self.dir)
