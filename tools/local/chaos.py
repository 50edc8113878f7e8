"""A chaos run you can repeat: the local platform (processes) under a bounded order load while workers and APIs are
SIGKILLed and restarted, AWS and PostgreSQL are cut for seconds to tens of seconds, a worker is paused (SIGSTOP /
SIGCONT) and poison is published onto every topic and queue. Then it waits for the platform to drain and checks:

* every accepted order is terminal (CONFIRMED, REJECTED or CANCELLED), and got there by its deadline (plus the
  sweep interval and the longest fault, during which nothing can move);
* stock adds up per product: available + reserved = the stock given, reserved = the units of CONFIRMED orders;
* no event was applied twice: one reservation outcome per order, each recorded once as processed; at most one
  OrderConfirmed / OrderCancelled per order; every command orders sent has one dedupe record in inventory;
* every dead letter is poison (or derived from poison), dead-lettered by a consumer as permanent, with its reason:
  no transient failure reached a DLQ;
* no process exited on its own.

    python -m tools.local.chaos [--seed N] [--duration S] [--orders N]  (make chaos SEED=... DURATION=... ORDERS=...)

The figures (orders, kills, outages, poison sent, DLQ entries by reason, time to drain) are printed; the exit status
is 1 when a check fails. ``tests/test_chaos.py`` runs a short form in ``make test``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from config.environment import EnvironmentConfig, OrdersConfig
from config.environments import DEV
from config.topology import EVENT_TYPE_ATTRIBUTE, QUEUES, SERVICES, TABLES, Service
from tools.local.local_platform import LocalPlatform
from tools.local.pod_runner import PROCESSES
from tools.local.poison import poison_set, send, traces_to_poison
from tools.local.workflows import (
    adjustment_body,
    credentials_body,
    new_password,
    product_body,
    registration_body,
    wait_for,
)

TERMINAL = ("CONFIRMED", "REJECTED", "CANCELLED")
FAULTS = ("kill-worker", "kill-api", "aws", "db", "pause", "poison")


@dataclass(frozen=True)
class Settings:
    seed: int
    duration: float  # seconds of load and faults
    orders: int  # orders the load places, at most
    products: int = 3
    stock: int = 30
    customers: int = 6
    clients: int = 6  # concurrent load threads
    db_outage: tuple[float, float] = (5.0, 25.0)  # seconds, smallest and largest
    aws_outage: tuple[float, float] = (2.0, 15.0)
    pause: tuple[float, float] = (5.0, 30.0)
    first_db_outage: float = 20.0  # the case: a 20 s PostgreSQL outage
    drain_timeout: float = 300.0


def chaos_config(base: EnvironmentConfig = DEV) -> EnvironmentConfig:
    """dev's settings with short deadlines, so that every order ends within the run."""
    return dataclasses.replace(base, orders=OrdersConfig(
        pending_reservation_deadline_seconds=45, awaiting_payment_deadline_seconds=30, sweep_interval_seconds=5,
        db_pool_max_idle_seconds=30))


@dataclass
class Figures:
    seed: int = 0
    orders_attempted: int = 0
    orders_accepted: int = 0
    orders_not_accepted: int = 0
    payments_sent: int = 0
    duplicate_payments: int = 0
    cancels_sent: int = 0
    final_states: Counter[str] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    exits: Counter[str] = field(default_factory=Counter)  # processes that exited by themselves (restarted)
    aws_outages: list[float] = field(default_factory=list)
    db_outages: list[float] = field(default_factory=list)
    pauses: list[tuple[str, float]] = field(default_factory=list)
    poison_sent: Counter[str] = field(default_factory=Counter)
    poison_refused: int = 0
    dlq_by_reason: Counter[str] = field(default_factory=Counter)
    seconds_to_drain: float = 0.0
    max_deadline_lateness: float = 0.0
    load_seconds: float = 0.0

    def lines(self) -> Iterator[str]:
        yield f"chaos run, seed {self.seed}"
        yield (f"  orders: {self.orders_attempted} attempted, {self.orders_accepted} accepted, "
               f"{self.orders_not_accepted} not accepted (client gave up); final: "
               + ", ".join(f"{k} {v}" for k, v in sorted(self.final_states.items())))
        yield (f"  payments sent: {self.payments_sent} (+{self.duplicate_payments} duplicates), "
               f"cancels: {self.cancels_sent}")
        yield "  kills (SIGKILL, restarted): " + (", ".join(f"{k} {v}" for k, v in sorted(self.kills.items()))
                                                   or "none")
        yield "  exited by themselves and restarted (an API failing its startup during an outage): " + (
            ", ".join(f"{k} {v}" for k, v in sorted(self.exits.items())) or "none")
        yield (f"  AWS cut: {len(self.aws_outages)} times, {sum(self.aws_outages):.0f}s in all "
               f"(longest {max(self.aws_outages, default=0):.0f}s); PostgreSQL cut: {len(self.db_outages)} times, "
               f"{sum(self.db_outages):.0f}s (longest {max(self.db_outages, default=0):.0f}s)")
        yield "  paused (SIGSTOP): " + (", ".join(f"{n} {s:.0f}s" for n, s in self.pauses) or "none")
        yield (f"  poison sent: {sum(self.poison_sent.values())} ("
               + ", ".join(f"{k} {v}" for k, v in sorted(self.poison_sent.items()))
               + f"), refused at publish: {self.poison_refused}")
        yield "  DLQ entries by reason: " + (", ".join(f"{k} {v}" for k, v in self.dlq_by_reason.most_common())
                                             or "none")
        yield (f"  load {self.load_seconds:.0f}s; time to drain after the last fault: {self.seconds_to_drain:.1f}s; "
               f"latest an order ended after its deadline: {self.max_deadline_lateness:.1f}s")


