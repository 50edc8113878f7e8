"""Replay a consumer queue's dead letters onto the queue, rate-limited, with a report of what moved.

    python -m tools.ops.redrive QUEUE [--dry-run] [--rate N] [--env dev] [--endpoint-url URL] [--max N]
    make redrive QUEUE=orders-payment-events [DRY_RUN=1] [RATE=5/s] [ENV=prod] [ENDPOINT=http://127.0.0.1:5000]

QUEUE is a logical queue name of config/topology.py. In AWS (credentials from the usual chain) the queue's URL comes
from the `<Env>-Messaging` stack's outputs and its DLQ from the queue's redrive policy; against the local platform
(`--endpoint-url`, moto) the queue is found by name. Each dead letter is sent back to the queue with its body and
message attributes (minus the consumer's ``dlq.*`` ones, plus a ``redrive-count``), then deleted from the DLQ: a
failed delete leaves a copy behind, which is harmless because every handler applies an event id once. Messages that
reached the DLQ after the run started (poison that failed again at once) are left for the next run, so a run always
ends. ``--dry-run`` moves nothing and prints the same report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from config import environments, topology

REDRIVE_COUNT = "redrive-count"
DLQ_ATTRIBUTE_PREFIX = "dlq."  # services/common/consumer.py
HOLD_SECONDS = 600  # a received dead letter stays invisible this long, so one run sees it once


@dataclass
class Entry:
    message_id: str
    event_id: str
    event_type: str
    kind: str
    reason: str
    outcome: str = ""


@dataclass
class Report:
    queue: str
    dry_run: bool
    entries: list[Entry] = field(default_factory=list)
    left_for_later: int = 0
    seconds: float = 0.0

    def lines(self) -> Iterator[str]:
        verb = "would move" if self.dry_run else "moved"
        done = [e for e in self.entries if e.outcome in ("moved", "would move")]
        yield f"{self.queue}: {verb} {len(done)} of {len(self.entries)} dead letters in {self.seconds:.1f}s" + (
            f"; {self.left_for_later} arrived during the run and were left for the next" if self.left_for_later
            else "")
        for e in self.entries:
            yield f"  {e.outcome:10} {e.message_id}  event {e.event_id}  {e.event_type}  [{e.kind}] {e.reason}"
        by_reason = Counter((e.kind, e.reason.split(":")[0]) for e in self.entries)
        if by_reason:
            yield "  by reason:"
            for (kind, reason), n in by_reason.most_common():
                yield f"    {n:5}  [{kind}] {reason}"
        by_type = Counter(e.event_type for e in self.entries)
        if by_type:
            yield "  by type: " + ", ".join(f"{t} {n}" for t, n in by_type.most_common())


class RateLimit:
    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self.next = time.monotonic()

    def wait(self) -> None:
        now = time.monotonic()
        if now < self.next:
            time.sleep(self.next - now)
        self.next = max(now, self.next) + self.interval


def parse_rate(text: str) -> float:
    value = float(text.removesuffix("/s"))
    if value <= 0:
        raise argparse.ArgumentTypeError("rate must be > 0 messages per second, e.g. 5 or 5/s")
    return value


def resolve(sqs: Any, queue: str, *, local: bool, env: str) -> tuple[str, str]:
    """(queue URL, DLQ URL) of the logical ``queue``: from the Messaging stack's outputs in AWS, by name locally.
    Either way the DLQ must be the one the queue's redrive policy names."""
    definition = next((q for q in topology.QUEUES if q.name == queue), None)
    if definition is None:
        raise SystemExit(f"unknown queue {queue!r}; one of: {', '.join(q.name for q in topology.QUEUES)}")
    if local:
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    else:
        config = environments.load(env)
        stack = f"{config.stack_prefix}-Messaging"
        cfn = boto3.client("cloudformation", region_name=config.region)
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
        url, dlq_url = outputs[f"{definition.construct_id}Url"], outputs[f"{definition.construct_id}DeadLetterUrl"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
        "RedrivePolicy"])
    arn = str(policy["deadLetterTargetArn"]).split(":")
    policy_target = arn[5]
    if local:
        dlq_url = sqs.get_queue_url(QueueName=arn[5], QueueOwnerAWSAccountId=arn[4])["QueueUrl"]
    if str(dlq_url).rstrip("/").rsplit("/", 1)[-1] != policy_target:
        raise SystemExit(f"{queue}: the dead-letter queue {dlq_url} is not the one its redrive policy names "
                         f"({policy_target})")
    return str(url), str(dlq_url)


