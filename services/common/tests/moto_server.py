"""moto's server in this test process, over HTTP on a free port, with common.aws's clients pointed at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from contract import OUTBOX_INDEX
from moto.server import ThreadedMotoServer

from common import aws

REGION = "eu-west-1"


@contextmanager
def own_moto() -> Iterator[str]:
    """Start moto, point the environment (and so common.aws's clients) at it, yield its URL; restore on exit."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    aws._clients.clear()  # this endpoint, not a client cached for another
    try:
        yield env["AWS_ENDPOINT_URL"]
    finally:
        aws._clients.clear()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def outbox_table(name: str) -> str:
    """Create table ``name`` (through common.aws's client) with the keys and the OutboxPending index the
    DynamoDB-backed services' tables have (contract/platform.py); returns the name."""
    aws.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                              for a in ("pk", "sk", OUTBOX_INDEX.partition_key, str(OUTBOX_INDEX.sort_key))],
        GlobalSecondaryIndexes=[{"IndexName": OUTBOX_INDEX.name, "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": OUTBOX_INDEX.partition_key, "KeyType": "HASH"},
                                               {"AttributeName": str(OUTBOX_INDEX.sort_key), "KeyType": "RANGE"}]}])
    return name
