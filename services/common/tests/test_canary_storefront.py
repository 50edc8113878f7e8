"""The storefront's page-load step (tools/local/page_load.py) in a real browser: Debian's Chromium, through the
runtime's Selenium, behind the stand-in for the Synthetics runtime's ``synthetics_webdriver.Chrome()``, against the
session platform's storefront (served as `make local` serves it: web/dist with the synthesized Web stack's headers,
its CSP among them, and a config.js naming the local edge).

The canary's shipped asset loads it after its workflows; the same step fails a page that does not render the
catalog from the API, and one with a script error, a CSP violation or a failed request, each served as a copy of
the built storefront with that one fault; `make smoke`'s own browser passes the same page."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from common.tests.synthetics_harness import STAND_IN, run_handler, steps
from tools.local import page_load
from tools.local.canary import SIGN_IN_STEP
from tools.local.local_platform import ROOT, LocalPlatform
from tools.local.smoke import CANARY_WORKFLOWS, load_storefront, provision_local
from tools.local.workflows import Client

pytestmark = pytest.mark.browser

DIST = ROOT / "web" / "dist"
PNG = b"\x89PNG\r\n\x1a\n"
# A page that cannot render the catalog waits this long in these tests (the canary: page_load.SETTLE_SECONDS).
SHORT_SETTLE = 8.0


@pytest.fixture(scope="module")
def synthetics_webdriver() -> ModuleType:
    """The stand-in's module, loaded in this process: what the canary's ``Chrome()`` and ``execute_step`` are."""
    spec = importlib.util.spec_from_file_location(
        "synthetics_webdriver_stand_in", STAND_IN / "aws_synthetics" / "selenium" / "synthetics_webdriver.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def client(platform: LocalPlatform) -> Client:
    return Client(platform)


@pytest.fixture(scope="module")
def product(make_product: Callable[..., str]) -> str:
    """A product on sale, so that the catalog has something to render."""
    return make_product(name="Canary's mug", price_cents=1250, stock=5)


def broken_copy(tmp_path: Path, *, head: str = "", body: str = "", assets: dict[str, str] | None = None,
                drop_app: bool = False) -> Path:
    """The built storefront with one fault: ``head`` or ``body`` added to index.html's, extra files under assets/,
    or the app's own script left out of the page."""
    dist = tmp_path / "dist"
    shutil.copytree(DIST, dist)
    index = dist / "index.html"
    html = index.read_text()
    if drop_app:
        start = html.index('<script type="module"')
        html = html[:start] + html[html.index("</script>", start) + len("</script>"):]
    index.write_text(html.replace("</head>", f"{head}</head>", 1).replace("</body>", f"{body}</body>", 1))
    for name, text in (assets or {}).items():
        (dist / "assets" / name).write_text(text)
    return dist


def load(webdriver: ModuleType, url: str, client: Client, settle: float = page_load.SETTLE_SECONDS,
         listed: Callable[[], list[str]] | None = None) -> dict[str, Any]:
    return page_load.load_storefront(lambda options: webdriver.Chrome(chrome_options=options), url,
                                     listed or page_load.api_catalog(client), settle_seconds=settle)


@pytest.fixture
def screenshots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the stand-in's browser saves screenshots (the temporary directory, as the runtime's /tmp)."""
    directory = tmp_path / "screenshots"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def served(platform: LocalPlatform) -> Iterator[Callable[[Path | None], Any]]:
    """Serves a build of the storefront at the platform's storefront origin for the rest of the test."""
    stack: list[Any] = []

    def serve(dist: Path | None = None) -> str:
        context = platform.storefront(dist)
        stack.append(context)
        return str(context.__enter__())

    yield serve
    for context in reversed(stack):
        context.__exit__(None, None, None)


