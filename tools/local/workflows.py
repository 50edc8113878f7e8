"""The seed's workflows, driven over HTTP through the API as clients reach it: an API URL and its API key.

The same functions run against the local edge (`make e2e`, the services' tests, `make smoke` against `make local`)
and against a deployed stage (`make smoke BASE_URL=... API_KEY=...`, tools/local/smoke.py). What the API cannot do for a
test by itself is asked of the :class:`Stage` it runs against: an administrator's credentials, a stand-in for the
user following Cognito's confirmation email, the payment provider's PaymentConfirmed, and (locally) a look into the
orders database and into the mail SES accepted (the customer's order notifications). A deployed stage that cannot
do one of these says so, and the workflow checks what it can instead.

Every workflow leaves nothing on sale: the products it creates are discontinued at the end.
Each function raises AssertionError with a readable message when the platform does not reach the expected state.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from config.topology import EVENT_TYPE_ATTRIBUTE

if TYPE_CHECKING:
    from tools.local.local_platform import LocalPlatform

T = TypeVar("T")
# How long the e2e watches for a second email about the same order status once the first arrived: several of the
# notifier's polls (users/notifications.py).
EMAIL_SETTLE_SECONDS = 3.0


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


# --- request bodies (tests/test_api_models.py checks each against the service's and the edge's model) -------------

def product_body(name: str, price_cents: int) -> dict[str, Any]:
    return {"name": name, "price_cents": price_cents}


def adjustment_body(delta: int) -> dict[str, Any]:
    return {"delta": delta}


def order_body(quantities: Mapping[str, int]) -> dict[str, Any]:
    return {"lines": [{"product_id": pid, "quantity": q} for pid, q in quantities.items()]}


def order_change_body(quantities: Mapping[str, int] | None = None, shipping_address: str | None = None
                      ) -> dict[str, Any]:
    return {**({"lines": order_body(quantities)["lines"]} if quantities is not None else {}),
            **({"shipping_address": shipping_address} if shipping_address is not None else {})}


def payment_report(order: Mapping[str, Any], *, succeeded: bool = True, amount_cents: int | None = None
                   ) -> dict[str, Any]:
    """A payment outcome as the payment provider posts it to POST /payments/webhook (orders/models.py)."""
    return {"event_id": f"evt-{uuid.uuid4().hex}", "type": "payment.succeeded" if succeeded else "payment.failed",
            "occurred_at": int(time.time()), "order_id": order["order_id"],
            "payment_id": f"pay-{uuid.uuid4().hex[:12]}",
            "amount_cents": order["total_cents"] if amount_cents is None else amount_cents,
            "currency": order["currency"], "method_type": "card",
            **({} if succeeded else {"failure_reason": "card declined"})}


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers with which the provider signs ``body`` (services/orders/webhook.py)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Webhook-Timestamp": ts, "Webhook-Signature": f"v1={mac}", "Content-Type": "application/json"}


def registration_body(email: str, password: str, name: str) -> dict[str, Any]:
    return {"email": email, "password": password, "name": name}


def credentials_body(email: str, password: str) -> dict[str, Any]:
    return {"email": email, "password": password}


def profile_body(name: str, address: str) -> dict[str, Any]:
    return {"name": name, "address": address}


def preferences_body(language: str, currency: str, order_updates: bool = True,
                     marketing: bool = False) -> dict[str, Any]:
    return {"language": language, "currency": currency,
            "notifications": {"email": {"order_updates": order_updates, "marketing": marketing}}}


def payment_event(order: Mapping[str, Any]) -> dict[str, Any]:
    """PaymentConfirmed as the payment provider integration publishes it (services/common/schemas)."""
    return {"id": str(uuid.uuid4()), "type": "PaymentConfirmed", "version": 1,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": "payment-provider",
            "correlation_id": str(uuid.uuid4()),
            "data": {"order_id": order["order_id"], "payment_id": f"pay-{uuid.uuid4().hex[:8]}",
                     "amount_cents": order["total_cents"], "currency": order["currency"]}}


def new_password() -> str:
    """Meets every environment's pool policy (12+ characters, upper, lower, digit, symbol)."""
    return f"Sm0ke-{secrets.token_hex(8)}!"


