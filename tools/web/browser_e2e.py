"""The storefront's workflows in a real browser (`make e2e-web`, part of `make test`): headless Chromium (Debian's
``chromium``, driven by Playwright from PyPI; no browser download) against the storefront and platform that
`make local` serves, in containers by default, through the local edge.

    python -m tools.web.browser_e2e [--mode containers|processes] [--assembly cdk.out] [--out cdk.out/web]

Every page the workflows reach is checked with axe-core (web/node_modules/axe-core): a serious or critical
violation fails the run. Every step leaves a screenshot under ``--out`` (``NN-<step>.png``) and the axe results
in ``axe.json``. A Content-Security-Policy violation or an uncaught script error in any page fails the run too: the
storefront must work under the headers the Web stack gives it.

What the harness does that a person would do elsewhere: the admin account is created with the pool's admin APIs
(as an administrator would), the confirmation code a new customer types is not checked by moto (Cognito would
compare it with the one it emailed), and the payment provider's signed webhook is posted by the harness.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, Request, Route, expect, sync_playwright

from tools.local import chromium
from tools.local.local_platform import ROOT, LocalPlatform, add_mode_arguments
from tools.local.workflows import LocalStage, new_password, payment_report, signed, wait_for

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
OUT = ROOT / "cdk.out" / "web"
FAILING_IMPACTS = ("serious", "critical")
WAIT_SECONDS = 90.0  # asynchronous states (events through SNS/SQS and the workers) on a loaded machine


def launch(playwright: Any) -> Browser:
    chromium.require(chromium.CHROMIUM)
    return playwright.chromium.launch(executable_path=chromium.CHROMIUM, headless=True, args=list(chromium.ARGS))


@dataclass
class Run:
    """What the workflows share: the platform, the browser, where screenshots go and what axe found."""

    platform: LocalPlatform
    browser: Browser
    out: Path
    stage: LocalStage
    shots: int = 0
    axe: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def web(self) -> str:
        return self.platform.web_origin

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.platform.edge_url, headers={"x-api-key": self.platform.api_key},
                            timeout=35)


class Visitor:
    """One browser context on the storefront (a customer or an admin), with what the checks need to watch."""

    def __init__(self, run: Run, name: str) -> None:
        self.run = run
        self.name = name
        self.context: BrowserContext = run.browser.new_context(viewport={"width": 1280, "height": 900},
                                                                locale="en-GB")
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.bearer = ""
        self.login_tokens: dict[str, Any] = {}
        self.requests: list[Request] = []
        self.page.on("request", self._seen)
        self.page.on("response", self._answered)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda err: run.problems.append(f"{name}: script error: {err}"))
        self.page.on("dialog", lambda dialog: dialog.accept())

    def _seen(self, request: Request) -> None:
        self.requests.append(request)
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            self.bearer = auth.removeprefix("Bearer ")

    def _answered(self, response: Any) -> None:
        if response.url.endswith("/users/login") and response.ok:
            self.login_tokens = response.json()

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.run.problems.append(f"{self.name}: CSP violation: {message.text}")

    def goto(self, path: str) -> None:
        """Load the storefront at ``path``: a new page load, which ends any session (tokens live in memory)."""
        self.page.goto(self.run.web + path)

    def visit(self, path: str) -> None:
        """Go to ``path`` inside the running app, as its links do (the session stays)."""
        self.page.evaluate("path => { history.pushState(null, '', path); "
                           "dispatchEvent(new PopStateEvent('popstate')); }", path)

    def click_link(self, href: str) -> None:
        self.page.locator(f"a[href='{href}']").first.click()

    def step(self, slug: str) -> None:
        """Screenshot and accessibility check of the page as it is now."""
        self.page.wait_for_load_state("load")
        self.run.shots += 1
        self.page.screenshot(path=str(self.run.out / f"{self.run.shots:02d}-{slug}.png"), full_page=True)
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            # Through the DevTools protocol, not a <script> (which the page's CSP would refuse, as it should).
            self.page.evaluate(AXE.read_text() + "\n;undefined")
        result = self.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        violations = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                       "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]]
        self.run.axe.append({"step": f"{self.run.shots:02d}-{slug}", "url": self.page.url, "violations": violations})
        for v in violations:
            if v["impact"] in FAILING_IMPACTS:
                self.run.problems.append(f"{slug}: axe {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}")

    def sign_in(self, email: str, password: str) -> None:
        self.goto("/signin")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        with self.page.expect_response(lambda r: r.url.endswith("/users/login")):
            self.page.click("form button[type=submit]")
        expect(self.page.locator("p.who")).to_be_visible()

    def status(self) -> str:
        return str(self.page.locator("dd[data-status]").get_attribute("data-status"))

    def wait_status(self, *statuses: str) -> str:
        deadline = time.monotonic() + WAIT_SECONDS
        while (current := self.status()) not in statuses:
            if time.monotonic() > deadline:
                raise AssertionError(f"order stayed {current}, expected {' or '.join(statuses)}")
            self.page.wait_for_timeout(250)
        return current

    def close(self) -> None:
        self.context.close()


def reload_until(visitor: Visitor, path: str, probe: Callable[[Page], bool], what: str, *,
                 signed_in: bool = False) -> None:
    """The page again until ``probe`` holds (state that events bring: stock records, availability, prices); for a
    signed-in visitor by leaving and coming back inside the app, which keeps the session."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        if signed_in:
            visitor.visit("/account" if path == "/" else "/")
            visitor.visit(path)
        else:
            visitor.goto(path)
        settled = time.monotonic() + 5  # the page's own requests
        while time.monotonic() < settled:
            if probe(visitor.page):
                return
            visitor.page.wait_for_timeout(250)
        if time.monotonic() > deadline:
            visitor.page.screenshot(path=str(visitor.run.out / "timed-out.png"), full_page=True)
            raise AssertionError(f"timed out waiting for {what} on {path}; the page says:\n"
                                 f"{visitor.page.locator('main').inner_text()}")


