"""The load scenario: traffic shaped like the shop's (Locust users), through the public API with the smoke accounts.

Users, by weight: browsers (70%) page through the catalog and open products; shoppers (25%) sign in as the smoke
customer, look at a product, order it (``Idempotency-Key``), follow the order to RESERVED, pay through the payment
topic as the payment provider does (where the stage lets the smoke test pay; elsewhere cancel) and follow it to its
terminal state; newcomers (5%) sign up. Think times between 1 and 3 s. The run's products are created and stocked by
the smoke admin at the start and discontinued at the end (:func:`prepare`, :func:`clean_up`), as the smoke test does.

The stage is the smoke test's (tools/local/smoke.py ``stage_from_environment``): the same code reaches `make local`
and, from the Kubernetes Job, a deployed stage.
"""

from __future__ import annotations

import random  # traffic shaping (which product, think times), not secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from locust import HttpUser, between, task

from tools.local.workflows import (
    Client,
    Stage,
    adjustment_body,
    credentials_body,
    new_password,
    order_body,
    payment_event,
    product_body,
    registration_body,
)

BROWSE_WEIGHT, SHOP_WEIGHT, SIGN_UP_WEIGHT = 14, 5, 1
STOCK_PER_PRODUCT = 1_000_000
PRODUCTS = 8
FOLLOW_TIMEOUT_SECONDS = 120
TERMINAL = ("CONFIRMED", "CANCELLED", "REJECTED")


@dataclass
class Outcomes:
    """Orders the shoppers placed and how they ended, with each order's seconds from placement to its end."""

    placed: int = 0
    ended: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0
    seconds_to_end: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def end(self, status: str, seconds: float) -> None:
        with self.lock:
            self.ended[status] = self.ended.get(status, 0) + 1
            self.seconds_to_end.setdefault(status, []).append(seconds)


@dataclass
class Run:
    """What every user of one run shares: the stage, the catalog it orders from, the outcomes."""

    stage: Stage
    product_ids: list[str] = field(default_factory=list)
    outcomes: Outcomes = field(default_factory=Outcomes)
    customer_token: str = ""


RUN: Run | None = None


def prepare(stage: Stage, products: int = PRODUCTS) -> Run:
    """The smoke admin creates and stocks the run's products; the smoke customer signs in once."""
    global RUN
    client = Client(stage)
    ids = []
    for _ in range(products):
        pid = str(client.req("POST", "/products", 201, client.admin,
                             json=product_body(f"Load {uuid.uuid4().hex[:6]}", random.randint(200, 5000)))  # noqa: S311
                  ["product_id"])
        ids.append(pid)
    for pid in ids:
        deadline = time.monotonic() + 60
        while client.http.get(f"/inventory/{pid}", headers=client.admin).status_code != 200:
            if time.monotonic() > deadline:
                raise AssertionError(f"no stock record for {pid} within 60 s (ProductCreated not consumed)")
            time.sleep(0.2)
        client.req("POST", f"/inventory/{pid}/adjust", 200, client.admin, json=adjustment_body(STOCK_PER_PRODUCT))
    customer = stage.customer()
    assert customer is not None, "the stage has no smoke customer"
    token = client.req("POST", "/users/login", 200, json=credentials_body(customer.email, customer.password))
    RUN = Run(stage=stage, product_ids=ids, customer_token=token["access_token"])
    return RUN


def clean_up(run: Run) -> None:
    """Nothing the run created stays on sale."""
    client = Client(run.stage)
    for pid in run.product_ids:
        client.http.delete(f"/products/{pid}", headers=client.admin)


def _run() -> Run:
    assert RUN is not None, "prepare() the run first"
    return RUN


class _ShopUser(HttpUser):
    abstract = True
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.client.headers["x-api-key"] = _run().stage.api_key

    def get_catalog(self) -> list[dict[str, Any]]:
        with self.client.get("/products", params={"limit": 20}, name="GET /products",
                             catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}")
                return []
            return list(r.json()["items"])

    def get_product(self, pid: str) -> None:
        with self.client.get(f"/products/{pid}", name="GET /products/{productId}", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}")


class Browser(_ShopUser):
    weight = BROWSE_WEIGHT

    @task(3)
    def browse(self) -> None:
        items = self.get_catalog()
        for item in random.sample(items, min(2, len(items))):
            self.get_product(item["product_id"])

    @task(1)
    def look_at_a_product(self) -> None:
        self.get_product(random.choice(_run().product_ids))  # noqa: S311


class Shopper(_ShopUser):
    weight = SHOP_WEIGHT

    @task
    def order(self) -> None:
        run = _run()
        auth = {"Authorization": f"Bearer {run.customer_token}"}
        pid = random.choice(run.product_ids)  # noqa: S311
        self.get_product(pid)
        with self.client.post("/orders", json=order_body({pid: 1}), name="POST /orders", catch_response=True,
                              headers={**auth, "Idempotency-Key": str(uuid.uuid4())}) as r:
            if r.status_code != 201:
                r.failure(f"{r.status_code}")
                return
            order = r.json()
        placed = time.monotonic()
        with run.outcomes.lock:
            run.outcomes.placed += 1
        reserved = self.follow(order["order_id"], auth, ("RESERVED", *TERMINAL), placed)
        if reserved is None or reserved["status"] != "RESERVED":
            if reserved is not None:
                run.outcomes.end(reserved["status"], time.monotonic() - placed)
            return
        if not run.stage.pay(payment_event(reserved)):
            with self.client.post(f"/orders/{order['order_id']}/cancel", name="POST /orders/{orderId}/cancel",
                                  headers=auth, catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"{r.status_code}")
                    return
        final = self.follow(order["order_id"], auth, TERMINAL, placed)
        if final is not None:
            run.outcomes.end(final["status"], time.monotonic() - placed)

    def follow(self, order_id: str, auth: dict[str, str], until: tuple[str, ...],
               placed: float) -> dict[str, Any] | None:
        """Poll the order as its page does (every half second) until it reaches one of ``until``."""
        while time.monotonic() - placed < FOLLOW_TIMEOUT_SECONDS:
            with self.client.get(f"/orders/{order_id}", name="GET /orders/{orderId}", headers=auth,
                                 catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"{r.status_code}")
                elif r.json()["status"] in until:
                    return dict(r.json())
            time.sleep(0.5)
        with _run().outcomes.lock:
            _run().outcomes.unfinished += 1
        return None


class Newcomer(_ShopUser):
    weight = SIGN_UP_WEIGHT

    @task
    def sign_up(self) -> None:
        email = _run().stage.new_email("load")
        with self.client.post("/users/register", json=registration_body(email, new_password(), "Load Test"),
                              name="POST /users/register", catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"{r.status_code}")


USER_CLASSES = (Browser, Shopper, Newcomer)
