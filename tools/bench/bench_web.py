"""The storefront's budgets, measured (`make bench-web`); figures printed and written to cdk.out/bench/web.json,
nothing asserted.

1. **Bundle size**: every JavaScript and CSS file of web/dist/assets, gzipped (level 9, as a CDN's best; CloudFront
   picks its own level and serves Brotli where the browser takes it), against the budget of 100 KB.
2. **Catalog time to interactive** in headless Chromium (Debian's, through Playwright), against the storefront and
   platform `make local` serves (processes mode: the services' speed is `make bench-services`' subject): from the
   navigation's start to the storefront's ``catalog-interactive`` mark (web/src/pages/shop.tsx: the first page of
   products is on screen with its buttons), over ``--runs`` cold loads (a new browser context each: empty caches),
   with a catalog of ``--products`` products. Also the load event and the first contentful paint. The budget is 1 s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tools.local.local_platform import ROOT, LocalPlatform
from tools.local.workflows import Client
from tools.web.browser_e2e import launch

DIST = ROOT / "web" / "dist"
OUT = ROOT / "cdk.out" / "bench" / "web.json"
BUNDLE_BUDGET_KB = 100
INTERACTIVE_BUDGET_MS = 1000


def bundle_sizes(dist: Path = DIST) -> dict[str, Any]:
    files = sorted(p for p in (dist / "assets").iterdir() if p.suffix in (".js", ".css"))
    if not files:
        raise SystemExit(f"{dist} holds no built storefront: run `make web`")
    sizes = {p.name: {"bytes": p.stat().st_size, "gzip_bytes": len(gzip.compress(p.read_bytes(), 9, mtime=0))}
             for p in files}
    total = sum(s["gzip_bytes"] for s in sizes.values())
    return {"files": sizes, "gzip_total_bytes": total, "gzip_total_kb": round(total / 1024, 1),
            "budget_kb": BUNDLE_BUDGET_KB}


def catalog_timings(platform: LocalPlatform, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    samples: list[dict[str, float]] = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(platform.web_origin + "/", wait_until="load")
                # Polled from here: wait_for_function evaluates a string in the page, which its CSP refuses.
                deadline = time.monotonic() + 30
                while not page.evaluate("performance.getEntriesByName('catalog-interactive').length > 0"):
                    if time.monotonic() > deadline:
                        raise SystemExit("the catalog never became interactive")
                    page.wait_for_timeout(10)
                samples.append(page.evaluate("""() => {
                    const nav = performance.getEntriesByType('navigation')[0];
                    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                    return {interactive_ms: performance.getEntriesByName('catalog-interactive')[0].startTime,
                            load_ms: nav.loadEventEnd, first_contentful_paint_ms: fcp ? fcp.startTime : -1};
                }"""))
                context.close()
        finally:
            browser.close()

    def summary(key: str) -> dict[str, float]:
        values = sorted(s[key] for s in samples)
        return {"median": round(statistics.median(values), 1), "min": round(values[0], 1),
                "max": round(values[-1], 1)}

    return {"runs": runs, "interactive_ms": summary("interactive_ms"), "load_ms": summary("load_ms"),
            "first_contentful_paint_ms": summary("first_contentful_paint_ms"), "budget_ms": INTERACTIVE_BUDGET_MS,
            "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.bench_web", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--products", type=int, default=24, help="catalog size (the first page shows 24)")
    args = parser.parse_args(argv)
    sizes = bundle_sizes()
    print(f"bundle: {sizes['gzip_total_kb']} KB of JavaScript and CSS gzipped (budget {BUNDLE_BUDGET_KB} KB)",
          flush=True)
    for name, size in sizes["files"].items():
        print(f"  {name}: {size['bytes']} bytes, {size['gzip_bytes']} gzipped", flush=True)
    started = time.monotonic()
    with LocalPlatform(free_ports=True, web=True, name_prefix="bench-web") as platform:
        client = Client(platform)
        for i in range(args.products):
            client.req("POST", "/products", 201, client.admin,
                       json={"name": f"Bench product {i} {uuid.uuid4().hex[:4]}", "price_cents": 100 + i})
        print(f"platform up and {args.products} products in {time.monotonic() - started:.1f} s", flush=True)
        timings = catalog_timings(platform, args.runs)
    t = timings["interactive_ms"]
    print(f"catalog interactive: median {t['median']} ms (min {t['min']}, max {t['max']}) over {args.runs} cold "
          f"loads in headless Chromium (budget {INTERACTIVE_BUDGET_MS} ms); load event median "
          f"{timings['load_ms']['median']} ms, first contentful paint median "
          f"{timings['first_contentful_paint_ms']['median']} ms", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "bundle": sizes,
                               "catalog": timings}, indent=1))
    print(f"written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