# --- the workflows ---------------------------------------------------------------------------------------------


@dataclass
class Catalog:
    mug: str = ""
    towel: str = ""
    admin: Visitor | None = None


def admin_edits_the_catalog(run: Run, catalog: Catalog) -> dict[str, Any]:
    """An admin signs in, creates two products, gives them stock and changes a price through the admin area; an
    anonymous visitor's catalog shows them with their availability, then the new price."""
    admin_account = run.stage.admin()
    admin = catalog.admin = Visitor(run, "admin")
    admin.sign_in(admin_account.email, admin_account.password)
    expect(admin.page.locator("a[href='/admin']")).to_be_visible()
    suffix = uuid.uuid4().hex[:4]
    ids: list[str] = []
    for name, cents in ((f"Blue mug {suffix}", 1200), (f"Tea towel {suffix}", 650)):
        admin.click_link("/admin")
        expect(admin.page.locator("#page-title")).to_have_text("Catalog administration")
        if not ids:
            admin.step("admin-catalog")
        admin.click_link("/admin/products/new")
        admin.page.fill("#name", name)
        admin.page.fill("#description", f"{name}: made for the storefront's browser test.")
        admin.page.fill("#price_cents", str(cents))
        admin.page.fill("#currency", "EUR")
        if not ids:
            admin.step("admin-new-product")
        admin.page.click("form button[type=submit]")
        admin.page.wait_for_url(lambda url: "/admin/products/" in url and not url.endswith("/new"))
        pid = admin.page.url.rsplit("/", 1)[1]
        assert pid != "new", admin.page.url
        ids.append(pid)
        reload_until(admin, f"/admin/products/{pid}", lambda p: p.locator("#delta").count() > 0
                     and p.locator("text=available").count() > 0, f"the stock record of {name}", signed_in=True)
        admin.page.fill("#delta", "20")
        admin.page.fill("#reason", "first delivery")
        admin.page.locator("section[aria-labelledby=stock-title] button[type=submit]").click()
        expect(admin.page.locator("section[aria-labelledby=stock-title] [role=status]")).to_contain_text("20")
        if len(ids) == 1:
            admin.step("admin-stock-adjusted")
    catalog.mug, catalog.towel = ids
    shopper = Visitor(run, "visitor")
    try:
        def listed(page: Page, pid: str, text: str) -> bool:
            card = page.locator(f"li[data-product-id='{pid}']")
            return card.count() == 1 and text in card.inner_text()

        reload_until(shopper, "/", lambda p: listed(p, catalog.mug, "In stock") and listed(p, catalog.towel,
                                                                                            "In stock"),
                     "both products in stock in the catalog")
        shopper.step("catalog")
        admin.visit(f"/admin/products/{catalog.mug}")
        expect(admin.page.locator("#price_cents")).to_have_value("1200")
        admin.page.fill("#price_cents", "1100")
        admin.page.click("form:has(#name) button[type=submit]")
        expect(admin.page.locator("[role=status]").first).to_have_text("Saved.")
        admin.step("admin-price-changed")
        reload_until(shopper, "/", lambda p: listed(p, catalog.mug, "€11.00"), "the new price in the catalog")
        shopper.step("catalog-new-price")
    finally:
        shopper.close()
    return {"products": ids, "price": "12.00 -> 11.00"}