def _entry(message: dict[str, Any]) -> Entry:
    attrs = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
    event_id, event_type = "-", attrs.get("type", "-")
    try:
        body = json.loads(message["Body"])
        if isinstance(body, dict):
            event_id, event_type = str(body.get("id", "-"))[:64], str(body.get("type", event_type))[:64]
    except Exception:  # poison: nested brackets, not JSON at all  # noqa: S110
        pass
    reason = attrs.get("dlq.reason") or "no reason: moved by the queue's redrive policy (maxReceiveCount)"
    return Entry(message_id=message["MessageId"], event_id=event_id, event_type=event_type,
                 kind=attrs.get("dlq.kind", "-"), reason=reason)


def redrive(sqs: Any, queue: str, queue_url: str, dlq_url: str, *, dry_run: bool, rate: float,
            limit: int | None = None) -> Report:
    started = time.monotonic()
    started_ms = int(time.time() * 1000)
    report = Report(queue=queue, dry_run=dry_run)
    limiter = RateLimit(rate)
    held: list[str] = []  # receipts to make visible again at the end (dry run, left for later)
    seen: set[str] = set()
    empty = 0
    try:
        while empty < 3 and (limit is None or len(report.entries) < limit):
            messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           VisibilityTimeout=HOLD_SECONDS, AttributeNames=["All"],
                                           MessageAttributeNames=["All"]).get("Messages", [])
            empty = 0 if messages else empty + 1
            for m in messages:
                if m["MessageId"] in seen:
                    continue
                seen.add(m["MessageId"])
                if int(m.get("Attributes", {}).get("SentTimestamp", "0")) > started_ms:
                    report.left_for_later += 1
                    held.append(m["ReceiptHandle"])
                    continue
                entry = _entry(m)
                report.entries.append(entry)
                if dry_run:
                    entry.outcome = "would move"
                    held.append(m["ReceiptHandle"])
                    continue
                limiter.wait()
                entry.outcome = _move(sqs, m, queue_url, dlq_url)
                if entry.outcome == "not sent":
                    held.append(m["ReceiptHandle"])
                if limit is not None and len(report.entries) >= limit:
                    break
    finally:
        for receipt in held:
            try:
                sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=receipt, VisibilityTimeout=0)
            except Exception as exc:  # it becomes visible by itself after HOLD_SECONDS
                print(f"could not release a dead letter: {exc!r}", file=sys.stderr)
        report.seconds = time.monotonic() - started
    return report


def _move(sqs: Any, message: dict[str, Any], queue_url: str, dlq_url: str) -> str:
    attrs = {k: {f: v[f] for f in ("DataType", "StringValue", "BinaryValue") if f in v}
             for k, v in message.get("MessageAttributes", {}).items()
             if not k.startswith(DLQ_ATTRIBUTE_PREFIX) and k != REDRIVE_COUNT}
    count = int(message.get("MessageAttributes", {}).get(REDRIVE_COUNT, {}).get("StringValue", "0") or 0)
    attrs[REDRIVE_COUNT] = {"DataType": "Number", "StringValue": str(count + 1)}
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], MessageAttributes=attrs)
    except Exception as exc:
        print(f"could not send {message['MessageId']} back: {exc!r}", file=sys.stderr)
        return "not sent"
    try:
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    except Exception as exc:  # the DLQ keeps a copy; handlers apply an event id once
        print(f"sent {message['MessageId']} but could not delete it from the DLQ: {exc!r}", file=sys.stderr)
        return "copied"
    return "moved"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ops.redrive", description=__doc__.split("\n\n")[0])
    parser.add_argument("queue", help="logical queue name (config/topology.py), e.g. orders-payment-events")
    parser.add_argument("--dry-run", action="store_true", help="report what would move; move nothing")
    parser.add_argument("--rate", type=parse_rate, default=10.0, help="messages per second (default 10), e.g. 5/s")
    parser.add_argument("--env", default=environments.DEFAULT_ENVIRONMENT, help="environment whose stacks to read")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                        help="an SQS endpoint such as the local platform's moto (http://127.0.0.1:5000)")
    parser.add_argument("--max", type=int, default=None, help="move at most this many")
    args = parser.parse_args(argv)
    local = bool(args.endpoint_url)
    if local:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    region = environments.load(args.env).region  # the local platform serves dev's region too
    sqs = boto3.client("sqs", region_name=region, endpoint_url=args.endpoint_url,
                       config=Config(retries={"mode": "standard", "max_attempts": 5}))
    queue_url, dlq_url = resolve(sqs, args.queue, local=local, env=args.env)
    report = redrive(sqs, args.queue, queue_url, dlq_url, dry_run=args.dry_run, rate=args.rate, limit=args.max)
    for line in report.lines():
        print(line)
    return 1 if any(e.outcome == "not sent" for e in report.entries) else 0


if __name__ == "__main__":
    sys.exit(main())