@dataclass
class Placed:
    order_id: str
    headers: dict[str, str]
    lines: list[dict[str, Any]]


class Chaos:
    def __init__(self, platform: LocalPlatform, settings: Settings, out: Callable[[str], None] = print) -> None:
        self.p = platform
        self.s = settings
        self.rng = random.Random(settings.seed)  # noqa: S311 - seeded so that a run can be repeated
        self.out = out
        self.figures = Figures(seed=settings.seed)
        self.placed: list[Placed] = []
        self.products: list[str] = []
        self.customers: list[dict[str, str]] = []
        self.markers: set[str] = set()
        self.lock = threading.Lock()
        self.load_done = threading.Event()
        self.longest_fault = 0.0
        self.killing: set[str] = set()  # processes the fault thread is killing and restarting itself
        self.exited: list[str] = []  # worker exits nobody caused: a failure

    # --- setup ---------------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Products with stock and registered customers, through the services' APIs (before any fault)."""
        token = self.p.user_token(f"chaos-admin-{uuid.uuid4().hex[:6]}@example.com", groups=("admin",))
        admin = {"Authorization": f"Bearer {token}"}
        with httpx.Client(timeout=30) as http:

            def stock_record(pid: str) -> Callable[[], bool]:
                return lambda: http.get(self.p.url(Service.INVENTORY) + f"/inventory/{pid}",
                                        headers=admin).status_code == 200

            for i in range(self.s.products):
                r = http.post(self.p.url(Service.PRODUCTS) + "/products", headers=admin,
                              json=product_body(f"Chaos {i}", 500 + 100 * i))
                r.raise_for_status()
                pid = str(r.json()["product_id"])
                wait_for(stock_record(pid), "stock record (ProductCreated)")
                http.post(self.p.url(Service.INVENTORY) + f"/inventory/{pid}/adjust", headers=admin,
                          json=adjustment_body(self.s.stock)).raise_for_status()
                self.products.append(pid)
            for i in range(self.s.customers):  # registered through users: UserRegistered reaches orders too
                email, password = f"chaos-{i}-{uuid.uuid4().hex[:6]}@example.com", new_password()
                http.post(self.p.url(Service.USERS) + "/users/register",
                          json=registration_body(email, password, f"Chaos {i}")).raise_for_status()
                self.p.client("cognito-idp").admin_confirm_sign_up(UserPoolId=self.p.resources.user_pool_id,
                                                                   Username=email)
                r = http.post(self.p.url(Service.USERS) + "/users/login", json=credentials_body(email, password))
                r.raise_for_status()
                self.customers.append({"Authorization": f"Bearer {r.json()['access_token']}"})

    # --- load ----------------------------------------------------------------------------------------------------
    def _request(self, http: httpx.Client, method: str, path: str, headers: dict[str, str],
                 body: Any = None, give_up: float = 90.0) -> httpx.Response | None:
        """Retry through 5xx and refused connections (an API killed or cut off), as a client would."""
        deadline = time.monotonic() + give_up
        while time.monotonic() < deadline:
            try:
                r = http.request(method, self.p.url(Service.ORDERS) + path, headers=headers, json=body)
                if r.status_code < 500:
                    return r
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return None

    def _client(self, index: int, orders: Iterator[int], started: float) -> None:
        """Place orders on a schedule spread evenly over the duration (order n at n * duration / orders), retrying
        each through outages with the same Idempotency-Key, then pay for it, cancel it or abandon it."""
        rng = random.Random(self.s.seed * 1000 + index)  # noqa: S311 - seeded, repeatable
        spacing = self.s.duration / max(self.s.orders, 1)
        with httpx.Client(timeout=15) as http:
            for n in orders:
                time.sleep(max(0.0, started + n * spacing - time.monotonic()))
                headers = self.customers[n % len(self.customers)]
                lines = [{"product_id": pid, "quantity": rng.randint(1, 3)}
                         for pid in rng.sample(self.products, rng.randint(1, 2))]
                key = str(uuid.uuid4())
                with self.lock:
                    self.figures.orders_attempted += 1
                r = self._request(http, "POST", "/orders", {**headers, "Idempotency-Key": key}, {"lines": lines})
                if r is None or r.status_code != 201:
                    with self.lock:
                        self.figures.orders_not_accepted += 1
                    continue
                order = Placed(r.json()["order_id"], headers, lines)
                with self.lock:
                    self.figures.orders_accepted += 1
                    self.placed.append(order)
                fate = rng.random()
                if fate < 0.6:
                    threading.Thread(target=self._pay, args=(order, rng.random() < 0.1), daemon=True).start()
                elif fate < 0.75:
                    time.sleep(rng.uniform(0, 2))
                    if self._request(http, "POST", f"/orders/{order.order_id}/cancel", headers) is not None:
                        with self.lock:
                            self.figures.cancels_sent += 1
                # else: abandoned; the payment deadline cancels it

    def _pay(self, order: Placed, duplicate: bool) -> None:
        """The payment provider: once the order is RESERVED, publish PaymentConfirmed (to AWS directly: the provider
        is not behind our proxies)."""
        deadline = time.monotonic() + 25
        with httpx.Client(timeout=10) as http:
            while time.monotonic() < deadline:
                try:
                    r = http.get(self.p.url(Service.ORDERS) + f"/orders/{order.order_id}", headers=order.headers)
                    if r.status_code == 200:
                        body = r.json()
                        if body["status"] in TERMINAL:
                            return
                        if body["status"] == "RESERVED":
                            self._publish_payment(order.order_id, int(body["total_cents"]), body["currency"],
                                                  duplicate)
                            return
                except httpx.HTTPError:
                    pass
                time.sleep(1)

    def _publish_payment(self, order_id: str, amount: int, currency: str, duplicate: bool) -> None:
        event = {"id": str(uuid.uuid4()), "type": "PaymentConfirmed", "version": 1,
                 "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": "payment-provider",
                 "correlation_id": str(uuid.uuid4()),
                 "data": {"order_id": order_id, "payment_id": f"pay-{uuid.uuid4().hex[:8]}", "amount_cents": amount,
                          "currency": currency}}
        sns = self.p.client("sns")
        for _ in range(2 if duplicate else 1):
            sns.publish(TopicArn=self.p.resources.topic_arns["payment-events"], Message=json.dumps(event),
                        MessageAttributes={EVENT_TYPE_ATTRIBUTE: {"DataType": "String",
                                                                  "StringValue": "PaymentConfirmed"}})
        with self.lock:
            self.figures.payments_sent += 1
            self.figures.duplicate_payments += int(duplicate)

    # --- faults --------------------------------------------------------------------------------------------------
    def _schedule(self) -> list[str]:
        """Every kind of fault at least once (in a seeded order), then more at random until the duration is used."""
        first = list(FAULTS)
        self.rng.shuffle(first)
        rest = [self.rng.choice(FAULTS[:5]) for _ in range(int(self.s.duration // 8))]
        return first + rest

    def _fault(self, kind: str, first_db: bool) -> None:
        names = sorted(self.p.pods)
        if kind in ("kill-worker", "kill-api"):
            name = self.rng.choice([n for n in names if n.endswith(kind.split("-")[1])])
            pod = self.p.pods[name]
            with self.lock:
                self.killing.add(name)
            try:
                assert pod.proc is not None
                pod.proc.send_signal(signal.SIGKILL)
                pod.proc.wait(10)
                time.sleep(self.rng.uniform(0.5, 3))
                pod.restart("chaos: SIGKILL")
            finally:
                with self.lock:
                    self.killing.discard(name)
            self.figures.kills[name] += 1
        elif kind == "aws":
            seconds = self.rng.uniform(*self.s.aws_outage)
            targets = list(self.p.proxies.values()) if self.rng.random() < 0.5 else [
                self.rng.choice(list(self.p.proxies.values()))]
            with _down(targets):
                time.sleep(seconds)
            self.figures.aws_outages.append(seconds)
            self.longest_fault = max(self.longest_fault, seconds)
        elif kind == "db":
            seconds = self.s.first_db_outage if first_db else self.rng.uniform(*self.s.db_outage)
            assert self.p.db_proxy is not None
            with _down([self.p.db_proxy]):
                time.sleep(seconds)
            self.figures.db_outages.append(seconds)
            self.longest_fault = max(self.longest_fault, seconds)
        elif kind == "pause":
            name = self.rng.choice([n for n in names if n.endswith("-worker")])
            seconds = self.rng.uniform(*self.s.pause)
            proc = self.p.pods[name].proc
            assert proc is not None
            pid = proc.pid
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(seconds)
            finally:
                os.kill(pid, signal.SIGCONT)
            self.figures.pauses.append((name, seconds))
            self.longest_fault = max(self.longest_fault, seconds)
        elif kind == "poison":
            self._poison()

    def _poison(self) -> None:
        sns, sqs = self.p.client("sns"), self.p.client("sqs")
        for item in poison_set(prefix="poison"):
            self.markers.add(item.marker)
            try:
                send(item, sns, sqs, self.p.resources.topic_arns, self.p.resources.queue_urls)
                self.figures.poison_sent[item.kind] += 1
            except Exception:  # refused at the door (e.g. too large for SNS/SQS): poison that never got in
                self.figures.poison_refused += 1

    def _faults(self, stop_at: float) -> None:
        """Each kind once (even if that outlasts the duration), then more at random until the duration is over."""
        first_db = True
        for i, kind in enumerate(self._schedule()):
            if i >= len(FAULTS) and time.monotonic() > stop_at:
                break
            self.out(f"  fault: {kind}")
            self._fault(kind, first_db and kind == "db")
            first_db = first_db and kind != "db"
            time.sleep(self.rng.uniform(1, 4))

    def _kubelet(self, stop: threading.Event) -> None:
        """What Kubernetes' restart policy does: start again a process that exited. A worker exiting is a failure
        of the run; an API may exit when its startup meets an outage (it reads a secret and migrates first)."""
        while not stop.wait(1.0):
            for name, pod in list(self.p.pods.items()):
                with self.lock:
                    code = None if name in self.killing else pod.exited()
                if code is None:
                    continue
                self.figures.exits[name] += 1
                if name.endswith("-worker"):
                    self.exited.append(f"{name} exited with {code} on its own:\n{pod.log_tail(5)}")
                pod.restart(f"exited with {code}")

    # --- the run -------------------------------------------------------------------------------------------------
    def run(self) -> list[str]:
        self.out(f"chaos: seed {self.s.seed}, {self.s.duration:.0f}s, up to {self.s.orders} orders")
        self.prepare()
        started = time.monotonic()
        stop_at = started + self.s.duration
        counter = iter(range(self.s.orders))
        lock = threading.Lock()

        def orders() -> Iterator[int]:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                yield n

        clients = [threading.Thread(target=self._client, args=(i, orders(), started), daemon=True)
                   for i in range(self.s.clients)]
        stop_kubelet = threading.Event()
        kubelet = threading.Thread(target=self._kubelet, args=(stop_kubelet,), daemon=True)
        kubelet.start()
        for t in clients:
            t.start()
        try:
            self._faults(stop_at)
            for t in clients:
                t.join(self.s.duration + 120)
            self.figures.load_seconds = time.monotonic() - started
            faults_over = time.monotonic()
            problems = self._drain()
            self.figures.seconds_to_drain = time.monotonic() - faults_over
        finally:
            stop_kubelet.set()
            kubelet.join(5)
        return problems + self._check()

    def _drain(self) -> list[str]:
        deadline = time.monotonic() + self.s.drain_timeout
        while time.monotonic() < deadline:
            if self._drained():
                time.sleep(2)  # and still so a moment later (nothing in flight)
                if self._drained():
                    return []
            time.sleep(1)
        return [f"not drained after {self.s.drain_timeout:.0f}s: {self._pending_summary()}"]

    def _drained(self) -> bool:
        return not any(self._pending().values())

    def _pending(self) -> dict[str, int]:
        sqs = self.p.client("sqs")
        out: dict[str, int] = {}
        for q in QUEUES:
            a = sqs.get_queue_attributes(QueueUrl=self.p.resources.queue_urls[q.name],
                                         AttributeNames=["All"])["Attributes"]
            out[f"queue {q.name}"] = int(a["ApproximateNumberOfMessages"]) + int(
                a["ApproximateNumberOfMessagesNotVisible"])
        with psycopg.connect(self.p.orders_dsn()) as conn:
            row = conn.execute("SELECT count(*) FILTER (WHERE status IN ('PENDING', 'RESERVED')), "
                               "(SELECT count(*) FROM outbox WHERE published_at IS NULL) FROM orders").fetchone()
        out["open orders"], out["orders outbox"] = (int(row[0]), int(row[1])) if row else (0, 0)
        ddb = self.p.client("dynamodb")
        for t in TABLES:
            out[f"{t.service.value} outbox"] = sum(int(ddb.query(
                TableName=self.p.resources.tables[t.service], IndexName="OutboxPending", Select="COUNT",
                KeyConditionExpression="outbox_shard = :s", ExpressionAttributeValues={":s": {"S": f"S{i}"}},
            )["Count"]) for i in range(4))
        return out

    def _pending_summary(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self._pending().items() if v) or "nothing"

    # --- invariants ----------------------------------------------------------------------------------------------
    def _check(self) -> list[str]:
        problems = self._check_processes()
        with psycopg.connect(self.p.orders_dsn()) as conn:
            orders = conn.execute("SELECT id::text, status, extract(epoch FROM updated_at - deadline_at) FROM orders"
                                  ).fetchall()
            lines = conn.execute("SELECT order_id::text, product_id, quantity FROM order_lines").fetchall()
            outbox = conn.execute("SELECT id::text, type, payload->'data'->>'order_id' FROM outbox").fetchall()
            processed = {r[0]: r[1] for r in conn.execute("SELECT event_id, event_type FROM processed_events")}
        status = {oid: st for oid, st, _ in orders}
        self.figures.final_states = Counter(status.values())
        problems += [f"order {oid} is {st}, not terminal" for oid, st in status.items() if st not in TERMINAL]
        missing = {o.order_id for o in self.placed} - set(status)
        problems += [f"accepted order {oid} is not in the database" for oid in sorted(missing)]
        # deadlines: nothing can move while the database is cut or the worker stopped, hence the longest fault
        allowed = self.p.config.orders.sweep_interval_seconds + self.longest_fault + 15
        lateness = [float(late or 0) for _, _, late in orders]
        self.figures.max_deadline_lateness = max(lateness, default=0.0)
        problems += [f"order {oid} ended {late:.0f}s after its deadline (allowed {allowed:.0f}s)"
                     for oid, _, late in orders if late is not None and float(late) > allowed]
        problems += self._check_stock(status, lines)
        problems += self._check_once(status, outbox, processed)
        problems += self._check_dead_letters()
        return problems

    def _check_processes(self) -> list[str]:
        return self.exited + [f"{name} is not running at the end" for name, pod in self.p.pods.items()
                              if pod.proc is None or pod.proc.poll() is not None]

    def _check_stock(self, status: dict[str, str], lines: list[tuple[str, str, int]]) -> list[str]:
        problems = []
        ddb = self.p.client("dynamodb")
        table = self.p.resources.tables[Service.INVENTORY]
        for pid in self.products:
            item = ddb.get_item(TableName=table, Key={"pk": {"S": f"PRODUCT#{pid}"}, "sk": {"S": "STOCK"}},
                                ConsistentRead=True)["Item"]
            available, reserved = int(item["available"]["N"]), int(item["reserved"]["N"])
            confirmed = sum(q for oid, p, q in lines if p == pid and status.get(oid) == "CONFIRMED")
            if available + reserved != self.s.stock or reserved != confirmed or available < 0:
                problems.append(f"stock of {pid}: available {available} + reserved {reserved} (expected "
                                f"{self.s.stock} with {confirmed} reserved by confirmed orders)")
        return problems

    def _check_once(self, status: dict[str, str], outbox: list[tuple[str, str, str]],
                    processed: dict[str, str]) -> list[str]:
        problems = []
        per_order: dict[str, Counter[str]] = {}
        for _, event_type, oid in outbox:
            per_order.setdefault(oid, Counter())[event_type] += 1
        for oid, st in status.items():
            c = per_order.get(oid, Counter())
            if c["OrderConfirmed"] > 1 or c["OrderCancelled"] > 1 or (c["OrderConfirmed"] and c["OrderCancelled"]):
                problems.append(f"order {oid} ({st}): OrderConfirmed x{c['OrderConfirmed']}, "
                                f"OrderCancelled x{c['OrderCancelled']}")
            if (st == "CONFIRMED") != (c["OrderConfirmed"] == 1):
                problems.append(f"order {oid} is {st} with {c['OrderConfirmed']} OrderConfirmed")
        # inventory: one reservation outcome per order, and orders recorded each one as processed exactly once
        ddb = self.p.client("dynamodb")
        table = self.p.resources.tables[Service.INVENTORY]
        outcomes: dict[str, list[str]] = {}
        dedupe: set[str] = set()
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                pk = item["pk"]["S"]
                if pk.startswith("EVENT#"):
                    dedupe.add(pk.removeprefix("EVENT#"))
                elif pk.startswith("OUTBOX#") and item["type"]["S"] in ("StockReserved", "StockRejected"):
                    doc = json.loads(item["payload"]["S"])
                    outcomes.setdefault(doc["data"]["order_id"], []).append(doc["id"])
        for oid in status:
            ids = outcomes.get(oid, [])
            if len(ids) != 1:
                problems.append(f"order {oid}: {len(ids)} reservation outcomes in inventory")
            problems += [f"outcome {i} of order {oid} not recorded as processed by orders" for i in ids
                         if i not in processed]
        commands = {eid for eid, event_type, oid in outbox if event_type in ("ReserveStock", "ReleaseStock")}
        problems += [f"command {eid} has no dedupe record in inventory" for eid in sorted(commands - dedupe)]
        return problems

    def _check_dead_letters(self) -> list[str]:
        problems = []
        sqs = self.p.client("sqs")
        for q in QUEUES:
            url = self.p.resources.dlq_urls[q.name]
            empty = 0
            while empty < 2:
                batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                            VisibilityTimeout=300, MessageAttributeNames=["All"]).get("Messages", [])
                empty = 0 if batch else empty + 1
                for m in batch:
                    attrs = {k: v.get("StringValue", "") for k, v in m.get("MessageAttributes", {}).items()}
                    reason = attrs.get("dlq.reason", "")
                    group = reason.split(":")[0].split(" on ")[0]  # "no handler for event type X on <queue>"
                    self.figures.dlq_by_reason[group or "no reason (maxReceiveCount)"] += 1
                    if attrs.get("dlq.kind") != "permanent":
                        problems.append(f"{q.name} DLQ: a {attrs.get('dlq.kind') or 'crash'} failure dead-lettered: "
                                        f"{reason or m['Body'][:200]}")
                    elif not traces_to_poison(m["Body"], self.markers):
                        problems.append(f"{q.name} DLQ: real work dead-lettered: {reason}: {m['Body'][:200]}")
        return problems


@contextmanager
def _down(proxies: list[Any]) -> Iterator[None]:
    for proxy in proxies:
        proxy.down()
    try:
        yield
    finally:
        for proxy in proxies:
            proxy.up()


def run(settings: Settings, out: Callable[[str], None] = print) -> tuple[Figures, list[str]]:
    with LocalPlatform(free_ports=True, proxied=SERVICES, proxied_db=True, config=chaos_config(), mode=PROCESSES,
                       edge=False) as platform:
        chaos = Chaos(platform, settings, out)
        problems = chaos.run()
        # Every AWS call the services made under load and faults, against the roles they ship with.
        problems += platform.access_proof().problems()
        return chaos.figures, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load and faults (default 180)")
    parser.add_argument("--orders", type=int, default=300, help="orders to place at most (default 300)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    # Stock for about half of what the orders ask (2 units a line, 1.5 lines an order): some are rejected, most not.
    stock = max(30, args.orders // 2)
    figures, problems = run(Settings(seed=seed, duration=args.duration, orders=args.orders, stock=stock))
    for line in figures.lines():
        print(line)
    for p in problems:
        print(f"FAILED: {p}")
    print("chaos: all checks passed" if not problems else f"chaos: {len(problems)} check(s) failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
