"""Service throughput beside its real ceilings (`make bench-services`); prints figures and writes
cdk.out/bench/services.json, asserts nothing.

On the local platform (processes mode), the load generator is `wrk` (C; a Lua script gives every POST its own
Idempotency-Key), at one concurrency, for a fixed duration per run, with the services' workers stopped (their
cascade of events would otherwise run during the measurement and spill into the next one):
  - GET /products/{id} beside its framework ceiling: the same route in bench_stub.py, synchronous, no I/O, same
    middleware and response model, served by the same uvicorn command with the API pod's environment;
  - POST /orders beside its framework ceiling (the stub: same authentication, body model and required header) and
    its database ceiling: `pgbench -M extended` running the endpoint's own statements (orders/service.py's SQL, the
    same pipelining) at the same concurrency against the same server.
The variants run interleaved, 3 rounds; each figure is the median of its 3 runs. Besides req/s and latency, the
CPU each process used per request (utime+stime from /proc before and after; PostgreSQL's backends included; wrk's
and pgbench's from their rusage): on a shared machine the stable figure.

Then the pipeline, with every worker running: orders placed at a fixed rate-free concurrency, and how many reach a
terminal state (CONFIRMED needs a payment nobody sends here; RESERVED is the last state the platform reaches on its
own, so an order counts when RESERVED or REJECTED) per second, with CPU per order per process.

The services talk to each other as in the cluster; the bench sends straight to each API process's own port (not the
local platform's Python TCP proxy in front of it, a harness part with no counterpart in AWS). Absolute numbers
depend on the machine and on moto (an in-memory emulator, not DynamoDB); the throwaway PostgreSQL runs with
fsync=off for the service and pgbench alike.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from config.topology import Service
from tools.bench.profile import Profiler, summarize
from tools.local.local_platform import ROOT, SERVICES_DIR, LocalPlatform, free_port, pg_bindir
from tools.local.pod_runner import PROCESSES

OUT = ROOT / "cdk.out" / "bench"
TICKS = os.sysconf("SC_CLK_TCK")
ROUNDS = 3

WRK_SCRIPT = """
local counter = 0
local thread_id = 0
local threads = {}
local run = "%(run)s"
function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
  table.insert(threads, thread)
end
function init(args)
  tid = wrk.thread:get("tid")
