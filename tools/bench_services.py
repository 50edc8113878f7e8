"""Service throughput beside its ceilings (`make bench-services`); prints figures only, asserts nothing.

On the local platform, at a fixed concurrency, for a fixed duration each:
  - GET /products/{id} (products -> DynamoDB in moto) beside GET /healthz of the same server (framework ceiling);
  - POST /orders (orders -> products over REST -> PostgreSQL transaction with outbox rows) beside GET /healthz of
    the orders server and `pgbench` single-row inserts at the same concurrency (database ceiling).
Ratios say how much of each ceiling the endpoint reaches. Absolute numbers depend on the machine and on moto
(an in-memory emulator, not DynamoDB); the throwaway cluster runs with fsync=off for both the service and pgbench.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from config.topology import Service
from tools.local_platform import LocalPlatform, add_mode_arguments, pg_bindir


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))]


async def _load(name: str, make_request: Callable[[httpx.AsyncClient], object], concurrency: int,
                seconds: float) -> Result:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                resp = await make_request(client)  # type: ignore[misc]
                latencies.append((time.perf_counter() - t0) * 1000)
                if resp.status_code >= 400:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return Result(name, len(latencies), errors, elapsed, latencies)


def pgbench(platform: LocalPlatform, concurrency: int, seconds: int) -> Result:
    import psycopg

    with psycopg.connect(platform.orders_dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, payload text, "
                     "created_at timestamptz DEFAULT now())")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("INSERT INTO bench_insert (payload) VALUES ('x');\n")
        script = f.name
    Path(script).chmod(0o644)
    cmd = [str(pg_bindir("pgbench") / "pgbench"), "-n", "-f", script, "-c", str(concurrency), "-j", "2",
           "-T", str(seconds), "-h", "127.0.0.1", "-p", str(platform.pg.port), "-U", "orders", "orders"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,  # noqa: S603 - fixed argv
                         env={"PGPASSWORD": platform.db_password, "PATH": "/usr/bin:/bin"}).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    n = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))  # type: ignore[union-attr]
    # pgbench reports the mean only; it is shown in the p50 column, marked.
    return Result("pgbench INSERT (1 row)", n, 0, n / tps if tps else 0.0, [lat])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_services", description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    add_mode_arguments(parser)
    args = parser.parse_args(argv)
    c, s = args.concurrency, args.seconds
    with LocalPlatform(free_ports=True, mode=args.mode, assembly=args.assembly) as platform:
        admin = {"Authorization": f"Bearer {platform.user_token('bench-admin@example.com', groups=('admin',))}"}
        user = {"Authorization": f"Bearer {platform.user_token('bench-user@example.com')}"}
        products, orders = platform.url(Service.PRODUCTS), platform.url(Service.ORDERS)
        pid = httpx.post(f"{products}/products", headers=admin, json={"name": "Bench", "price_cents": 100}
                         ).json()["product_id"]
        deadline = time.monotonic() + 30
        while httpx.get(f"{platform.url(Service.INVENTORY)}/inventory/{pid}", headers=admin).status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("stock record never appeared")
            time.sleep(0.2)
        httpx.post(f"{platform.url(Service.INVENTORY)}/inventory/{pid}/adjust", headers=admin,
                   json={"delta": 1_000_000})
        body = {"lines": [{"product_id": pid, "quantity": 1}]}

        def order(client: httpx.AsyncClient) -> object:
            return client.post(f"{orders}/orders", json=body,
                               headers={**user, "Idempotency-Key": str(uuid.uuid4())})

        runs = [
            ("products: GET /healthz (no-op)", lambda cl: cl.get(f"{products}/healthz")),
            ("products: GET /products/{id}", lambda cl: cl.get(f"{products}/products/{pid}")),
            ("orders: GET /healthz (no-op)", lambda cl: cl.get(f"{orders}/healthz")),
            ("orders: POST /orders", order),
        ]
        results: dict[str, Result] = {}
        for name, fn in runs:
            asyncio.run(_load(name, fn, c, 1.0))  # warm-up: connections, JWKS cache, pools
            results[name] = asyncio.run(_load(name, fn, c, s))
        results["pgbench"] = pgbench(platform, c, s)

    print(f"\nconcurrency {c}, {s} s per run, {sys.platform}, single uvicorn worker per service\n")
    print(f"{'endpoint':36} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for r in results.values():
        p50 = f"{r.pct(0.5):.1f}" + ("*" if r.name.startswith("pgbench") else "")
        p99 = "-" if r.name.startswith("pgbench") else f"{r.pct(0.99):.1f}"
        print(f"{r.name:36} {r.rps:9.1f} {p50:>8} {p99:>8} {r.errors:>7}")
    print("* pgbench reports mean latency only")
    get, get_ceiling = results["products: GET /products/{id}"], results["products: GET /healthz (no-op)"]
    post, post_ceiling = results["orders: POST /orders"], results["orders: GET /healthz (no-op)"]
    db = results["pgbench"]
    print(f"\nGET /products/{{id}} / framework ceiling: {get.rps / get_ceiling.rps:.2f}")
    print(f"POST /orders / framework ceiling:       {post.rps / post_ceiling.rps:.2f}")
    print(f"POST /orders / pgbench insert ceiling:  {post.rps / db.rps:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
