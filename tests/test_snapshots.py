"""One masked snapshot per stack for dev and prod: any template change turns them red, a code change alone does not.

Asset hashes (64 hex characters, in S3 keys, image tags and asset parameters) are replaced by a placeholder, so a
change to service code or a Lambda bundle leaves the snapshot green; everything else is compared as synthesized.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.synthesis import synthesize

ASSET_HASH = re.compile(r"[0-9a-f]{64}")
PARTS = ("Network", "Cluster", "Data", "Messaging", "Edge", "Observability", "Services", "Delivery", "WebGlobal", "Web")


def mask(template: dict[str, Any]) -> Any:
    return json.loads(ASSET_HASH.sub("[ASSET_HASH]", json.dumps(template)))


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


def stacks_of(env: str) -> list[str]:
    prefix = synthesize(env).config.stack_prefix + "-"
    return [name.removeprefix(prefix) for name in synthesize(env).stack_names()]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_stack_has_a_snapshot(env: str) -> None:
    assert set(PARTS) == set(stacks_of(env))


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("part", PARTS)
def test_template_matches_snapshot(env: str, part: str, snapshot_json: SnapshotAssertion) -> None:
    assert mask(synthesize(env).template_json(part)) == snapshot_json


def test_masking_removes_every_asset_hash_and_nothing_else() -> None:
    template = {"Code": {"S3Key": "a" * 64 + ".zip"}, "Name": "orders", "Short": "abc123"}
    assert mask(template) == {"Code": {"S3Key": "[ASSET_HASH].zip"}, "Name": "orders", "Short": "abc123"}