@dataclass
class Customer:
    visitor: Visitor
    email: str
    password: str
    first_order: str = ""


def field_error(visitor: Visitor, field_id: str) -> str:
    locator = visitor.page.locator(f"#{field_id}-error")
    expect(locator).to_be_visible()
    return locator.inner_text()


def customer_signs_up_and_buys(run: Run, catalog: Catalog, customer_box: list[Customer]) -> dict[str, Any]:
    """Sign up (a password the pool refuses is shown at its field), confirm, sign in, choose Spanish, browse, add two
    products, check out with a double-clicked "Place order", follow the order to CONFIRMED (the harness pays as
    the provider), find the email in the mail sink, and see one order in the history."""
    visitor = Visitor(run, "customer")
    email, password = f"shopper-{uuid.uuid4().hex[:8]}@example.com", new_password()
    visitor.goto("/")
    visitor.click_link("/signup")
    visitor.page.fill("#email", email)
    visitor.page.fill("#name", "Sam Shopper")
    visitor.page.fill("#password", "alllowercase1")  # long enough for the form; the pool wants upper case too
    visitor.page.click("form button[type=submit]")
    refused = field_error(visitor, "password")
    visitor.step("sign-up-refused-password")
    visitor.page.fill("#password", password)
    visitor.page.click("form button[type=submit]")
    visitor.page.wait_for_url(re.compile(r"/confirm\?"))
    visitor.page.fill("#code", "123456")  # moto does not check it (see the module docstring)
    visitor.step("confirm")
    visitor.page.click("form button[type=submit]")
    visitor.page.wait_for_url(re.compile(r"/signin\?confirmed=1"))
    visitor.step("sign-in")
    visitor.page.fill("#password", password)
    with visitor.page.expect_response(lambda r: r.url.endswith("/users/login")):
        visitor.page.click("form button[type=submit]")
    expect(visitor.page.locator("p.who")).to_contain_text("Sam Shopper")
    customer = Customer(visitor, email, password)
    customer_box.append(customer)
    assert_tokens_only_in_memory(visitor)

    visitor.click_link("/account")
    visitor.click_link("/account/preferences")
    visitor.page.select_option("#language", "es-ES")
    visitor.page.click("form button[type=submit]")
    expect(visitor.page.locator("a[href='/']").nth(1)).to_have_text("Catálogo")
    assert visitor.page.evaluate("document.documentElement.lang") == "es-ES"
    visitor.step("preferences-spanish")

    visitor.click_link("/")
    visitor.click_link(f"/products/{catalog.mug}")
    expect(visitor.page.locator("#page-title")).to_contain_text("Blue mug")
    visitor.step("product")
    visitor.page.click("form.inline button[type=submit]")
    visitor.click_link("/")
    visitor.page.locator(f"li[data-product-id='{catalog.towel}'] button").click()
    visitor.click_link("/cart")
    expect(visitor.page.locator("table.lines tbody tr")).to_have_count(2)
    visitor.step("cart")
    visitor.page.locator("main button", has_text="Tramitar pedido").click()
    visitor.page.fill("#shipping_address", "1 Harbour Road\nPortsmouth")
    visitor.step("checkout")
    orders_before = len(orders_of(run, visitor))
    visitor.page.locator("form button[type=submit]").dblclick()
    visitor.page.wait_for_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    order_id = visitor.page.url.rsplit("/", 1)[1]
    customer.first_order = order_id
    assert visitor.wait_status("PENDING", "RESERVED", "CONFIRMED")
    visitor.step("order-placed")
    visitor.wait_status("RESERVED")
    visitor.step("order-reserved")
    pay(run, visitor, order_id)
    visitor.wait_status("CONFIRMED")
    visitor.step("order-confirmed")
    mail = wait_for(lambda: [m for m in run.platform.sent_emails(email) if order_id in m["body"]
                             and "está confirmado" in m["subject"]], "the confirmation email", WAIT_SECONDS)
    visitor.click_link("/orders")
    expect(visitor.page.locator("ul.orders li")).to_have_count(orders_before + 1)
    visitor.step("order-history")
    placed = [r for r in visitor.requests if r.method == "POST" and r.url.endswith("/orders")]
    keys = {r.headers.get("idempotency-key") for r in placed}
    assert len(orders_of(run, visitor)) == orders_before + 1 and len(keys) == 1, (len(placed), keys)
    return {"order_id": order_id, "status": "CONFIRMED", "email": mail[0]["subject"], "refused": refused,
            "place_order_requests": len(placed)}


