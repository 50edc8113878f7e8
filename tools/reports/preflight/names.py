"""Physical names as CloudFormation will resolve them, compared by structure rather than by text.

A name in a template is often an expression: ``/aws/eks/`` joined to the cluster's name, itself a join of a literal
and a piece of ``AWS::StackId`` (``cdk_constructs/replaceable_name.py``). Two names are the same name when they
resolve to the same sequence of literal text and deploy-time tokens:

- joins are flattened (``Fn::Join`` with its delimiter, nested or not) and adjacent literal text merged;
- what the template fixes is resolved: literals, pseudo parameters known before deploy (region, account, partition,
  URL suffix, stack name), ``Ref`` to a resource whose ``Ref`` is its name and whose name the template sets (it is
  replaced by that name's own expression), imports and stack outputs (followed to the producing stack's value);
- the rest stays a token, equal only to the same token: the same resource attribute, or the same intrinsic over the
  same arguments in the same stack (``AWS::StackId`` differs from stack to stack, so its pieces do too).

So ``{"Fn::Join": ["", ["/aws/eks/", {"Ref": "Cluster"}, "/cluster"]]}`` and a log group named
``/aws/eks/<the cluster's Name expression>/cluster`` are one name, and two different deploy-time values never are.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tools.assembly import NAME_PROPERTY, REF_IS_NAME, Assembly

_KNOWN_PSEUDO = ("AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix", "AWS::StackName")


@dataclass(frozen=True)
class Token:
    """A value known only at deploy time. ``key`` identifies it; ``text`` is how a plan or a finding shows it."""

    key: tuple[Any, ...]
    text: str


Part = str | Token


@dataclass(frozen=True)
class Name:
    """A physical name: literal text and tokens, adjacent text merged (so equal names compare equal)."""

    parts: tuple[Part, ...]

    @staticmethod
    def of(parts: list[Part]) -> Name:
        merged: list[Part] = []
        for p in parts:
            if isinstance(p, str):
                if not p:
                    continue
                if merged and isinstance(merged[-1], str):
                    merged[-1] += p
                    continue
            merged.append(p)
        return Name(tuple(merged))

    @property
    def fixed(self) -> bool:
        """Whether the template alone fixes it: the same on every create."""
        return all(isinstance(p, str) for p in self.parts)

    def lower(self) -> Name:
        """The name as a service that stores it in lower case does (RDS identifiers): literal text lowered."""
        return Name.of([p.lower() if isinstance(p, str) else p for p in self.parts])

    def __str__(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)


def name(assembly: Assembly, stack: str, value: Any) -> Name:
    """``value`` (a template value in ``stack``) as a :class:`Name`."""
    return Name.of(_parts(assembly, stack, value, ()))


def resource_name(assembly: Assembly, stack: str, logical_id: str) -> Name:
    """What ``Ref`` of a resource names (for types whose ``Ref`` is the physical name)."""
    return name(assembly, stack, {"Ref": logical_id})


def _parts(assembly: Assembly, stack: str, value: Any, trail: tuple[tuple[str, str], ...]) -> list[Part]:
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, (str, int, float)):
        return [str(value)]
    if not (isinstance(value, dict) and len(value) == 1):
        return [_opaque(stack, value)]
    (fn, arg), = value.items()
    if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
        out: list[Part] = []
        for i, item in enumerate(arg[1]):
            if i:
                out.append(str(arg[0]))
            out += _parts(assembly, stack, item, trail)
        return out
    if fn == "Ref" and isinstance(arg, str):
        return _ref(assembly, stack, arg, trail)
    if fn == "Fn::GetAtt":
        lid, attr = (arg.split(".", 1) if isinstance(arg, str) else (arg[0], arg[1]))
        return [Token(("attribute", stack, str(lid), str(attr)), f"{{{stack}/{lid}.{attr}}}")]
    if fn in ("Fn::ImportValue", "Fn::GetStackOutput"):
        found = assembly.output_value(stack, value)
        return _parts(assembly, found[0], found[1], trail) if found else [_opaque(stack, value)]
    if fn in ("Fn::Select", "Fn::Split"):
        return [_function(assembly, stack, fn, arg, trail)]
    if fn == "Fn::Sub":
        return _sub(assembly, stack, arg, trail)
    return [_opaque(stack, value)]


def _sub(assembly: Assembly, stack: str, arg: Any, trail: tuple[tuple[str, str], ...]) -> list[Part]:
    text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
    out: list[Part] = []
    for i, piece in enumerate(re.split(r"\$\{([^}]+)\}", str(text))):
        if i % 2 == 0:
            out.append(piece)
        elif piece.startswith("!"):
            out.append("${" + piece[1:] + "}")
        elif piece in variables:
            out += _parts(assembly, stack, variables[piece], trail)
        elif "." in piece and not piece.startswith("AWS::"):
            out += _parts(assembly, stack, {"Fn::GetAtt": piece.split(".", 1)}, trail)
        else:
            out += _parts(assembly, stack, {"Ref": piece}, trail)
    return out


def _ref(assembly: Assembly, stack: str, target: str, trail: tuple[tuple[str, str], ...]) -> list[Part]:
    if target.startswith("AWS::"):
        literal = assembly.literal(stack, {"Ref": target}) if target in _KNOWN_PSEUDO else None
        if literal is not None:
            return [literal]
        return [Token(("pseudo", stack, target), f"{{{stack} {target.removeprefix('AWS::')}}}")]
    r = assembly.resource(stack, target)
    prop = NAME_PROPERTY.get(r.type) if r and r.type in REF_IS_NAME else None
    if r is not None and prop and prop in r.properties and (stack, target) not in trail:
        return _parts(assembly, stack, r.properties[prop], (*trail, (stack, target)))
    return [Token(("ref", stack, target), f"{{{stack}/{target}}}")]


def _function(assembly: Assembly, stack: str, fn: str, arg: Any, trail: tuple[tuple[str, str], ...]) -> Part:
    """``Fn::Select`` / ``Fn::Split``: resolved when its arguments are literal, else a token keyed by the function
    and its resolved arguments."""
    args = arg if isinstance(arg, list) else [arg]
    if fn == "Fn::Select" and len(args) == 2 and isinstance(args[1], dict) and list(args[1]) == ["Fn::Split"]:
        delimiter, text = args[1]["Fn::Split"]
        whole = Name.of(_parts(assembly, stack, text, trail))
        if whole.fixed:
            args = [args[0], str(whole).split(str(delimiter))]
    resolved = [[Name.of(_parts(assembly, stack, x, trail)) for x in a] if isinstance(a, list)
                else Name.of(_parts(assembly, stack, a, trail)) for a in args]
    literal = _evaluate(fn, resolved)
    if literal is not None:
        return literal
    inner = next((t for a in resolved for n in (a if isinstance(a, list) else [a]) for t in n.parts
                  if isinstance(t, Token)), None)
    if inner is None:
        text = "{deploy-time value}"
    elif inner.key[0] == "pseudo" and inner.key[2] == "AWS::StackId":
        text = f"{{{inner.key[1]} stack id}}"  # its first block, in replaceable names
    else:
        text = inner.text
    key = tuple(tuple(name_key(n) for n in a) if isinstance(a, list) else name_key(a) for a in resolved)
    return Token(("function", fn, key), text)


def _evaluate(fn: str, args: list[Any]) -> str | None:
    """``Fn::Select [i, Fn::Split [d, text]]`` and ``Fn::Select [i, [literals]]`` when everything is literal."""
    if fn != "Fn::Select" or len(args) != 2 or not isinstance(args[0], Name) or not args[0].fixed:
        return None
    try:
        index = int(str(args[0]))
    except ValueError:
        return None
    items = args[1]
    if isinstance(items, list) and all(n.fixed for n in items) and 0 <= index < len(items):
        return str(items[index])
    return None


def name_key(n: Name) -> tuple[Any, ...]:
    return tuple(p if isinstance(p, str) else p.key for p in n.parts)


def _opaque(stack: str, value: Any) -> Token:
    return Token(("opaque", stack, json.dumps(value, sort_keys=True)), "{deploy-time value}")