end
function request()
  counter = counter + 1
  %(keyed)s
  return wrk.format(nil, nil, headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %%d, "duration_us": %%d, "errors": %%d, "p50_ms": %%.3f, "p99_ms": %%.3f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk_script(method: str, headers: dict[str, str], body: str | None, idempotency_key: bool) -> str:
    """wrk's Lua: the request, and every request its own Idempotency-Key when asked (run id, thread, counter)."""
    lines = [f"wrk.method = {json.dumps(method)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    keyed = ('headers = {}; for k, v in pairs(wrk.headers) do headers[k] = v end; '
             'headers["Idempotency-Key"] = run .. "-" .. tid .. "-" .. counter') if idempotency_key else \
        "headers = wrk.headers"
    return "\n".join(lines) + WRK_SCRIPT % {"run": uuid.uuid4().hex, "keyed": keyed}


# --- CPU from /proc -------------------------------------------------------------------------------------------
def proc_cpu(pid: int, children: bool = False) -> float:
    """Seconds of CPU (user + system) the process used; ``children``: plus its reaped children's."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICKS


def child_pids(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def tree_cpu(pid: int) -> float:
    """A process with its live descendants and what its exited children used (PostgreSQL: the postmaster, every
    backend and the backends that closed meanwhile)."""
    return proc_cpu(pid, children=True) + sum(tree_cpu(c) for c in child_pids(pid))


@dataclass
class Processes:
    """The processes whose CPU is counted: name -> pid."""

    pids: dict[str, int]

    def sample(self) -> dict[str, float]:
        sample = {name: tree_cpu(pid) for name, pid in self.pids.items()}
        sample["harness (bench process: telemetry collector)"] = proc_cpu(os.getpid())
        return sample


def platform_processes(platform: LocalPlatform, workers: bool) -> dict[str, int]:
    pids = {name: p.pid for name, p in platform.procs if name in ("moto", "token-endpoint")}
    for name, pod in platform.pods.items():
        if pod.proc is not None and pod.proc.poll() is None and (workers or name.endswith("-api")):
            pids[name] = pod.proc.pid
    pids["postgresql"] = int((platform.pg.dir / "data" / "postmaster.pid").read_text().split()[0]) \
        if (platform.pg.dir / "data" / "postmaster.pid").exists() else postmaster_pid(platform)
    return pids


def postmaster_pid(platform: LocalPlatform) -> int:
    found = list(platform.pg.dir.rglob("postmaster.pid"))
    if not found:
        raise RuntimeError(f"no postmaster.pid under {platform.pg.dir}")
    return int(found[0].read_text().split()[0])


@dataclass
class Run:
    name: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float | None
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def cpu_ms_per_request(self) -> dict[str, float]:
        n = max(1, self.requests)
        return {k: round(1000 * v / n, 3) for k, v in sorted(self.cpu_s.items(), key=lambda kv: -kv[1]) if v > 0}


def measured(name: str, procs: Processes, load: Callable[[], tuple[Run, float]],
             settle: Callable[[], None] | None = None) -> Run:
    """Run ``load`` (which returns its figures and its own tool's CPU seconds) between two CPU samples; ``settle``
    waits, before the second sample, for the work the requests left behind (orders' publish after commit), so its
    CPU counts here rather than in the next variant."""
    before = procs.sample()
    result, tool_cpu = load()
    if settle is not None:
        settle()
    after = procs.sample()
    result.cpu_s = {k: after[k] - before.get(k, 0.0) for k in after}
    result.cpu_s[name.split(":")[0] if ":" in name else "load generator"] = tool_cpu
    return result


def run_tool(cmd: list[str], env: dict[str, str] | None = None) -> tuple[str, float]:
    """Run a load tool to completion; its stdout and the CPU seconds it used (its rusage)."""
    # argv: wrk / pgbench with our own arguments
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # noqa: S603
    out, err = proc.communicate()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err[-2000:]}")
    return out, usage.ru_utime + usage.ru_stime


def wrk(name: str, url: str, script: str, concurrency: int, seconds: int, procs: Processes,
        settle: Callable[[], None] | None = None) -> Run:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)

    def load() -> tuple[Run, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out, after = run_tool(["wrk", "-t", "2", "-c", str(concurrency), "-d", f"{seconds}s", "--timeout", "10s",
                               "-s", f.name, url])
        figures = json.loads(out.strip().splitlines()[-1])
        return (Run(name, figures["requests"], figures["duration_us"] / 1e6, figures["errors"], figures["p50_ms"],
                    figures["p99_ms"]), after - (before.ru_utime + before.ru_stime))

    try:
        return measured("wrk: " + name, procs, load, settle)
    finally:
        Path(f.name).unlink()


def pgbench_script() -> tuple[str, str]:
    """POST /orders' transaction as OrderService.place runs it, one order line: the Idempotency-Key lookup and the
    products read model's row in one pipeline (OrderService.lookup), then BEGIN and the inserts in one pipeline,
    then COMMIT. Its SQL comes from orders/service.py; each %s becomes a pgbench variable, sent as a parameter
    (-M extended) as psycopg sends it. Returns the script and the event id its outbox rows carry (they are deleted
    after the run: nobody publishes them)."""
    sys.path.insert(0, str(SERVICES_DIR))
    from common.envelope import Envelope
    from common.pg import OUTBOX_INSERT
    from orders.service import FIND_KEY, PLACE_KEY, PLACE_ORDER, READ_PRODUCTS, place_lines_sql

    def bind(sql: str, *values: str) -> str:
        parts = sql.split("%s")
        assert len(parts) == len(values) + 1, sql
        return "".join(p + v for p, v in zip(parts, [*values, ""], strict=True)) + ";"

    order_id = "md5(:n::text)::uuid"
    outbox = OUTBOX_INSERT + ", ".join(["(%s, %s, %s, %s)"] * 2)
    # pgbench variables are numbers: the envelope (an OrderPlaced of one line, as the service writes it) is a literal
    envelope = Envelope(type="OrderPlaced", source="orders", data={
        "order_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "total_cents": 100, "currency": "USD",
        "lines": [{"product_id": str(uuid.uuid4()), "quantity": 1, "unit_price_cents": 100}]})
    payload = "'" + json.dumps(envelope.to_dict()).replace("'", "''") + "'::jsonb"
    return "\n".join([
        r"\set n random(1, 1000000000000)",
        r"\startpipeline",
        bind(FIND_KEY, ":customer", ":n::text"),
        bind(READ_PRODUCTS, "ARRAY['bench-product']"),
        r"\endpipeline",
        r"\startpipeline",
        "BEGIN;",
        bind(PLACE_ORDER, order_id, ":customer", "100", "'USD'", "3600", "NULL"),
        bind(place_lines_sql(1), order_id, "'bench-product'", "1", "100", "1"),
        bind(PLACE_KEY, ":customer", ":n::text", "'hash'", order_id),
        bind(outbox, "md5(:n::text || 'a')::uuid", "'TOPIC_ARN_ORDER_EVENTS'", "'OrderPlaced'", payload,
             "md5(:n::text || 'b')::uuid", "'QUEUE_URL_INVENTORY_RESERVATIONS'", "'ReserveStock'", payload),
        r"\endpipeline",
        "COMMIT;",
    ]).replace(":customer", "'bench-customer'") + "\n", envelope.id


def pgbench(platform: LocalPlatform, concurrency: int, seconds: int, procs: Processes) -> Run:
    script, event_id = pgbench_script()
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    Path(f.name).chmod(0o644)
    cmd = [str(pg_bindir("pgbench") / "pgbench"), "-n", "-M", "extended", "-f", f.name, "-c", str(concurrency),
           "-j", "2", "-T", str(seconds), "-r", "-h", "127.0.0.1", "-p", str(platform.pg.port), "-U", "orders",
           "orders"]

    def load() -> tuple[Run, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out, after = run_tool(cmd, env={"PGPASSWORD": platform.db_password, "PATH": "/usr/bin:/bin"})
        tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
        lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
        n = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))  # type: ignore[union-attr]
        failed = re.search(r"number of failed transactions: (\d+)", out)
        # pgbench reports the mean latency only: shown as p50, p99 unknown.
        return (Run("pgbench", n, n / tps if tps else 0.0, int(failed.group(1)) if failed else 0, lat, None),
                after - (before.ru_utime + before.ru_stime))

    try:
        return measured("pgbench: POST /orders' transaction", procs, load)
    finally:
        Path(f.name).unlink()
        import psycopg

        with psycopg.connect(platform.orders_dsn(), autocommit=True) as conn:
            conn.execute("DELETE FROM outbox WHERE published_at IS NULL AND payload->>'id' = %s", (event_id,))


def start_stub(platform: LocalPlatform, service: Service) -> tuple[subprocess.Popen[bytes], str]:
    """The service's stub (tools/bench/bench_stub.py) with the API pod's command and environment, on a port of its
    own."""
    pod = platform.pods[f"{service.value}-api"]
    assert pod.proc is not None
    argv = [str(a) for a in pod.proc.args]  # type: ignore[union-attr]
    port = free_port()
    argv = [f"tools.bench.bench_stub:{service.value}" if a == f"{service.value}.app:app" else a for a in argv]
    argv = [str(port) if prev == "--port" else a for prev, a in zip(["", *argv[:-1]], argv, strict=True)]
    env = {**platform.env_for(service), "PYTHONPATH": f"{SERVICES_DIR}{os.pathsep}{ROOT}"}
    log = (platform.logdir / f"{service.value}-stub.log").open("ab")
    # argv: the API pod's own command, its app module swapped for the stub's
    proc = subprocess.Popen(argv, cwd=SERVICES_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{service.value} stub exited:\n{platform.log_tail(f'{service.value}-stub')}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{service.value} stub not ready")


def outbox_drained(platform: LocalPlatform, timeout: float = 120) -> Callable[[], None]:
    """Waits until orders has published every outbox row (its after-commit flusher), at most ``timeout`` s."""
    import psycopg

    def wait() -> None:
        deadline = time.monotonic() + timeout
        with psycopg.connect(platform.orders_dsn(), autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()
                if not row or not row[0]:
                    return
                time.sleep(0.1)

    return wait


def api_url(platform: LocalPlatform, service: Service) -> str:
    """The API process's own port, past the local platform's readiness proxy."""
    port = platform.pods[f"{service.value}-api"].internal_port
    return f"http://127.0.0.1:{port}"


def median_run(runs: list[Run]) -> dict[str, object]:
    cpu_names = {k for r in runs for k in r.cpu_s}
    per_request = {k: round(statistics.median(r.cpu_ms_per_request().get(k, 0.0) for r in runs), 3)
                   for k in cpu_names}
    return {
        "req_per_s": round(statistics.median(r.rps for r in runs), 1),
        "p50_ms": round(statistics.median(r.p50_ms for r in runs), 2),
        "p99_ms": (round(statistics.median(r.p99_ms for r in runs if r.p99_ms is not None), 2)
                   if all(r.p99_ms is not None for r in runs) else None),
        "errors": sum(r.errors for r in runs),
        "runs_req_per_s": [round(r.rps, 1) for r in runs],
        "cpu_ms_per_request": dict(sorted(((k, v) for k, v in per_request.items() if v > 0),
                                          key=lambda kv: -kv[1])),
        "cpu_ms_per_request_total": round(sum(per_request.values()), 3),
    }


def pipeline(platform: LocalPlatform, user_headers: dict[str, str], pid: str, concurrency: int,
             seconds: int) -> dict[str, object]:
    """Every worker running: orders placed for ``seconds`` by wrk, then how long until each reached a terminal
    state of the platform's own (RESERVED, REJECTED or CANCELLED: CONFIRMED needs a payment nobody sends here);
    orders per second over the whole span. The endpoint measurement's orders (placed with workers stopped) are
    closed and their messages purged first, so only this run's orders flow."""
    import psycopg

    dsn = platform.orders_dsn()
    sqs = platform.client("sqs")
    for url in platform.resources.queue_urls.values():
        sqs.purge_queue(QueueUrl=url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE orders SET status = 'CANCELLED', reason = 'bench: endpoint run' "
                     "WHERE status IN ('PENDING', 'RESERVED')")
        conn.execute("UPDATE outbox SET published_at = now() WHERE published_at IS NULL")
        t0 = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
    for name, pod in platform.pods.items():
        if name.endswith("-worker") and pod.proc is None:
            pod.start()
    admin = {"Authorization": f"Bearer {platform.user_token('bench-admin@example.com', groups=('admin',))}"}
    inventory = api_url(platform, Service.INVENTORY)
    deadline = time.monotonic() + 60
    while httpx.get(f"{inventory}/inventory/{pid}", headers=admin).status_code != 200:
        if time.monotonic() > deadline:
            raise SystemExit("the product's stock record never appeared (products' relay -> inventory)")
        time.sleep(0.2)
    httpx.post(f"{inventory}/inventory/{pid}/adjust", headers=admin, json={"delta": 1_000_000}).raise_for_status()
    procs = Processes(platform_processes(platform, workers=True))
    orders = api_url(platform, Service.ORDERS)
    script = wrk_script("POST", {**user_headers, "Content-Type": "application/json"},
                        json.dumps({"lines": [{"product_id": pid, "quantity": 1}]}), idempotency_key=True)

    def open_count() -> int:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(*) FROM orders WHERE status = 'PENDING' AND created_at >= %s",
                               (t0,)).fetchone()
        return int(row[0]) if row else 0

    before = procs.sample()
    start = time.monotonic()
    placed = wrk("POST /orders (pipeline)", orders + "/orders", script, concurrency, seconds, procs)
    deadline = time.monotonic() + 300
    while open_count() and time.monotonic() < deadline:
        time.sleep(0.2)
    elapsed = time.monotonic() - start
    after = procs.sample()
    with psycopg.connect(dsn) as conn:
        rows = {str(k): int(v) for k, v in conn.execute(
            "SELECT status, count(*) FROM orders WHERE created_at >= %s GROUP BY status", (t0,)).fetchall()}
    done = sum(n for status, n in rows.items() if status != "PENDING")
    cpu = {k: after[k] - before.get(k, 0.0) for k in after}
    cpu["wrk"] = placed.cpu_s.get("wrk", 0.0)
    return {
        "orders_placed": placed.requests,
        "orders_terminal": done,
        "seconds": round(elapsed, 2),
        "orders_per_s": round(done / elapsed, 1) if elapsed else 0.0,
        "states": rows,
        "cpu_ms_per_order": {k: round(1000 * v / max(1, done), 3) for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])
                             if v > 0},
        "cpu_ms_per_order_total": round(1000 * sum(cpu.values()) / max(1, done), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.bench_services", description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--pipeline-seconds", type=int, default=15)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", action="append", default=[], metavar="VARIANT",
                        help="run only these variants (repeatable; e.g. 'POST /orders'); ratios need both sides")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the pipeline benchmark")
    parser.add_argument("--profile", action="store_true",
                        help="sample the APIs and stubs with py-spy during the endpoint runs (tools/bench/profile.py) "
                             "into OUT/profile/; the sampler's own CPU loads the machine, so compare figures of "
                             "runs without it")
    args = parser.parse_args(argv)
    c, s = args.concurrency, args.seconds
    with LocalPlatform(free_ports=True, mode=PROCESSES, start_workers=False, edge=False) as platform:
        admin = {"Authorization": f"Bearer {platform.user_token('bench-admin@example.com', groups=('admin',))}"}
        user = {"Authorization": f"Bearer {platform.user_token('bench-user@example.com')}"}
        products, orders = api_url(platform, Service.PRODUCTS), api_url(platform, Service.ORDERS)
        pid = httpx.post(f"{products}/products", headers=admin, json={"name": "Bench", "price_cents": 100}
                         ).json()["product_id"]
        stubs = [start_stub(platform, Service.PRODUCTS), start_stub(platform, Service.ORDERS)]
        try:
            pids = platform_processes(platform, workers=False)
            pids["products-stub"], pids["orders-stub"] = stubs[0][0].pid, stubs[1][0].pid
            procs = Processes(pids)
            body = json.dumps({"lines": [{"product_id": pid, "quantity": 1}]})
            post = {**user, "Content-Type": "application/json"}
            variants: dict[str, Callable[[], Run]] = {
                "GET /products/{id}": lambda: wrk("GET /products/{id}", f"{products}/products/{pid}",
                                                  wrk_script("GET", {}, None, False), c, s, procs),
                "GET /products/{id} stub": lambda: wrk("stub", f"{stubs[0][1]}/products/{pid}",
                                                       wrk_script("GET", {}, None, False), c, s, procs),
                "POST /orders": lambda: wrk("POST /orders", f"{orders}/orders",
                                            wrk_script("POST", post, body, True), c, s, procs,
                                            outbox_drained(platform)),
                "POST /orders stub": lambda: wrk("stub", f"{stubs[1][1]}/orders",
                                                 wrk_script("POST", post, body, True), c, s, procs),
                "pgbench (POST /orders' transaction)": lambda: pgbench(platform, c, s, procs),
            }
            warm = ((f"{orders}/orders", wrk_script("POST", post, body, True)),
                    (f"{stubs[1][1]}/orders", wrk_script("POST", post, body, True)),
                    (f"{products}/products/{pid}", wrk_script("GET", {}, None, False)),
                    (f"{stubs[0][1]}/products/{pid}", wrk_script("GET", {}, None, False)))
            for url, script in warm:  # warm-up: connections, JWKS and token caches, pools, imports
                with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                    f.write(script)
                subprocess.run(["wrk", "-t", "1", "-c", "4", "-d", "2s", "-s", f.name, url],  # noqa: S603, S607
                               capture_output=True)
                Path(f.name).unlink()
            if args.only:
                unknown = set(args.only) - set(variants)
                if unknown:
                    parser.error(f"unknown variant(s) {sorted(unknown)}; known: {sorted(variants)}")
                variants = {k: v for k, v in variants.items() if k in args.only}
            runs: dict[str, list[Run]] = {name: [] for name in variants}
            profiler = Profiler(args.out / "profile") if args.profile else None
            if profiler is not None:
                for name, p in pids.items():
                    if name.endswith(("-api", "-stub")):
                        profiler.attach(name, p)
            for _ in range(ROUNDS):  # interleaved: a slow moment of the machine hits every variant alike
                for name, fn in variants.items():
                    runs[name].append(fn())
            if profiler is not None:
                for path in profiler.stop():
                    print("\n".join(summarize(path, top=20)))
        finally:
            for proc, _ in stubs:
                proc.terminate()
                proc.wait(20)
        results = {name: median_run(r) for name, r in runs.items()}
        flow = None if args.no_pipeline else pipeline(platform, user, pid, c, args.pipeline_seconds)

    def ratio(a: str, b: str) -> float | None:
        if a not in results or b not in results:
            return None
        return round(float(results[a]["req_per_s"]) / float(results[b]["req_per_s"]), 3)  # type: ignore[arg-type]

    report = {
        "machine": {"cpus": os.cpu_count(), "platform": sys.platform, "load": os.getloadavg()},
        "command": "make bench-services",
        "concurrency": c, "seconds_per_run": s, "rounds": ROUNDS,
        "endpoints": results,
        "get_product_vs_stub_ceiling": ratio("GET /products/{id}", "GET /products/{id} stub"),
        "post_orders_vs_stub_ceiling": ratio("POST /orders", "POST /orders stub"),
        "post_orders_vs_db_ceiling": ratio("POST /orders", "pgbench (POST /orders' transaction)"),
        "pipeline": flow,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "services.json").write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    return 0


