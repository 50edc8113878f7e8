"""Helpers of the orders tests: a second orders API process with some of its environment changed, and the products
read model's row of a product (read, or forgotten as if the product predated the read model)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg

from config.topology import Service
from tools.local.local_platform import SERVICES_DIR, LocalPlatform, free_port
from tools.local.testkit import wait_until


@contextmanager
def orders_api(platform: LocalPlatform, **env: str) -> Iterator[str]:
    """A second orders API process with some of its environment changed; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "orders.app:app", "--port", str(port)],
                            cwd=SERVICES_DIR, env={**platform.env_for(Service.ORDERS), **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(base + "/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, what="second orders API")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def read_model(platform: LocalPlatform, pid: str) -> tuple[Any, ...] | None:
    """(price_cents, currency, status, version) of the product in orders' read model, None if unknown to it."""
    with psycopg.connect(platform.orders_dsn()) as conn:
        return conn.execute("SELECT price_cents, currency, status, version FROM product_read_model "
                            "WHERE product_id = %s", (pid,)).fetchone()


def forget_product(platform: LocalPlatform, pid: str) -> None:
    """Make orders' read model not know the product (as if created before orders subscribed to ProductCreated), so
    that the next order of it asks the products service. Waits for its ProductCreated first: arriving later, it
    would bring the row back."""
    wait_until(lambda: read_model(platform, pid) is not None, what=f"ProductCreated of {pid} in the read model")
    with psycopg.connect(platform.orders_dsn()) as conn:
        conn.execute("DELETE FROM product_read_model WHERE product_id = %s", (pid,))