def orders_of(run: Run, visitor: Visitor) -> list[dict[str, Any]]:
    with run.api() as api:
        r = api.get("/orders", params={"limit": 100}, headers={"Authorization": f"Bearer {visitor.bearer}"})
        assert r.status_code == 200, r.text
        return list(r.json()["items"])


def pay(run: Run, visitor: Visitor, order_id: str) -> None:
    """The payment provider's signed webhook for the order's total, as the provider posts it."""
    with run.api() as api:
        order = api.get(f"/orders/{order_id}", headers={"Authorization": f"Bearer {visitor.bearer}"}).json()
        secret = run.stage.webhook_secret()
        assert secret is not None
        body = json.dumps(payment_report(order)).encode()
        r = api.post("/payments/webhook", content=body, headers=signed(secret, body))
        assert r.status_code == 202, r.text


def assert_tokens_only_in_memory(visitor: Visitor) -> None:
    tokens = [t for t in (visitor.login_tokens.get("access_token"), visitor.login_tokens.get("refresh_token"),
                          visitor.login_tokens.get("id_token")) if t]
    stored = visitor.page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), "
                                   "document.cookie])")
    assert tokens and not any(t in stored for t in tokens), "a token is in web storage or a cookie"


def non_admin_is_refused(run: Run, catalog: Catalog, customer_box: list[Customer]) -> dict[str, Any]:
    """The admin area is not offered to a customer and shows nothing to one who goes there; the API refuses the
    admin calls made with the customer's own token (403) whatever the UI shows."""
    visitor = customer_box[0].visitor
    visitor.visit("/")
    expect(visitor.page.locator("p.who")).to_be_visible()
    assert visitor.page.locator("a[href='/admin']").count() == 0
    visitor.visit("/admin")
    expect(visitor.page.locator("main p").first).to_have_text("Esta zona es para los administradores del catálogo.")
    visitor.step("admin-refused")
    headers = {"Authorization": f"Bearer {visitor.bearer}"}
    refused = {}
    with run.api() as api:
        for method, path, body in (("POST", "/products", {"name": "Mine", "price_cents": 1}),
                                   ("PUT", f"/products/{catalog.mug}", {"name": "Mine", "price_cents": 1}),
                                   ("DELETE", f"/products/{catalog.mug}", None),
                                   ("POST", f"/inventory/{catalog.mug}/adjust", {"delta": 100})):
            r = api.request(method, path, headers=headers, json=body)
            assert r.status_code == 403 and r.json()["error"] == "forbidden", (method, path, r.status_code, r.text)
            refused[f"{method} {path.split('/')[1]}"] = r.status_code
    return refused