def print_report(report: dict[str, object]) -> None:
    print(f"\nconcurrency {report['concurrency']}, {report['seconds_per_run']} s per run, median of "
          f"{report['rounds']} interleaved runs, {report['machine']}, workers stopped\n")
    print(f"{'endpoint':40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU ms/req':>11}")
    endpoints: dict[str, dict[str, object]] = report["endpoints"]  # type: ignore[assignment]
    for name, r in endpoints.items():
        p99 = "-" if r["p99_ms"] is None else f"{r['p99_ms']:.1f}"
        mark = "*" if r["p99_ms"] is None else ""
        print(f"{name:40} {r['req_per_s']:9.1f} {str(r['p50_ms']) + mark:>8} {p99:>8} {r['errors']:>7} "
              f"{r['cpu_ms_per_request_total']:>11.2f}")
    print("* pgbench reports the mean latency only\n\nCPU ms per request, per process:")
    for name, r in endpoints.items():
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_ms_per_request"].items())  # type: ignore[attr-defined]
        print(f"  {name}: {cpu}")
    flow: dict[str, object] | None = report["pipeline"]  # type: ignore[assignment]
    if flow is not None:
        print_pipeline(flow)
    for label, key in (("GET /products/{id} / its stub (framework ceiling):   ", "get_product_vs_stub_ceiling"),
                       ("POST /orders / its stub (framework ceiling):         ", "post_orders_vs_stub_ceiling"),
                       ("POST /orders / pgbench, same transaction (DB ceiling):", "post_orders_vs_db_ceiling")):
        value = report[key]
        print(f"{label} {'-' if value is None else f'{value:.3f}'}")
    print("written: cdk.out/bench/services.json")


def print_pipeline(flow: dict[str, object]) -> None:
    print(f"\npipeline (every worker running): {flow['orders_terminal']} of {flow['orders_placed']} orders terminal "
          f"in {flow['seconds']} s = {flow['orders_per_s']} orders/s; CPU ms per order "
          f"{flow['cpu_ms_per_order_total']}:")
    print("  " + ", ".join(f"{k} {v:.2f}" for k, v in flow["cpu_ms_per_order"].items()))  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
