"""`make bench-services`' database ceiling runs POST /orders' own transaction in pgbench: the script, built from
orders/service.py's statements, runs against the migrated schema and writes what OrderService.place writes."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import psycopg

from tools.bench.bench_services import pgbench_script
from tools.local.local_platform import LocalPlatform, pg_bindir


def test_the_ceiling_transaction_writes_what_an_order_writes(platform: LocalPlatform) -> None:
    script, event_id = pgbench_script()
    assert "%s" not in script and r"\startpipeline" in script
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    Path(f.name).chmod(0o644)
    with psycopg.connect(platform.orders_dsn(), autocommit=True) as conn:
        before = conn.execute("SELECT count(*) FROM orders WHERE customer_id = 'bench-customer'").fetchone()
        r = subprocess.run([str(pg_bindir("pgbench") / "pgbench"), "-n", "-M", "extended", "-f", f.name, "-t", "3",
                            "-h", "127.0.0.1", "-p", str(platform.pg.port), "-U", "orders", "orders"],
                           capture_output=True, text=True, env={"PGPASSWORD": platform.db_password})
        Path(f.name).unlink()
        assert r.returncode == 0, r.stderr
        assert "number of failed transactions: 0" in r.stdout
        rows = conn.execute(
            "SELECT o.status, (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id), "
            "(SELECT count(*) FROM idempotency_keys k WHERE k.order_id = o.id) FROM orders o "
            "WHERE o.customer_id = 'bench-customer'").fetchall()
        outbox = conn.execute("SELECT type FROM outbox WHERE payload->>'id' = %s", (event_id,)).fetchall()
        conn.execute("DELETE FROM outbox WHERE payload->>'id' = %s", (event_id,))  # nobody could publish these
    assert before is not None and len(rows) == before[0] + 3
    assert set(rows) == {("PENDING", 1, 1)}
    assert sorted(t for (t,) in outbox) == ["OrderPlaced"] * 3 + ["ReserveStock"] * 3
