"""One text rule everywhere input can reach storage: the request models (common/fields.py) and every event schema
refuse NUL and other control characters in text, with the same regular expression."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from common.envelope import EVENT_TYPES, SCHEMA_DIR, Envelope, InvalidEnvelope
from common.fields import MULTI_LINE, SINGLE_LINE, reject_control_characters
from common.tests.test_envelope import SAMPLES

CONTROL = ["\x00", "\x01", "\x08", "\x1b", "\x7f", "\x85", "\x9f"]


def string_nodes(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "string" or (isinstance(kind, list) and "string" in kind):
            yield path, node
        for key, value in node.items():
            yield from string_nodes(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from string_nodes(value, f"{path}/{i}")


@pytest.mark.parametrize("name", [*EVENT_TYPES, "envelope"])
def test_every_text_field_of_every_event_schema_refuses_control_characters(name: str) -> None:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    nodes = list(string_nodes(schema))
    assert nodes, name
    for where, node in nodes:
        if "enum" in node:
            continue
        pattern = node.get("pattern")
        assert pattern, f"{name} {where}: text without a pattern"
        assert pattern == SINGLE_LINE or pattern.endswith("(?![\\s\\S])"), f"{name} {where}: {pattern}"
        for bad in (*CONTROL, "\n"):
            assert not re.search(pattern, f"a{bad}b"), f"{name} {where} accepts {bad!r}"
        assert not re.search(pattern, "EUR\n"), f"{name} {where} accepts a trailing newline"


@pytest.mark.parametrize("bad", CONTROL)
def test_a_control_character_in_a_user_name_is_not_an_event(bad: str) -> None:
    with pytest.raises(InvalidEnvelope, match="name"):
        Envelope(type="UserRegistered", source="users",
                 data={**SAMPLES["UserRegistered"], "name": f"Ann{bad}"}).validate()


def test_single_line_and_multi_line_text() -> None:
    for ok in ("", "Ann", "Zoë 🚀 «ok»", "a b", "\u2028"):  # U+2028 is a separator (Zl), not a control (Cc)
        assert re.search(SINGLE_LINE, ok) and re.search(MULTI_LINE, ok)
    for newline in ("a\nb", "a\r\nb", "a\tb", "line\n"):
        assert not re.search(SINGLE_LINE, newline)
        assert re.search(MULTI_LINE, newline)
    for bad in CONTROL:
        assert not re.search(MULTI_LINE, f"a{bad}")


def test_path_and_header_text() -> None:
    assert reject_control_characters("p-1") == "p-1"
    for bad in CONTROL:
        with pytest.raises(ValueError, match="control"):
            reject_control_characters(f"p{bad}")