def change_cancel_and_rejection(run: Run, catalog: Catalog, customer_box: list[Customer]) -> dict[str, Any]:
    """A reserved, unpaid order is changed (quantity) and cancelled from its page; another one is REJECTED with its
    reason when the admin discontinues its product."""
    visitor = customer_box[0].visitor

    def order(pid: str, quantity: int) -> str:
        visitor.visit(f"/products/{pid}")
        visitor.page.fill("#quantity", str(quantity))
        visitor.page.click("form.inline button[type=submit]")
        visitor.click_link("/cart")
        visitor.page.locator("main button", has_text="Tramitar pedido").click()
        visitor.page.locator("form button[type=submit]").click()
        visitor.page.wait_for_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
        return visitor.page.url.rsplit("/", 1)[1]

    changed = order(catalog.mug, 1)
    visitor.wait_status("RESERVED")
    visitor.page.locator("p.actions button.secondary").click()
    visitor.page.fill("#lines-0-quantity", "2")
    visitor.step("order-change")
    visitor.page.locator("form.change-order button[type=submit]").click()
    expect(visitor.page.locator("[role=status].status")).to_have_text(
        "Tu pedido ha cambiado; sus artículos se están reservando de nuevo.")
    visitor.wait_status("RESERVED")
    expect(visitor.page.locator("table.lines tbody tr td").nth(1)).to_have_text("2")
    visitor.page.locator("p.actions button.danger").click()
    visitor.wait_status("CANCELLED")
    visitor.step("order-cancelled")

    rejected = order(catalog.towel, 1)
    visitor.wait_status("RESERVED")
    admin = catalog.admin
    assert admin is not None
    admin.visit(f"/admin/products/{catalog.towel}")
    expect(admin.page.locator("#name")).to_have_value(re.compile("Tea towel"))
    admin.page.locator("button.danger").click()
    expect(admin.page.locator("[role=status]").first).to_contain_text("discontinued")
    admin.step("admin-discontinued")
    visitor.wait_status("REJECTED")
    reason = visitor.page.locator("dd.reason").inner_text()
    assert "discontinued" in reason, reason
    visitor.step("order-rejected")
    return {"changed_then_cancelled": changed, "rejected": rejected, "reason": reason}


