"""Orders and its PostgreSQL, against the local platform's real server: a rotated password is read again without
dropping healthy connections; an idle platform holds no connection (dev's Aurora Serverless v2 can pause)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import psycopg

from config.topology import Service
from orders.db import SecretConninfo, open_pool
from orders.settings import psycopg_conninfo
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import CONFIG, Api, UserSession, wait_status, wait_until


def test_rotated_password_is_read_again_and_open_connections_stay(platform: LocalPlatform) -> None:
    """Secrets Manager rotation changes the role's password, then the secret; a pool that read the secret once would
    fail every new connection until restarted."""
    user, old, new = f"rotation_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex, uuid.uuid4().hex
    with psycopg.connect(platform.pg.dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{old}'")
    secret = {"engine": "postgres", "host": "127.0.0.1", "port": platform.pg.port, "username": user,
              "password": old, "dbname": "postgres"}
    sm = platform.client("secretsmanager")
    arn = sm.create_secret(Name=f"{user}/db", SecretString=json.dumps(secret))["ARN"]
    source = SecretConninfo(lambda: psycopg_conninfo(json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])))
    pool = open_pool(source, max_size=3, max_idle=60)
    try:
        with pool.connection() as held:
            before = held.execute("SELECT pg_backend_pid()").fetchone()
            # what the rotation function does: set the new password on the role, then make it the secret's current
            with psycopg.connect(platform.pg.dsn(), autocommit=True) as admin:
                admin.execute(f"ALTER ROLE {user} PASSWORD '{new}'")
            sm.put_secret_value(SecretId=arn, SecretString=json.dumps({**secret, "password": new}))
            with pool.connection(timeout=10) as fresh:  # `held` is taken: the pool has to connect anew
                assert fresh.execute("SELECT current_user").fetchone() == (user,)
            # the healthy connection opened with the old password was not dropped
            assert held.execute("SELECT pg_backend_pid()").fetchone() == before
        assert source.reads == 2  # once at first use, once when the server refused the old password
    finally:
        pool.close()


def test_idle_platform_holds_no_database_connection(platform: LocalPlatform, api: Api,
                                                    new_user: Callable[[], UserSession],
                                                    make_product: Callable[..., str]) -> None:
    """After work, the orders API and worker pools close their idle connections (max_idle from config) and nothing
    polls: no readiness query, no relay polling, no sweep before the sweep interval or an order's deadline."""
    pid = make_product(stock=2)
    user = new_user()
    r = api.call("POST", Service.ORDERS, "/orders", user.order_headers(),
                 json={"lines": [{"product_id": pid, "quantity": 1}]})
    assert r.status_code == 201, r.text
    wait_status(api, user, r.json()["order_id"], "RESERVED")

    def held() -> int:
        with psycopg.connect(platform.pg.dsn(), autocommit=True) as admin:
            row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'orders'").fetchone()
        return int(row[0]) if row else 0

    assert held() > 0  # the work just done left pooled connections behind
    wait_until(lambda: held() == 0, timeout=90, what="every orders connection closed")
    # and it stays so: the API's readiness answers without a query, and the worker does not poll
    for _ in range(3):
        assert api.call("GET", Service.ORDERS, "/readyz").status_code == 200
    time.sleep(2 * CONFIG.orders.db_pool_max_idle_seconds + 1)
    assert held() == 0
