"""Cross-stack references are strong: every value a stack takes from another is an Fn::ImportValue of an export the
producer's template has. Replacing a producer resource that a consumer still imports then fails at deploy, instead
of leaving the consumer (which the CLI skips when its own template did not change) with a stale value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.synthesis import ROOT, synthesize
from tools.assembly import Assembly


def _find(node: Any, key: str) -> Iterator[Any]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _find(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _find(item, key)


def test_cdk_json_locks_in_strong_references() -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assert context["@aws-cdk/core:defaultCrossStackReferences"] == "strong"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_cross_stack_value_is_an_import_of_an_existing_export(env: str) -> None:
    synthesized = synthesize(env)
    templates = synthesized.all_templates()
    exports = {out["Export"]["Name"]: stack for stack, t in templates.items()
               for out in t.get("Outputs", {}).values() if "Export" in out}
    stacks = Assembly(synthesized.outdir).stacks
    imports = 0
    for stack, template in templates.items():
        assert not list(_find(template, "Fn::GetStackOutput")), f"{stack} uses a weak reference"
        for name in _find(template, "Fn::ImportValue"):
            imports += 1
            assert isinstance(name, str) and name in exports, f"{stack} imports {name!r}, which no stack exports"
            producer = exports[name]
            assert producer != stack
            # The consumer is deployed after (and destroyed before) the stack it imports from.
            assert producer in stacks[stack].dependencies, (stack, producer)
    assert imports > 0
