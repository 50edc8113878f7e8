"""`make load [ENV=...] USERS=n DURATION=s`: the load scenario (tools/load/scenario.py) with Locust, headless.

Without ENV it runs here against `make local` (its edge and smoke accounts, .local/edge.env and .local/smoke.env).
With ENV=<env> it is what the Kubernetes Job runs inside the cluster (``--from-environment``: the stage as the smoke
job and the canary see it, ``BASE_URL``, ``API_KEY_ID``, ``SMOKE_SECRET``, ``PAYMENT_TOPIC``), its results written to
``RESULTS_URI`` (s3://bucket/key) besides stdout. Prod is refused unless ``--allow-prod`` (``ALLOW_PROD=yes``).

Results: per route, requests, failures, requests/s and p50/p95/p99 latency; errors by route and cause; orders
placed, how they ended and how many reached CONFIRMED per second, with the seconds from placement to the end. As
JSON (``--out``) and a short report on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from locust.env import Environment

from tools.load import scenario
from tools.local import smoke

LOCAL_DIR = Path(__file__).resolve().parents[2] / ".local"
PERCENTILES = (0.5, 0.95, 0.99)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def results(env: Environment, run: scenario.Run, seconds: float, users: int) -> dict[str, Any]:
    routes = {}
    for (name, _method), entry in sorted(env.stats.entries.items()):
        routes[name] = {"requests": entry.num_requests, "failures": entry.num_failures,
                        "requests_per_second": round(entry.num_requests / seconds, 2),
                        **{f"p{int(q * 100)}_ms": entry.get_response_time_percentile(q) for q in PERCENTILES}}
    total = env.stats.total
    errors = [{"route": e.name, "error": str(e.error), "count": e.occurrences}
              for e in sorted(env.stats.errors.values(), key=lambda e: -e.occurrences)]
    o = run.outcomes
    return {
        "users": users, "seconds": round(seconds, 1), "base_url": run.stage.base_url,
        "total": {"requests": total.num_requests, "failures": total.num_failures,
                  "requests_per_second": round(total.num_requests / seconds, 2),
                  **{f"p{int(q * 100)}_ms": total.get_response_time_percentile(q) for q in PERCENTILES}},
        "routes": routes, "errors": errors,
        "orders": {"placed": o.placed, "ended": dict(sorted(o.ended.items())), "unfinished": o.unfinished,
                   "confirmed_per_second": round(o.ended.get("CONFIRMED", 0) / seconds, 3),
                   "seconds_to_end": {status: {"p50": _percentile(v, 0.5), "p95": _percentile(v, 0.95)}
                                      for status, v in sorted(o.seconds_to_end.items())}},
    }


def report(r: dict[str, Any]) -> str:
    lines = [f"load: {r['users']} users for {r['seconds']} s against {r['base_url']}",
             f"{'route':34} {'requests':>8} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} (ms)"]
    for name, s in [*r["routes"].items(), ("all", r["total"])]:
        lines.append(f"{name:34} {s['requests']:>8} {s['failures']:>5} {s['requests_per_second']:>7} "
                     f"{s['p50_ms'] or 0:>6.0f} {s['p95_ms'] or 0:>6.0f} {s['p99_ms'] or 0:>6.0f}")
    o = r["orders"]
    ended = ", ".join(f"{k} {v}" for k, v in o["ended"].items()) or "none"
    lines.append(f"orders: {o['placed']} placed; ended {ended}; {o['unfinished']} not ended within "
                 f"{scenario.FOLLOW_TIMEOUT_SECONDS} s; {o['confirmed_per_second']} CONFIRMED/s")
    for status, s in o["seconds_to_end"].items():
        lines.append(f"  placement to {status}: p50 {s['p50']:.1f} s, p95 {s['p95']:.1f} s")
    for e in r["errors"][:10]:
        lines.append(f"error: {e['route']}: {e['error']} x{e['count']}")
    return "\n".join(lines)


def run_load(stage: Any, *, users: int, seconds: float, spawn_rate: float) -> dict[str, Any]:
    run = scenario.prepare(stage)
    env = Environment(user_classes=list(scenario.USER_CLASSES), host=stage.base_url)
    runner = env.create_local_runner()
    started = time.monotonic()
    try:
        runner.start(users, spawn_rate=spawn_rate)
        runner.greenlet.join(timeout=seconds)
        runner.quit()
    finally:
        scenario.clean_up(run)
    return results(env, run, time.monotonic() - started, users)


def _local_environment() -> dict[str, str]:
    edge, local = smoke.read_env_file(LOCAL_DIR / "edge.env"), smoke.read_env_file(LOCAL_DIR / "smoke.env")
    os.environ.update({k: v for k, v in local.items() if k.startswith("AWS_")})
    return {"BASE_URL": edge["EDGE_URL"], "API_KEY": edge["API_KEY"], **local}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60, help="seconds")
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started per second")
    parser.add_argument("--from-environment", action="store_true",
                        help="the stage from BASE_URL, API_KEY_ID, SMOKE_SECRET, PAYMENT_TOPIC (the Job's way)")
    parser.add_argument("--environment-name", default="", help="the stage's environment (prod needs --allow-prod)")
    parser.add_argument("--allow-prod", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("cdk.out/load/results.json"))
    args = parser.parse_args(argv)
    if args.environment_name == "prod" and not args.allow_prod:
        print("load: refusing to load prod; give ALLOW_PROD=yes (--allow-prod) to mean it", file=sys.stderr)
        return 2
    if not 1 <= args.users <= 10_000 or not 1 <= args.duration <= 3 * 3600:
        parser.error("USERS 1 to 10000, DURATION 1 to 10800 s")
    environ = dict(os.environ) if args.from_environment else _local_environment()
    stage = smoke.stage_from_environment(environ)
    r = run_load(stage, users=args.users, seconds=args.duration, spawn_rate=args.spawn_rate)
    text = json.dumps(r, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    if environ.get("RESULTS_URI"):
        import boto3

        bucket, _, key = environ["RESULTS_URI"].removeprefix("s3://").partition("/")
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode(), ContentType="application/json")
    print(report(r))
    print(f"results: {args.out}" + (f" and {environ['RESULTS_URI']}" if environ.get("RESULTS_URI") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