@dataclass(frozen=True)
class Account:
    email: str
    password: str


class Stage:
    """What the workflows need beyond the API. The base says "cannot" wherever a stage may be unable to help."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def admin(self) -> Account:
        """A confirmed user of the pool's `admin` group."""
        raise NotImplementedError

    def new_email(self, label: str) -> str:
        return f"{label}-{uuid.uuid4().hex[:8]}@example.com"

    def customer(self) -> Account | None:
        """A confirmed customer to order with, or None to register a new one for each workflow."""
        return None

    def confirm_sign_up(self, email: str) -> bool:
        """Stand in for the user following Cognito's confirmation email; False when this stage cannot."""
        return False

    def pay(self, event: Mapping[str, Any]) -> bool:
        """Publish PaymentConfirmed as the payment provider does; False when this stage cannot."""
        return False

    def webhook_secret(self) -> str | None:
        """The secret the payment provider signs webhook requests with; None when this stage does not share it."""
        return None

    def customer_row(self, user_id: str) -> tuple[Any, ...] | None:
        """The orders service's record of a customer (id, email, name); None when not (yet) there."""
        raise NotImplementedError

    def sent_emails(self, to: str) -> list[dict[str, Any]] | None:
        """The emails SES accepted for ``to`` (subject, body, ...); None when this stage cannot read them."""
        return None

    @property
    def observes_orders_database(self) -> bool:
        return False


