"""Which property changes make CloudFormation replace a resource, read from the CloudFormation resource provider
schemas that cfn-lint ships (a pinned development dependency, refreshed with it): each type's
``createOnlyProperties`` (a change replaces the resource) and ``conditionalCreateOnlyProperties`` (a change may
replace it, depending on the values: an engine upgrade in place, an engine change by replacement). Paths may be
nested (``/properties/AccessConfig/BootstrapClusterCreatorAdminPermissions``): only a change at that path counts.

:data:`ADDITIONS` is the short list of properties the schemas leave out although AWS documents that a change needs a
new resource; each says where. ``tests/test_replacement_rules.py`` fails when the schemas come to cover one (drop it
then) and checks the types of the hand table this replaced against the schemas.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint

SCHEMAS = Path(cfnlint.__file__).resolve().parent / "data" / "schemas"
# The schemas are the same resource types in every commercial region the app deploys to; one index is enough.
PROVIDER_INDEX = SCHEMAS / "providers" / "us-east-1.json"

# Property -> the documentation that makes a change of it a replacement although the type's schema does not.
ADDITIONS: Mapping[str, Mapping[str, str]] = {
    # CloudFormation template reference, AWS::EC2::EIP Domain: "Update requires: Replacement".
    "AWS::EC2::EIP": {"Domain": "CloudFormation template reference: Update requires: Replacement"},
    # CloudFormation template reference, AWS::S3::Bucket ObjectLockEnabled: "Update requires: Replacement".
    "AWS::S3::Bucket": {"ObjectLockEnabled": "CloudFormation template reference: Update requires: Replacement"},
    # CloudFormation template reference, AWS::RDS::DBInstance Port: "Update requires: Replacement".
    "AWS::RDS::DBInstance": {"Port": "CloudFormation template reference: Update requires: Replacement"},
    # CloudFormation template reference, AWS::DynamoDB::Table LocalSecondaryIndex: "Updates are not supported" and
    # "A local secondary index can only be created when its parent table is created": a new table is the only way.
    "AWS::DynamoDB::Table": {"LocalSecondaryIndexes": "CloudFormation template reference: an LSI exists only from "
                                                      "its table's creation; updates are not supported"},
    # Amazon Cognito developer guide, "User pool attributes": username and alias attributes, and case sensitivity,
    # cannot be changed after the user pool is created.
    "AWS::Cognito::UserPool": {
        "AliasAttributes": "Cognito developer guide: cannot change after the user pool is created",
        "UsernameAttributes": "Cognito developer guide: cannot change after the user pool is created",
        "UsernameConfiguration": "Cognito developer guide: cannot change after the user pool is created",
    },
    # Amazon CloudWatch Logs user guide, "Log classes": a log group's class cannot be changed after it is created.
    "AWS::Logs::LogGroup": {"LogGroupClass": "CloudWatch Logs user guide: a log class cannot change after creation"},
}


@dataclass(frozen=True)
class Rules:
    """Property paths (tuples of keys below ``Properties``) whose change replaces, or may replace, the resource."""

    replace: tuple[tuple[str, ...], ...]
    may_replace: tuple[tuple[str, ...], ...]


def _paths(pointers: list[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(p.removeprefix("/properties/").split("/")) for p in pointers if p.startswith("/properties/"))


@cache
def _index() -> dict[str, str]:
    index: dict[str, str] = json.loads(PROVIDER_INDEX.read_text())
    return index


@cache
def schema(resource_type: str) -> dict[str, Any] | None:
    """The provider schema of ``resource_type`` as cfn-lint ships it, or None for a type it has none of (custom
    resources, third-party types)."""
    schema_id = _index().get(resource_type)
    if schema_id is None:
        return None
    loaded: dict[str, Any] = json.loads((SCHEMAS / "resources" / f"{schema_id}.json").read_text())
    return loaded


@cache
def rules(resource_type: str) -> Rules:
    s = schema(resource_type) or {}
    replace = _paths(s.get("createOnlyProperties", [])) + tuple((p,) for p in ADDITIONS.get(resource_type, {}))
    return Rules(replace=replace, may_replace=_paths(s.get("conditionalCreateOnlyProperties", [])))


_MISSING = object()


def _at(value: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` (``*`` maps over a list), or a marker when it is absent."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head == "*":
        return [_at(v, rest) for v in value] if isinstance(value, list) else _MISSING
    if isinstance(value, dict) and head in value:
        return _at(value[head], rest)
    return _MISSING


def _changed(before: Mapping[str, Any], after: Mapping[str, Any], paths: tuple[tuple[str, ...], ...]) -> list[str]:
    return sorted({".".join(p) for p in paths if _at(before, p) != _at(after, p)})


def replacing_changes(resource_type: str, before: Mapping[str, Any],
                      after: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(properties whose change replaces the resource, those whose change may), dotted, between two ``Properties``
    blocks of one resource."""
    r = rules(resource_type)
    replacing = _changed(before, after, r.replace)
    return replacing, [p for p in _changed(before, after, r.may_replace) if p not in replacing]
