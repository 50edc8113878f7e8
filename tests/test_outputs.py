"""Stack outputs: none resolves to an empty string, in any environment.

CloudFormation refuses an output whose value is empty ("Output ... value must not be empty"), and an output that a
condition can make empty reads as "" in the deploy job. Review 1, finding 5: Prod-Edge had ``PaymentTopicArn`` = ""
(prod's smoke test may not pay); it now exists only where it has a value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.preflight.workbench import Workbench
from tests.synthesis import Synthesized
from tools.assembly import Assembly


def may_be_empty(assembly: Assembly, stack: str, value: Any) -> bool:
    """Whether the value can evaluate to "" at deploy time: a literal or a join of literals that is empty, either
    branch of an ``Fn::If``, a parameter whose default is empty, an empty ``Fn::Sub`` template, or an import of an
    output that may be empty."""
    if assembly.literal(stack, value) == "":
        return True
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (fn, arg), = value.items()
    if fn == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
        return may_be_empty(assembly, stack, arg[1]) or may_be_empty(assembly, stack, arg[2])
    if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
        # Parts that may each be empty make an empty string only without a separator between them.
        return ((arg[0] == "" or len(arg[1]) <= 1)
                and all(may_be_empty(assembly, stack, part) for part in arg[1]))
    if fn == "Fn::Sub":
        return (arg[0] if isinstance(arg, list) else arg) == ""
    if fn == "Ref" and isinstance(arg, str):
        parameter = assembly.stacks[stack].template.get("Parameters", {}).get(arg)
        return parameter is not None and parameter.get("Default") == ""
    if fn in ("Fn::ImportValue", "Fn::GetStackOutput"):
        found = assembly.output_value(stack, value)
        return found is not None and may_be_empty(assembly, *found)
    return False


def empty_outputs(assembly: Assembly) -> list[str]:
    return [f"{stack}/{name}" for stack, s in sorted(assembly.stacks.items())
            for name, output in sorted(s.outputs.items()) if may_be_empty(assembly, stack, output.get("Value"))]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_stack_output_resolves_to_an_empty_string(synth: Callable[[str], Synthesized], env: str) -> None:
    assembly = Assembly(synth(env).outdir)
    assert sum(len(s.outputs) for s in assembly.stacks.values()) > 10
    assert empty_outputs(assembly) == []


@pytest.mark.parametrize(("value", "empty"), [
    ("", True),
    ({"Fn::Join": ["", ["", ""]]}, True),
    ({"Fn::Join": ["-", ["", ""]]}, False),
    ({"Fn::If": ["Pays", {"Ref": "AWS::Region"}, ""]}, True),
    ({"Fn::If": ["Pays", {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}]}, False),
    ({"Fn::Sub": ""}, True),
    ({"Ref": "EmptyByDefault"}, True),
    ({"Fn::ImportValue": "Prod-Edge:Empty"}, True),
    ({"Ref": "AWS::Region"}, False),
])
def test_an_empty_output_fails(tmp_path_factory: pytest.TempPathFactory, synth: Callable[[str], Synthesized],
                               value: Any, empty: bool) -> None:
    """The form prod's PaymentTopicArn had (a literal ""), and the others an output can be empty in, are found."""
    wb = Workbench(synth("prod"), tmp_path_factory.mktemp("outputs") / "prod")
    wb.template("Edge")["Outputs"]["Exported"] = {"Value": "", "Export": {"Name": "Prod-Edge:Empty"}}
    web = wb.template("Web")
    web.setdefault("Parameters", {})["EmptyByDefault"] = {"Type": "String", "Default": ""}
    web.setdefault("Outputs", {})["Probe"] = {"Value": value}
    found = empty_outputs(wb.assembly())
    assert "Prod-Edge/Exported" in found
    assert ("Prod-Web/Probe" in found) == empty
