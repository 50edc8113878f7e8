"""The storefront loaded as a customer loads it, in a real browser: the canary's page-load step
(tools/local/canary.py, with the Synthetics runtime's ``synthetics_webdriver.Chrome()``) and `make smoke`'s (with
Debian's Chromium, tools/local/chromium.py). One function, :func:`load_storefront`, for both.

It passes only when, within :data:`SETTLE_SECONDS`:
- the catalog is rendered from the API: the storefront's catalog list (web/src/pages/shop.tsx, ``ul.products``) is
  no longer ``aria-busy``, shows no error, and lists the products the API's ``GET /products`` lists first, in its
  order (none when the API lists none). The page is loaded again, up to :data:`ATTEMPTS` times, while the two differ:
  someone may change the catalog between the page's request and ours;
- and the browser reported no failed request of the page (a status of 400 or more, or no answer: its document,
  scripts, styles, icon, config.js, its API calls), no uncaught script error, no Content-Security-Policy violation
  and no other refusal (a script or style refused for its MIME type). The browser's own log says so
  (ChromeDriver's ``goog:loggingPrefs``, level SEVERE, by source ``network``, ``javascript``, ``security``), so
  nothing is injected into the page and its CSP stays as served.

Either way one screenshot of the page as it settled is saved with the browser's ``save_screenshot(filename,
suffix)`` (the runtime's: into the run's artifacts). Selenium is the runtime's own (config/synthetics.py); the canary's
asset does not carry it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.support.wait import WebDriverWait

if TYPE_CHECKING:
    from tools.local.workflows import Client

STEP = "storefront page load"
SETTLE_SECONDS = 30.0
ATTEMPTS = 3
SCREENSHOT = ("catalog.png", "storefront")
# What the browser's log sources mean for a page (ChromeDriver's log entries, level SEVERE); ``security`` holds CSP
# violations and the other refusals of the page's own policies (a script or style refused for its MIME type under
# nosniff: an asset missing from a deploy answered with an error page).
PROBLEM_SOURCES = {"network": "failed request", "javascript": "script error", "security": "refused by the browser"}
CSP = "Content Security Policy"
# The catalog as the page shows it: still busy, an error, or the product ids it lists (web/src/pages/shop.tsx).
CATALOG_STATE = """
const list = document.querySelector("ul.products");
if (!list || list.getAttribute("aria-busy") !== "false") return {state: "busy"};
const error = document.querySelector(".form-error");
if (error) return {state: "error", error: error.innerText};
return {state: "ready", ids: [...list.querySelectorAll("li.product-card")].map(li => li.dataset.productId)};
"""

Browser = Any  # the runtime's SyntheticsBrowser or tools/local/chromium.py's LocalChrome: Selenium's Chrome driver
LaunchBrowser = Callable[[Options], Browser]


class StorefrontError(AssertionError):
    """The storefront did not load as a customer needs it to; the message says each thing that went wrong."""


def browser_options() -> Options:
    """What the step needs of the browser: its log at every level (ChromeDriver keeps only warnings otherwise)."""
    options = Options()
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


def browser_problems(entries: Sequence[dict[str, Any]]) -> list[str]:
    """Failed requests, script errors, CSP violations and other refusals among the browser's log entries; any other
    SEVERE entry too, under its own source."""
    problems = []
    for e in entries:
        if e.get("level") != "SEVERE":
            continue
        message, source = str(e.get("message", "")), str(e.get("source"))
        kind = "CSP violation" if source == "security" and CSP in message else PROBLEM_SOURCES.get(source, source)
        problems.append(f"{kind}: {message}")
    return problems


def settle(browser: Browser, timeout: float) -> dict[str, Any]:
    """The catalog's state once it is no longer busy, or busy after ``timeout`` seconds."""
    try:
        return dict(WebDriverWait(browser, timeout, poll_frequency=0.25).until(
            lambda b: (s := b.execute_script(CATALOG_STATE))["state"] != "busy" and s))
    except TimeoutException:
        return {"state": "busy"}


def load_storefront(launch: LaunchBrowser, url: str, listed: Callable[[], list[str]],
                    settle_seconds: float = SETTLE_SECONDS) -> dict[str, Any]:
    """Load ``url`` in a browser from ``launch`` and check it (see the module docstring); ``listed``: the product ids
    the API's ``GET /products`` lists first, in its order. Raises :class:`StorefrontError`; returns what it saw."""
    browser = launch(browser_options())
    try:
        if not callable(getattr(browser, "get_log", None)):
            raise StorefrontError("the browser keeps no log to read failed requests, script errors and CSP "
                                  "violations from (not a Chrome driver)")
        started = time.monotonic()
        problems: list[str] = []
        for attempt in range(1, ATTEMPTS + 1):
            browser.get(url)
            state = settle(browser, settle_seconds)
            problems = browser_problems(browser.get_log("browser"))
            if state["state"] == "busy":
                problems.append(f"the catalog was not rendered within {settle_seconds:g} s (still loading, or the "
                                "app did not start)")
            elif state["state"] == "error":
                problems.append(f"the catalog shows an error: {state['error']!r}")
            else:
                shown = [str(i) for i in state["ids"]]
                api = listed()
                if shown != api[:len(shown)] or (not shown and api):
                    if attempt < ATTEMPTS and not problems:
                        continue  # the catalog may have changed between the page's request and ours
                    problems.append(f"the catalog lists {shown[:5]}{'...' if len(shown) > 5 else ''} but the API "
                                    f"lists {api[:5]}{'...' if len(api) > 5 else ''} first")
            break
        browser.save_screenshot(*SCREENSHOT)
        if problems:
            raise StorefrontError(f"{url}: " + "; ".join(problems))
        return {"url": url, "products_shown": len(state["ids"]), "attempts": attempt,
                "seconds": round(time.monotonic() - started, 1)}
    finally:
        browser.quit()  # the runtime's quit does nothing (it closes the browser after the run); locally it quits


def api_catalog(client: Client) -> Callable[[], list[str]]:
    """The ids ``GET /products`` lists first through the stage's API, more than the storefront's first page shows."""
    return lambda: [str(p["product_id"]) for p in client.req("GET", "/products", 200, params={"limit": 100})["items"]]
