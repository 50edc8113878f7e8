"""The DynamoDB outbox relay dead-letters a record it can no longer publish (destination gone from the contract,
payload failing its current schema): out of the OutboxPending index with the reason, and the records behind it are
published. A record written before destinations were the contract's names is still published. Against moto."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from contract import EventType, Service
from users import settings as users_settings

from common import aws, ddb
from common.envelope import Envelope
from common.publisher import Publisher
from config.topology import table_of
from tools.local.local_platform import LocalPlatform

USERS = Service.USERS


def _preferences_changed() -> Envelope:
    # UserPreferencesChanged: no queue subscribes to it, so publishing it for real disturbs no consumer.
    return Envelope(type=EventType.USER_PREFERENCES_CHANGED, source="users", data={
        "user_id": str(uuid.uuid4()), "version": 1, "language": "en", "currency": "EUR",
        "notifications": {"email": {"order_updates": True, "marketing": False}}})


def _put(table: str, envelope: Envelope, **override: Any) -> str:
    item = ddb.outbox_put(table, envelope)["Put"]["Item"]
    item.update(ddb.to_item(override))
    aws.client("dynamodb").put_item(TableName=table, Item=item)
    return f"OUTBOX#{envelope.id}"


def test_undeliverable_records_leave_the_index_with_the_reason(
        platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env = platform.env_for(USERS)
    for name in ("AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("AWS_ENDPOINT_URL", platform.moto_url)
    definition = table_of(USERS)
    assert definition is not None
    table = platform.create_table(definition, f"dead-letters-{uuid.uuid4().hex[:8]}")
    legacy = _put(table, _preferences_changed(), destination="TOPIC_ARN_USER_EVENTS")
    retired = _put(table, _preferences_changed(), destination="topic/user-archive-events")
    tightened = _preferences_changed()
    invalid = _put(table, tightened, payload=json.dumps({**tightened.to_dict(), "data": {"user_id": 5}}))
    current = _put(table, _preferences_changed())
    settings = users_settings.Settings(service=USERS, environ=env, sqs_wait_seconds=1)

    published = ddb.relay_once(table, Publisher(USERS, settings.destinations).publish)

    assert published == 2
    assert ddb.pending_count(table) == 0
    items = {i["pk"]: i for i in (ddb.from_item(r) for r in aws.client("dynamodb").scan(TableName=table)["Items"])}
    assert {pk for pk, i in items.items() if "published_at" in i} == {legacy, current}
    assert {pk: i["dead_reason"] for pk, i in items.items() if "dead_lettered_at" in i} == {
        retired: "destination 'topic/user-archive-events' is not in the contract",
        invalid: "payload fails its schema: UserPreferencesChanged: (root): 'version' is a required property"}
    points = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "OutboxDeadLettered" in line]
    assert [(p["Service"], p["OutboxDeadLettered"]) for p in points] == [("users", 1), ("users", 1)]