def lost_connection_keeps_the_cart(run: Run, catalog: Catalog, customer_box: list[Customer]) -> dict[str, Any]:
    """Offline, "Place order" keeps the cart and says so; the answer of a placed order lost on its way back leaves
    the checkout pending, and placing it again (same Idempotency-Key) answers with that one order. A bad shipping
    address (a control character the edge's model refuses) is shown at its field."""
    visitor = customer_box[0].visitor
    visitor.visit(f"/products/{catalog.mug}")
    visitor.page.click("form.inline button[type=submit]")
    visitor.click_link("/cart")
    visitor.page.locator("main button", has_text="Tramitar pedido").click()
    visitor.page.fill("#shipping_address", "Line one\u0007")
    visitor.page.locator("form button[type=submit]").click()
    refused = field_error(visitor, "shipping_address")
    visitor.step("checkout-address-refused")
    visitor.page.fill("#shipping_address", "2 Quay Street\nBristol")
    before = len(orders_of(run, visitor))
    sent_before = len(visitor.requests)

    visitor.context.set_offline(True)
    visitor.page.locator("form button[type=submit]").click()
    expect(visitor.page.locator(".notices .notice")).to_be_visible()
    expect(visitor.page.locator("form p.notice")).to_be_visible()
    visitor.click_link("/cart")
    expect(visitor.page.locator("table.lines tbody tr")).to_have_count(1)
    visitor.step("offline-cart-kept")
    visitor.context.set_offline(False)

    lost: list[str] = []

    def answer_lost(route: Route) -> None:
        response = route.fetch()  # the order is placed...
        lost.append(str(response.status))
        route.abort("connectionreset")  # ...and its answer never arrives

    visitor.page.route(re.compile(r".*/v1/orders$"), answer_lost)
    visitor.page.locator("main button", has_text="Tramitar pedido").click()
    visitor.page.locator("form button[type=submit]").click()
    expect(visitor.page.locator("form p.notice")).to_be_visible()
    visitor.step("checkout-answer-lost")
    visitor.page.unroute(re.compile(r".*/v1/orders$"))
    with visitor.page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/orders")) as answer:
        visitor.page.locator("form button[type=submit]").click()
    assert answer.value.status == 201 and answer.value.headers.get("idempotent-replayed") == "true", \
        answer.value.headers
    visitor.page.wait_for_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    placed = [r for r in visitor.requests[sent_before:] if r.method == "POST" and r.url.endswith("/orders")]
    keys = {r.headers.get("idempotency-key") for r in placed}
    assert len(placed) >= 2 and len(keys) == 1, keys
    assert len(orders_of(run, visitor)) == before + 1
    expect(visitor.page.locator("a[href='/cart']")).to_contain_text("(0)")
    return {"lost_answer_status": lost, "attempts_with_one_key": len(placed), "refused_address": refused}


def throttled_requests_wait(run: Run, catalog: Catalog, customer_box: list[Customer]) -> dict[str, Any]:
    """A 429 from the edge (its THROTTLED gateway response) is waited out, and the page says so meanwhile."""
    visitor = Visitor(run, "throttled")
    try:
        with run.api() as api:
            real = api.get("/products", params={"limit": 1})
        # The edge's THROTTLED gateway response as the template renders it (cdk_constructs/platform_api.py).
        throttled_body = json.dumps({"error": "throttled", "message": "Too Many Requests",
                                     "request_id": str(uuid.uuid4())})
        throttled_headers = {"access-control-allow-origin": run.web, "vary": "Origin"}
        answered: list[int] = []

        def throttle_twice(route: Route) -> None:
            if len(answered) < 2:
                answered.append(429)
                route.fulfill(status=429, content_type="application/json", headers=throttled_headers,
                              body=throttled_body)
            else:
                answered.append(200)
                route.continue_()

        visitor.page.route(re.compile(r".*/v1/products\?.*"), throttle_twice)
        visitor.goto("/")
        expect(visitor.page.locator(".notices .notice")).to_contain_text("Trying again in")
        visitor.step("throttled-waiting")
        expect(visitor.page.locator(f"li[data-product-id='{catalog.mug}']")).to_be_visible(timeout=30_000)
        expect(visitor.page.locator(".notices .notice")).to_have_count(0)
        assert real.status_code == 200 and answered == [429, 429, 200], answered
        return {"answers": answered}
    finally:
        visitor.close()