def test_the_canary_asset_loads_the_storefront_after_its_workflows(
        platform: LocalPlatform, runtime: Path, key_id: str, product: str, request: pytest.FixtureRequest) -> None:
    """The synthesized asset with STOREFRONT_URL: its last step renders the catalog the API lists, in Chromium, and
    leaves the runtime's screenshots."""
    assert platform.assembly is not None
    local = provision_local(platform)
    # The run's temporary directory, where the runtime's screenshots go: a short path, since Chromium puts its
    # profile's socket there (a Unix socket's path has at most 107 bytes).
    artifacts = Path(tempfile.mkdtemp(prefix="canary-"))
    request.addfinalizer(lambda: shutil.rmtree(artifacts, ignore_errors=True))
    with platform.storefront() as url:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "TMPDIR": str(artifacts),
               **{k: v for k, v in local.items() if k.startswith("AWS_")},
               "BASE_URL": platform.edge_url, "API_KEY_ID": key_id, "SMOKE_SECRET": local["SMOKE_SECRET"],
               "PAYMENT_TOPIC": local["PAYMENT_TOPIC"], "STOREFRONT_URL": url}
        r = run_handler(platform.assembly, runtime, env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert [s["step"] for s in steps(r.stdout)] == [SIGN_IN_STEP, *CANARY_WORKFLOWS, page_load.STEP]
    assert {s["status"] for s in steps(r.stdout)} == {"PASSED"}
    shots = {p.name: p.read_bytes() for p in artifacts.glob("*.png")}
    assert {"catalog-storefront.png", f"{page_load.STEP}-succeeded.png"} <= set(shots), sorted(shots)
    assert all(data.startswith(PNG) and len(data) > 10_000 for data in shots.values())


def test_the_step_passes_the_healthy_storefront_and_shows_what_the_api_lists(
        synthetics_webdriver: ModuleType, served: Callable[[Path | None], str], client: Client, product: str,
        tmp_path: Path, screenshots: Path) -> None:
    """The control for the faults below: an unchanged copy of the build, served the same way, passes."""
    result = load(synthetics_webdriver, served(broken_copy(tmp_path)), client)
    listed = page_load.api_catalog(client)()
    assert product in listed and 1 <= result["products_shown"] <= len(listed), result
    assert result["attempts"] == 1
    assert (screenshots / "catalog-storefront.png").read_bytes().startswith(PNG)


def test_a_page_that_never_renders_the_catalog_fails(
        synthetics_webdriver: ModuleType, served: Callable[[Path | None], str], client: Client, product: str,
        tmp_path: Path, screenshots: Path) -> None:
    """index.html answers 200 and nothing fails, but the app never starts: no catalog, a failed step."""
    url = served(broken_copy(tmp_path, drop_app=True))
    with pytest.raises(page_load.StorefrontError) as failed:
        load(synthetics_webdriver, url, client, settle=SHORT_SETTLE)
    assert "the catalog was not rendered" in str(failed.value)
    assert "script error" not in str(failed.value) and "failed request" not in str(failed.value)
    assert (screenshots / "catalog-storefront.png").is_file()  # the page as it was, in the run's artifacts


def test_a_catalog_that_is_not_the_apis_fails(
        synthetics_webdriver: ModuleType, served: Callable[[Path | None], str], client: Client, product: str,
        tmp_path: Path, screenshots: Path) -> None:
    """What the page shows must be what the API lists (reloaded while they differ, then failed)."""
    with pytest.raises(page_load.StorefrontError, match="but the API lists"):
        load(synthetics_webdriver, served(None), client, listed=lambda: ["no-such-product"])


FAULTS = {  # name: (what index.html gets, the kind of problem the step reports, what its message names)
    "script error": ({"head": '<script src="/assets/canary-fault.js"></script>',
                      "assets": {"canary-fault.js": "throw new Error('canary fault');"}},
                     "script error", "canary fault"),
    # The storefront's CSP (script-src 'self', img-src 'self') refuses both.
    "inline script": ({"head": "<script>window.inlined = true;</script>"},
                      "CSP violation", "Content Security Policy"),
    "foreign image": ({"body": '<img src="https://images.example.com/x.png" alt="">'}, "CSP violation",
                      "images.example.com"),
    "missing image": ({"body": '<img src="/assets/gone.png" alt="">'}, "failed request", "404"),
    # A deploy that lost its stylesheet: the error page comes back, refused as a style under nosniff.
    "missing stylesheet": ({"head": '<link rel="stylesheet" href="/assets/gone.css">'}, "refused by the browser",
                           "gone.css"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_script_error_a_csp_violation_or_a_failed_request_fails_the_step(
        synthetics_webdriver: ModuleType, served: Callable[[Path | None], str], client: Client, product: str,
        tmp_path: Path, screenshots: Path, fault: str) -> None:
    """Each fault alone, in a page whose catalog still renders: the browser's report of it fails the step."""
    change, kind, named = FAULTS[fault]
    with pytest.raises(page_load.StorefrontError) as failed:
        load(synthetics_webdriver, served(broken_copy(tmp_path, **change)), client)  # type: ignore[arg-type]
    message = str(failed.value)
    assert f"{kind}: " in message and named in message, message
    assert "catalog was not rendered" not in message and "shows an error" not in message, message


def test_make_smoke_loads_the_storefront_in_its_own_browser(
        served: Callable[[Path | None], str], client: Client, product: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`make smoke`'s path: the same step, Debian's Chromium through tools/local/chromium.py, screenshot to disk."""
    assert load_storefront(client, served(None), screenshots=tmp_path)
    assert f"PASS {page_load.STEP}" in capsys.readouterr().out
    assert (tmp_path / "catalog-storefront.png").read_bytes().startswith(PNG)