class LocalStage(Stage):
    """The local platform: its edge, and moto/PostgreSQL for what the API cannot do."""

    def __init__(self, platform: LocalPlatform) -> None:
        super().__init__(platform.edge_url, platform.api_key)
        self.p = platform
        self._admin: Account | None = None

    def admin(self) -> Account:
        """Created as an administrator would, with the pool's admin APIs (moto's)."""
        if self._admin is None:
            account = Account(f"e2e-admin-{uuid.uuid4().hex[:6]}@example.com", new_password())
            idp, pool = self.p.client("cognito-idp"), self.p.resources.user_pool_id
            idp.admin_create_user(UserPoolId=pool, Username=account.email, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": account.email}])
            idp.admin_set_user_password(UserPoolId=pool, Username=account.email, Password=account.password,
                                        Permanent=True)
            idp.admin_add_user_to_group(UserPoolId=pool, Username=account.email, GroupName="admin")
            self._admin = account
        return self._admin

    def confirm_sign_up(self, email: str) -> bool:
        # Stands in for the user following Cognito's verification email (see services/users/app.py).
        self.p.client("cognito-idp").admin_confirm_sign_up(UserPoolId=self.p.resources.user_pool_id, Username=email)
        return True

    def pay(self, event: Mapping[str, Any]) -> bool:
        self.p.client("sns").publish(
            TopicArn=self.p.resources.topic_arns["payment-events"], Message=json.dumps(event),
            MessageAttributes={EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": str(event["type"])}})
        return True

    def webhook_secret(self) -> str | None:
        return self.p.resources.payment_webhook_secret

    def customer_row(self, user_id: str) -> tuple[Any, ...] | None:
        import psycopg

        with psycopg.connect(self.p.orders_dsn()) as conn:
            return conn.execute("SELECT id, email, name FROM customers WHERE id = %s", (user_id,)).fetchone()

    @property
    def observes_orders_database(self) -> bool:
        return True

    def sent_emails(self, to: str) -> list[dict[str, Any]] | None:
        return self.p.sent_emails(to)  # what moto's SES accepted


@dataclass(frozen=True)
class Session:
    user_id: str
    headers: dict[str, str]
    email: str = ""


class Client:
    """HTTP through the stage's API URL with its API key; users sign in with POST /users/login like any client."""

    def __init__(self, stage: Stage | LocalPlatform) -> None:
        self.stage = stage if isinstance(stage, Stage) else LocalStage(stage)
        self.http = httpx.Client(base_url=self.stage.base_url, headers={"x-api-key": self.stage.api_key},
                                 timeout=35)
        self.admin = self.login(self.stage.admin()).headers

    def req(self, method: str, path: str, expect: int, headers: Mapping[str, str] | None = None,
            **kw: Any) -> Any:
        r = self.http.request(method, path, headers=dict(headers or {}), **kw)
        if r.status_code != expect:
            raise AssertionError(f"{method} {path}: expected {expect}, got {r.status_code}: {r.text}")
        return r.json() if r.content else None

    def login(self, account: Account) -> Session:
        """Sign in and keep the token the clients really get: the access token of POST /users/login."""
        tokens = self.req("POST", "/users/login", 200, json=credentials_body(account.email, account.password))
        me = self.req("GET", "/users/me", 200, {"Authorization": f"Bearer {tokens['access_token']}"})
        return Session(user_id=me["user_id"], headers={"Authorization": f"Bearer {tokens['access_token']}"},
                       email=account.email)

    def register(self, label: str, name: str) -> tuple[Account, dict[str, Any]]:
        account = Account(self.stage.new_email(label), new_password())
        registered = self.req("POST", "/users/register", 201,
                              json=registration_body(account.email, account.password, name))
        assert registered["email"] == account.email and registered["confirmed"] is False, registered
        return account, registered

    def customer(self, label: str, name: str) -> Session:
        """The stage's customer, or a new one: registered, confirmed, signed in."""
        account = self.stage.customer()
        if account is None:
            account, _ = self.register(label, name)
            confirmed = self.stage.confirm_sign_up(account.email)
            assert confirmed, "this stage can neither confirm sign-ups nor offer a customer"
        return self.login(account)

    @contextlib.contextmanager
    def product_with_stock(self, price_cents: int, units: int) -> Iterator[str]:
        """A product of ours with stock, discontinued afterwards whatever happens (nothing stays on sale)."""
        pid = str(self.req("POST", "/products", 201, self.admin,
                           json=product_body(f"Smoke {uuid.uuid4().hex[:6]}", price_cents))["product_id"])
        try:
            wait_for(lambda: self.http.get(f"/inventory/{pid}", headers=self.admin).status_code == 200,
                     "stock record (ProductCreated)")
            self.req("POST", f"/inventory/{pid}/adjust", 200, self.admin, json=adjustment_body(units))
            yield pid
        finally:
            r = self.http.delete(f"/products/{pid}", headers=self.admin)
            assert r.status_code in (204, 404), f"DELETE /products/{pid}: {r.status_code} {r.text}"

    def place(self, session: Session, quantities: Mapping[str, int]) -> dict[str, Any]:
        return dict(self.req("POST", "/orders", 201, {**session.headers, "Idempotency-Key": str(uuid.uuid4())},
                             json=order_body(quantities)))

    def change(self, session: Session, oid: str, body: Mapping[str, Any], key: str | None = None) -> dict[str, Any]:
        return dict(self.req("PUT", f"/orders/{oid}", 200,
                             {**session.headers, "Idempotency-Key": key or str(uuid.uuid4())}, json=body))

    def order(self, session: Session, oid: str) -> dict[str, Any]:
        return dict(self.req("GET", f"/orders/{oid}", 200, session.headers))

    def wait_order(self, session: Session, oid: str, status: str, timeout: float = 30) -> dict[str, Any]:
        return wait_for(lambda: (o := self.order(session, oid))["status"] == status and o,
                        f"order {oid} to become {status}", timeout)

    def stock(self, pid: str) -> dict[str, Any]:
        return dict(self.req("GET", f"/inventory/{pid}", 200, self.admin))

    @contextlib.contextmanager
    def preferences(self, session: Session, language: str) -> Iterator[dict[str, Any]]:
        """The customer's preferences with ``language``, through the API; the previous ones back afterwards."""
        before = self.req("GET", "/users/me/preferences", 200, session.headers)
        email = before["notifications"]["email"]
        body = preferences_body(language, before["currency"], email["order_updates"], email["marketing"])
        changed = self.req("PUT", "/users/me/preferences", 200, session.headers, json=body)
        assert changed["language"] == language and changed["version"] == before["version"] + (
            language != before["language"]), (before, changed)
        try:
            yield changed
        finally:
            restore = preferences_body(before["language"], before["currency"], email["order_updates"],
                                       email["marketing"])
            self.req("PUT", "/users/me/preferences", 200, session.headers, json=restore)

    def order_email(self, session: Session, order_id: str, subject: str) -> dict[str, Any] | None:
        """The one email the customer got about this order's status change: waits for it (its subject holds
        ``subject``), then checks that no second one follows. None where the stage cannot read sent mail."""
        if self.stage.sent_emails(session.email) is None:
            return None

        def about_order() -> list[dict[str, Any]]:
            return [m for m in self.stage.sent_emails(session.email) or [] if order_id in m["body"]]

        mails = wait_for(lambda: [m for m in about_order() if subject in m["subject"]],
                         f"the email about order {order_id} ({subject!r})")
        time.sleep(EMAIL_SETTLE_SECONDS)  # a duplicate (a redelivery sent twice) would have arrived by now
        again = about_order()
        assert len(again) == 1 and again == mails, [m["subject"] for m in again]
        return mails[0]


def order_placement(c: Client) -> dict[str, Any]:
    """Order -> ReserveStock -> StockReserved -> RESERVED -> PaymentConfirmed -> CONFIRMED (OrderConfirmed) -> the
    customer, who chose Spanish, gets one email saying so. Where the stage cannot pay, the reserved order is
    cancelled instead, its stock released, and the email says that."""
    with c.product_with_stock(price_cents=1250, units=5) as pid:
        user = c.customer("buyer", "Buyer")
        with c.preferences(user, "es-ES"):
            order = c.place(user, {pid: 2})
            assert order["status"] == "PENDING" and order["total_cents"] == 2500, order
            reserved = c.wait_order(user, order["order_id"], "RESERVED")
            assert c.stock(pid) == {"product_id": pid, "available": 3, "reserved": 2}
            if c.stage.pay(payment_event(reserved)):
                final = c.wait_order(user, order["order_id"], "CONFIRMED")
                email = c.order_email(user, order["order_id"], "está confirmado")
            else:
                final = c.req("POST", f"/orders/{order['order_id']}/cancel", 200, user.headers)
                assert final["status"] == "CANCELLED", final
                wait_for(lambda: c.stock(pid)["reserved"] == 0, "reservation released")
                email = c.order_email(user, order["order_id"], "ha sido cancelado")
        return {"order_id": final["order_id"], "status": final["status"], "stock": c.stock(pid),
                "email": email["subject"] if email else "not observable on this stage"}


def user_registration(c: Client) -> dict[str, Any]:
    """Register -> profile + UserRegistered (outbox) -> SNS user-events -> orders-user-events queue -> customer.
    Where the stage cannot confirm sign-ups, the new user is refused sign-in until confirmed."""
    account, registered = c.register("new", "New User")
    if not c.stage.confirm_sign_up(account.email):
        r = c.http.post("/users/login", json=credentials_body(account.email, account.password))
        assert r.status_code == 403 and r.json()["error"] == "user_not_confirmed", r.text
        return {"user_id": registered["user_id"], "confirmed": False}
    user = c.login(account)
    me = c.req("GET", "/users/me", 200, user.headers)
    assert me["email"] == account.email and me["user_id"] == registered["user_id"], me
    updated = c.req("PUT", "/users/me", 200, user.headers, json=profile_body("New User", "1 Main St\nSpringfield"))
    assert updated["address"] == "1 Main St\nSpringfield", updated
    result: dict[str, Any] = {"user_id": user.user_id}
    if c.stage.observes_orders_database:
        row = wait_for(lambda: c.stage.customer_row(user.user_id),
                       "UserRegistered recorded by orders (via the orders-user-events queue)")
        assert row == (user.user_id, account.email, "New User"), row
        result["customer_row"] = list(row)
    return result


def product_update(c: Client) -> dict[str, Any]:
    """Admin reprices a product -> ProductUpdated -> pending orders repriced; discontinue -> REJECTED + released."""
    with c.product_with_stock(price_cents=1000, units=10) as pid, \
            c.product_with_stock(price_cents=300, units=10) as other:
        user = c.customer("pending", "Pending")
        o1 = c.place(user, {pid: 3, other: 1})
        c.wait_order(user, o1["order_id"], "RESERVED")
        c.req("PUT", f"/products/{pid}", 200, c.admin, json=product_body("Repriced", 800))
        repriced = wait_for(lambda: (o := c.order(user, o1["order_id"]))["total_cents"] == 3 * 800 + 300 and o,
                            "pending order repriced")
        assert repriced["status"] == "RESERVED"
        c.req("DELETE", f"/products/{pid}", 204, c.admin)
        rejected = c.wait_order(user, o1["order_id"], "REJECTED")
        assert "discontinued" in (rejected["reason"] or ""), rejected
        wait_for(lambda: c.stock(pid)["reserved"] == 0 and c.stock(other)["reserved"] == 0, "reservation released")
        assert c.stock(pid)["available"] == 10 and c.stock(other)["available"] == 10
        email = c.order_email(user, o1["order_id"], "We could not complete your order")
        assert email is None or "discontinued" in email["body"], email
        return {"order_id": o1["order_id"], "total_after_reprice": repriced["total_cents"],
                "final": rejected["status"], "email": email["subject"] if email else "not observable on this stage"}


def order_change(c: Client) -> dict[str, Any]:
    """A reserved, unpaid order changed (more of one product, a new one, a shipping address) -> ReserveStock of
    revision 1, which releases revision 0 in the same transaction -> PENDING -> RESERVED with the new lines' stock
    held; the same change again (same Idempotency-Key) is answered as before; cancelled -> all of it released."""
    with c.product_with_stock(price_cents=400, units=6) as pid, \
            c.product_with_stock(price_cents=250, units=4) as other:
        user = c.customer("changer", "Changer")
        order = c.place(user, {pid: 2})
        c.wait_order(user, order["order_id"], "RESERVED")
        assert c.stock(pid) == {"product_id": pid, "available": 4, "reserved": 2}
        key = str(uuid.uuid4())
        body = order_change_body({pid: 6, other: 1}, "2 Harbour Rd\nPortsmouth")
        changed = c.change(user, order["order_id"], body, key)
        assert changed["revision"] == 1 and changed["total_cents"] == 6 * 400 + 250, changed
        assert changed["shipping_address"] == "2 Harbour Rd\nPortsmouth", changed
        r = c.http.put(f"/orders/{order['order_id']}", headers={**user.headers, "Idempotency-Key": key}, json=body)
        assert r.status_code == 200 and r.headers.get("Idempotent-Replayed") == "true" and \
            r.json()["revision"] == 1, r.text
        # All 6 units of pid: only possible because the 2 of revision 0 come back in the same transaction.
        reserved = c.wait_order(user, order["order_id"], "RESERVED")
        wait_for(lambda: c.stock(pid)["reserved"] == 6 and c.stock(other)["reserved"] == 1,
                 "the reservation following the change")
        assert c.stock(pid)["available"] == 0 and c.stock(other)["available"] == 3
        cancelled = c.req("POST", f"/orders/{order['order_id']}/cancel", 200, user.headers)
        r = c.http.put(f"/orders/{order['order_id']}", headers={**user.headers, "Idempotency-Key": str(uuid.uuid4())},
                       json=order_change_body({pid: 1}))
        assert r.status_code == 409 and r.json()["error"] == "invalid_state", r.text
        wait_for(lambda: c.stock(pid)["reserved"] == 0 and c.stock(other)["reserved"] == 0, "reservation released")
        return {"order_id": order["order_id"], "revision": reserved["revision"], "total": reserved["total_cents"],
                "final": cancelled["status"]}


def payment_webhook(c: Client) -> dict[str, Any]:
    """The payment provider's signed webhook confirms a reserved order (PaymentConfirmed through the outbox ->
    orders-payment-events -> CONFIRMED); unsigned, badly signed, stale, replayed, wrong-amount and unknown-order
    requests are refused with a 4xx JSON body naming the problem. Where the stage does not share the signing
    secret, only the refusals of unsigned and badly signed requests are checked."""
    secret = c.stage.webhook_secret()
    with c.product_with_stock(price_cents=990, units=3) as pid:
        user = c.customer("payer", "Payer")
        order = c.place(user, {pid: 1})
        reserved = c.wait_order(user, order["order_id"], "RESERVED")
        body = json.dumps(payment_report(reserved)).encode()
        refused: dict[str, int] = {}

        def refuse(headers: Mapping[str, str], payload: bytes, status: int, names: str) -> None:
            r = c.http.post("/payments/webhook", content=payload, headers=dict(headers))
            assert r.status_code == status and names in r.text, (status, names, r.status_code, r.text)
            refused[names] = r.status_code

        refuse({"Content-Type": "application/json"}, body, 400, "Webhook-Signature")  # unsigned: the edge refuses
        refuse(signed("not-the-secret", body), body, 401, "bad_signature")
        if secret is None:
            return {"order_id": order["order_id"], "refused": refused, "confirmed": "not observable on this stage"}
        refuse(signed(secret, body, int(time.time()) - 3600), body, 401, "stale_timestamp")
        wrong = json.dumps(payment_report(reserved, amount_cents=reserved["total_cents"] - 1)).encode()
        refuse(signed(secret, wrong), wrong, 422, "amount_mismatch")
        unknown = json.dumps(payment_report({**reserved, "order_id": str(uuid.uuid4())})).encode()
        refuse(signed(secret, unknown), unknown, 422, "unknown_order")
        headers = signed(secret, body)
        accepted = c.http.post("/payments/webhook", content=body, headers=headers)
        assert accepted.status_code == 202 and accepted.json()["event"] == "PaymentConfirmed", accepted.text
        refuse(headers, body, 409, "replayed_event")  # the same signed request again
        confirmed = c.wait_order(user, order["order_id"], "CONFIRMED")
        return {"order_id": confirmed["order_id"], "status": confirmed["status"], "refused": refused}


def catalog_availability(c: Client) -> dict[str, Any]:
    """Stock changes -> InventoryUpdated -> inventory-events -> products-inventory-events -> the band the catalog
    shows on GET /products and GET /products/{id} (in stock, low, out of stock), with no call to inventory."""

    def listed(pid: str) -> str | None:
        cursor: str | None = None
        while True:
            page = c.req("GET", "/products", 200, params={"limit": 100, **({"next": cursor} if cursor else {})})
            found = [p["availability"] for p in page["items"] if p["product_id"] == pid]
            if found:
                return str(found[0])
            cursor = page["next"]
            if not cursor:
                return None

    def shown(pid: str) -> str:
        return str(c.req("GET", f"/products/{pid}", 200)["availability"])

    def becomes(band: str, read: Callable[[str], str | None], pid: str, where: str) -> str:
        wait_for(lambda: read(pid) == band, f"{band} on {where}")
        return band

    seen: list[str] = []
    with c.product_with_stock(price_cents=700, units=20) as pid:
        seen.append(becomes("IN_STOCK", listed, pid, "GET /products"))
        c.req("POST", f"/inventory/{pid}/adjust", 200, c.admin, json=adjustment_body(-17))
        seen.append(becomes("LOW_STOCK", listed, pid, "GET /products"))
        assert shown(pid) == "LOW_STOCK"
        c.req("POST", f"/inventory/{pid}/adjust", 200, c.admin, json=adjustment_body(-3))
        seen.append(becomes("OUT_OF_STOCK", shown, pid, "GET /products/{id}"))
        assert listed(pid) == "OUT_OF_STOCK"
        return {"product_id": pid, "availability": seen}


WORKFLOWS: dict[str, Callable[[Client], dict[str, Any]]] = {
    "order placement": order_placement,
    "user registration": user_registration,
    "product update": product_update,
    "order change": order_change,
    "payment webhook": payment_webhook,
    "catalog availability": catalog_availability,
}


def run_all(client: Client, on_failure: Callable[[str], None] = lambda name: None) -> int:
    """Run every workflow, print PASS/FAIL with its time and result; the number of failures."""
    failures = 0
    for name, workflow in WORKFLOWS.items():
        started = time.monotonic()
        try:
            result = workflow(client)
        except Exception:
            failures += 1
            print(f"FAIL {name} ({time.monotonic() - started:.1f}s)\n{traceback.format_exc()}", flush=True)
            on_failure(name)
        else:
            print(f"PASS {name} ({time.monotonic() - started:.1f}s) {json.dumps(result)}", flush=True)
    return failures