def session_refresh_and_sign_out(run: Run, catalog: Catalog, customer_box: list[Customer]) -> dict[str, Any]:
    """The access token is refreshed before it expires (the clock moved on by 59 minutes), requests then carry the
    new one, and sign-out revokes the refresh token: the API refuses it afterwards."""
    customer = customer_box[0]
    visitor = Visitor(run, "refresh")
    try:
        visitor.page.clock.install()
        visitor.sign_in(customer.email, customer.password)
        first = visitor.bearer
        refresh_token = visitor.login_tokens["refresh_token"]
        with visitor.page.expect_request(lambda r: r.url.endswith("/users/token"), timeout=60_000):
            visitor.page.clock.fast_forward("59:10")
        with visitor.page.expect_request(lambda r: "/v1/orders?" in r.url and r.method == "GET") as listed:
            visitor.click_link("/orders")
        refreshed = listed.value.headers["authorization"].removeprefix("Bearer ")
        assert refreshed and refreshed != first, "the orders were asked for with the old access token"
        expect(visitor.page.locator("ul.orders li").first).to_be_visible()
        with visitor.page.expect_response(lambda r: r.url.endswith("/users/logout")) as out:
            visitor.page.locator("header button.link").click()
        assert out.value.status == 204
        expect(visitor.page.locator("a[href='/signin']")).to_be_visible()
        visitor.step("signed-out")
        with run.api() as api:
            r = api.post("/users/token", json={"refresh_token": refresh_token})
        assert r.status_code == 401 and r.json()["error"] == "invalid_refresh_token", r.text
        return {"refreshed": True, "refresh_after_sign_out": r.status_code}
    finally:
        visitor.close()


WORKFLOWS: list[tuple[str, Callable[[Run, Catalog, list[Customer]], dict[str, Any]]]] = [
    ("admin edits the catalog", lambda run, catalog, _: admin_edits_the_catalog(run, catalog)),
    ("customer signs up and buys", customer_signs_up_and_buys),
    ("non-admin is refused", non_admin_is_refused),
    ("change, cancel and rejection", change_cancel_and_rejection),
    ("lost connection keeps the cart", lost_connection_keeps_the_cart),
    ("throttled requests wait", throttled_requests_wait),
    ("session refresh and sign-out", session_refresh_and_sign_out),
]


@contextlib.contextmanager
def browser_run(platform: LocalPlatform, out: Path) -> Iterator[Run]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield Run(platform=platform, browser=browser, out=out, stage=LocalStage(platform))
        finally:
            browser.close()


def run_all(run: Run, on_failure: Callable[[str], None] = lambda name: None) -> int:
    """Each workflow in order (later ones use the products and customer of earlier ones); the number that failed,
    an axe or CSP problem counting as a failure of the workflow it appeared in, and a workflow not run for want of
    what an earlier one should have made as a failure too."""
    passed = 0
    catalog, customers = Catalog(), list[Customer]()
    for name, workflow in WORKFLOWS:
        started, seen = time.monotonic(), len(run.problems)
        try:
            result = workflow(run, catalog, customers)
            if len(run.problems) > seen:
                raise AssertionError("\n".join(run.problems[seen:]))
        except Exception:
            print(f"FAIL {name} ({time.monotonic() - started:.1f}s)\n{traceback.format_exc()}", flush=True)
            on_failure(name)
            if not catalog.mug or (not customers and name != WORKFLOWS[0][0]):
                break  # what the rest needs was not made
        else:
            passed += 1
            print(f"PASS {name} ({time.monotonic() - started:.1f}s) {json.dumps(result, ensure_ascii=False)}",
                  flush=True)
    (run.out / "axe.json").write_text(json.dumps(run.axe, indent=1))
    return len(WORKFLOWS) - passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.web.browser_e2e", description=__doc__.split("\n\n")[0])
    add_mode_arguments(parser)
    parser.add_argument("--out", type=Path, default=OUT, help="screenshots and axe results (cdk.out/web)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with LocalPlatform(free_ports=True, mode=args.mode, assembly=args.assembly, name_prefix="e2e-web",
                       web=True) as platform:
        print(f"platform up in {time.monotonic() - started:.1f} s; storefront at {platform.web_origin}/", flush=True)

        def show_logs(name: str) -> None:
            for proc in ("storefront", "edge", "orders-api", "orders-worker", "users-api", "products-api"):
                print(f"--- {proc} log tail ---\n{platform.log_tail(proc)}", flush=True)

        with browser_run(platform, args.out) as run:
            failures = run_all(run, show_logs)
            shots = run.shots
    print(f"{len(WORKFLOWS) - failures}/{len(WORKFLOWS)} storefront workflows passed ({args.mode}, "
          f"{time.monotonic() - started:.1f} s in all); {shots} screenshots and axe.json in {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
