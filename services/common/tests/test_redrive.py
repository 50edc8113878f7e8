"""`make redrive QUEUE=...` against the local platform: a dry run moves nothing; a run replays dead letters onto
their queue, rate-limited, and reports each (ids, types, reasons); poison comes back to the DLQ, real work is
applied once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from config.topology import EVENT_TYPE_ATTRIBUTE
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import wait_until
from tools.local.workflows import Client, Session
from tools.ops.redrive import main

QUEUE = "orders-payment-events"
ROOT = Path(__file__).resolve().parents[3]


def dead_letter(platform: LocalPlatform, body: str, event_type: str, kind: str, reason: str) -> None:
    attrs = {EVENT_TYPE_ATTRIBUTE: event_type, "dlq.kind": kind, "dlq.reason": reason, "dlq.source-queue": QUEUE}
    platform.client("sqs").send_message(
        QueueUrl=platform.resources.dlq_urls[QUEUE], MessageBody=body,
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()})


def dlq(platform: LocalPlatform) -> list[dict[str, Any]]:
    sqs, url = platform.client("sqs"), platform.resources.dlq_urls[QUEUE]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=1,
                                   MessageAttributeNames=["All"]).get("Messages", [])
    return list(messages)


def test_redrive_replays_dead_letters_with_a_report(platform: LocalPlatform, capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    client = Client(platform)  # through the local edge, as any client
    with client.product_with_stock(price_cents=900, units=1) as pid:
        user = client.customer("redrive", "R")
        order = client.place(user, {pid: 1})
        client.wait_order(user, order["order_id"], "RESERVED")
        replay(platform, client, user, order, capsys)


def replay(platform: LocalPlatform, client: Client, user: Session, order: dict[str, Any],
           capsys: pytest.CaptureFixture[str]) -> None:
    payment_id = str(uuid.uuid4())
    payment = json.dumps({"id": payment_id, "type": "PaymentConfirmed", "version": 1, "time": "2025-01-01T00:00:00Z",
                          "source": "payment-provider", "correlation_id": "redrive",
                          "data": {"order_id": order["order_id"], "payment_id": "p", "amount_cents": 900,
                                   "currency": "EUR"}})
    poison = "[" * 5000 + '"redrive-poison"' + "]" * 5000
    platform.client("sqs").purge_queue(QueueUrl=platform.resources.dlq_urls[QUEUE])  # start from an empty DLQ
    dead_letter(platform, payment, "PaymentConfirmed", "dependency-unavailable",
                "retry budget of 14400s exhausted after 14460s: PoolTimeout: couldn't get a connection")
    dead_letter(platform, poison, "PaymentConfirmed", "permanent", "invalid message: not JSON: RecursionError")

    assert main([QUEUE, "--dry-run", "--endpoint-url", platform.moto_url]) == 0
    report = capsys.readouterr().out
    assert report.splitlines()[0].startswith(f"{QUEUE}: would move 2 of 2 dead letters")
    assert f"event {payment_id}  PaymentConfirmed  [dependency-unavailable] retry budget" in report
    assert "[permanent] invalid message: not JSON: RecursionError" in report
    time.sleep(1.5)
    assert len(dlq(platform)) == 2  # a dry run moves nothing
    assert client.order(user, order["order_id"])["status"] == "RESERVED"

    time.sleep(1.5)
    started = time.monotonic()
    assert main([QUEUE, "--rate", "2/s", "--endpoint-url", platform.moto_url]) == 0
    assert time.monotonic() - started >= 0.5  # two messages at 2 per second
    report = capsys.readouterr().out
    assert report.splitlines()[0].startswith(f"{QUEUE}: moved 2 of 2 dead letters")
    assert "by type: PaymentConfirmed 2" in report
    client.wait_order(user, order["order_id"], "CONFIRMED")

    def poison_back() -> dict[str, Any] | None:  # the consumer dead-letters it again, counting the redrive
        return next((m for m in dlq(platform) if m["Body"] == poison), None)

    back = wait_until(poison_back, what="poison back in the DLQ")
    attrs = {k: v["StringValue"] for k, v in back["MessageAttributes"].items()}
    assert attrs["redrive-count"] == "1" and attrs["dlq.kind"] == "permanent"
    assert [m for m in dlq(platform) if m["Body"] == payment] == []


def test_make_redrive_needs_a_queue() -> None:
    r = subprocess.run(["make", "--no-print-directory", "redrive"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0 and "usage: make redrive QUEUE=" in r.stderr
    r = subprocess.run([sys.executable, "-m", "tools.ops.redrive", "no-such-queue", "--endpoint-url", "http://127.0.0.1:9"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "unknown queue 'no-such-queue'" in r.stderr


def test_in_aws_the_queue_is_found_from_the_messaging_stack_outputs(platform: LocalPlatform,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an endpoint, `make redrive ENV=dev` reads `Dev-Messaging`'s outputs (physical names are generated by
    CloudFormation) and the DLQ from the queue's redrive policy; moto's CloudFormation stands in for the account."""
    import boto3

    from config.environments import DEV
    from config.topology import QUEUES
    from tools.ops.redrive import resolve

    for name, value in (("AWS_ENDPOINT_URL", platform.moto_url), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    (queue,) = [q for q in QUEUES if q.name == QUEUE]
    cid = queue.construct_id
    template = {"Resources": {
        "Dead": {"Type": "AWS::SQS::Queue"},
        "Main": {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": {
            "deadLetterTargetArn": {"Fn::GetAtt": ["Dead", "Arn"]}, "maxReceiveCount": 200}}}},
        "Outputs": {f"{cid}Url": {"Value": {"Ref": "Main"}}, f"{cid}DeadLetterUrl": {"Value": {"Ref": "Dead"}}}}
    cfn = boto3.client("cloudformation", region_name=DEV.region)
    cfn.create_stack(StackName=f"{DEV.stack_prefix}-Messaging", TemplateBody=json.dumps(template))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(
        StackName=f"{DEV.stack_prefix}-Messaging")["Stacks"][0]["Outputs"]}
    sqs = boto3.client("sqs", region_name=DEV.region)
    assert resolve(sqs, QUEUE, local=False, env="dev") == (outputs[f"{cid}Url"], outputs[f"{cid}DeadLetterUrl"])
    assert QUEUE not in outputs[f"{cid}Url"]  # a generated name: found through the outputs, not by name
