"""The browser of this machine's tests and tools: Debian's ``chromium`` (and ``chromium-driver`` for Selenium), both
from the Makefile's APT_PACKAGES, never a downloaded browser.

Playwright (tools/web/browser_e2e.py) launches it with :data:`ARGS`; Selenium drives it through :class:`LocalChrome`,
which is what `make smoke` loads the storefront with (tools/local/page_load.py) and what the canary's tests stand in
the Synthetics runtime's ``synthetics_webdriver.Chrome()`` with (tests/fixtures/synthetics_runtime).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The flags that work on this machine (no sandbox as root, no background connections to Google, which this machine's
# closed network refuses); headless is each driver's own switch.
ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage")
WINDOW = (1280, 900)


def require(path: str) -> None:
    if not Path(path).exists():
        raise SystemExit(f"{path} is missing: `make setup` installs Debian's chromium and chromium-driver")


class LocalChrome(webdriver.Chrome):
    """Headless Chromium through Selenium's Chrome driver and Debian's chromedriver (no Selenium Manager: both paths
    are given). ``chrome_options``: the caller's (capabilities, arguments), to which the machine's flags are added,
    as the Synthetics runtime adds its own. Screenshots are named as the runtime's ``save_screenshot(filename,
    suffix)`` names them and written to ``screenshots``."""

    def __init__(self, chrome_options: webdriver.ChromeOptions | None = None, *, screenshots: Path) -> None:
        require(CHROMIUM)
        require(CHROMEDRIVER)
        options = chrome_options or webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless", *ARGS, f"--window-size={WINDOW[0]},{WINDOW[1]}"):
            options.add_argument(arg)
        super().__init__(options=options, service=Service(executable_path=CHROMEDRIVER))
        self.screenshots = screenshots

    def save_screenshot(self, filename: Any, suffix: str = "") -> bool:
        """``<screenshots>/<name>[-<suffix>].png`` of the page as it is now."""
        name = Path(str(filename))
        self.screenshots.mkdir(parents=True, exist_ok=True)
        target = self.screenshots / f"{name.stem}{'-' + suffix if suffix else ''}{name.suffix or '.png'}"
        return self.get_screenshot_as_file(str(target))
