"""The local platform's harness settings: a proxy that goes down and up with clients attached, and moto serving
DynamoDB transactions isolated from concurrent writes (tools/local/moto_server.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from tools.local.local_platform import free_port
from tools.local.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def echo_server() -> Iterator[int]:
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield port
    stop.set()
    t.join(2)
    srv.close()


def echo(port: int, payload: bytes) -> tuple[socket.socket, bytes]:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(payload)
    return s, s.recv(4096)


def test_proxy_goes_down_and_up_twenty_times_with_a_client_attached(echo_server: int) -> None:
    proxy = TcpProxy(echo_server)
    proxy.up()
    port = proxy.port
    try:
        for i in range(20):
            client, answer = echo(port, f"ping {i}".encode())
            assert answer == f"ping {i}".encode()
            proxy.down()
            # the attached client is cut, and nobody can connect while it is down
            client.settimeout(5)
            try:
                assert client.recv(4096) == b""
            except OSError:
                pass
            client.close()
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            proxy.up()
            assert proxy.port == port  # same address each time: clients keep their configuration
        assert proxy.cuts == 20
    finally:
        proxy.down()


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tools.local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_failed_transactions_do_not_wipe_concurrent_writes(moto: str) -> None:
    """moto's own transact_write_items restores a copy of the whole table when a condition fails, erasing writes
    that landed meanwhile; through tools/local/moto_server.py every one of them survives, as in DynamoDB."""

    def client() -> Any:
        return boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    ddb = client()
    ddb.create_table(TableName="isolation", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    ddb.put_item(TableName="isolation", Item={"pk": {"S": "guard"}})
    n = 150
    failures: list[str] = []

    def failing_transactions() -> None:
        c = client()
        for i in range(n):
            try:
                c.transact_write_items(TransactItems=[
                    {"Put": {"TableName": "isolation", "Item": {"pk": {"S": f"tx-{i}"}}}},
                    {"ConditionCheck": {"TableName": "isolation", "Key": {"pk": {"S": "guard"}},
                                        "ConditionExpression": "attribute_not_exists(pk)"}}])
            except ClientError as exc:
                failures.append(exc.response["Error"]["Code"])

    def writes(prefix: str) -> None:
        c = client()
        for i in range(n):
            c.put_item(TableName="isolation", Item={"pk": {"S": f"{prefix}-{i}"}})

    threads = [threading.Thread(target=failing_transactions) for _ in range(2)]
    threads += [threading.Thread(target=writes, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = set()
    for page in ddb.get_paginator("scan").paginate(TableName="isolation"):
        keys |= {item["pk"]["S"] for item in page["Items"]}
    assert failures == ["TransactionCanceledException"] * (2 * n)
    assert keys == {"guard", *(f"{p}-{i}" for p in "ab" for i in range(n))}


def test_a_cancelled_transaction_leaves_nothing_behind(moto: str) -> None:
    """All or nothing, with the launcher's item-level rollback: the items written before the failing condition are
    put back as they were (an update undone, a new item removed), and the rest of the table is untouched."""
    ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    ddb.create_table(TableName="atomic", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    ddb.put_item(TableName="atomic", Item={"pk": {"S": "stock"}, "sk": {"S": "A"}, "n": {"N": "5"},
                                           "tags": {"L": [{"S": "x"}]}})
    ddb.put_item(TableName="atomic", Item={"pk": {"S": "other"}, "sk": {"S": "B"}})
    with pytest.raises(ClientError) as info:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "atomic", "Key": {"pk": {"S": "stock"}, "sk": {"S": "A"}},
                        "UpdateExpression": "SET n = :n, tags = list_append(tags, :t)",
                        "ExpressionAttributeValues": {":n": {"N": "4"}, ":t": {"L": [{"S": "y"}]}}}},
            {"Put": {"TableName": "atomic", "Item": {"pk": {"S": "new"}, "sk": {"S": "C"}}}},
            {"ConditionCheck": {"TableName": "atomic", "Key": {"pk": {"S": "other"}, "sk": {"S": "B"}},
                                "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    assert info.value.response["Error"]["Code"] == "TransactionCanceledException"
    items = {(i["pk"]["S"], i["sk"]["S"]): i for i in ddb.scan(TableName="atomic")["Items"]}
    assert set(items) == {("stock", "A"), ("other", "B")}
    assert items[("stock", "A")]["n"] == {"N": "5"} and items[("stock", "A")]["tags"] == {"L": [{"S": "x"}]}
    ddb.transact_write_items(TransactItems=[  # and a transaction that succeeds applies every item
        {"Update": {"TableName": "atomic", "Key": {"pk": {"S": "stock"}, "sk": {"S": "A"}},
                    "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "3"}}}},
        {"Put": {"TableName": "atomic", "Item": {"pk": {"S": "new"}, "sk": {"S": "C"}}}}])
    assert ddb.get_item(TableName="atomic", Key={"pk": {"S": "stock"}, "sk": {"S": "A"}})["Item"]["n"] == {"N": "3"}
    assert "Item" in ddb.get_item(TableName="atomic", Key={"pk": {"S": "new"}, "sk": {"S": "C"}})
