"""boto3 clients with bounded timeouts and botocore's standard retry mode, one of each per process.

botocore reads the region from AWS_DEFAULT_REGION, not AWS_REGION (our contract), so it is passed here;
boto3 itself reads, for the local platform, AWS_ENDPOINT_URL (moto) from the environment itself, so the same
code runs against AWS (Pod Identity credentials) and against moto without a branch.

Clients are thread-safe and sessions are not: each client is built once, under a lock, from a session used only
there, and shared by every thread of the process (consumers, relay, request handlers).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

# Short timeouts: a hung AWS call must fail fast so an API returns 503 and a relay/consumer retries later, rather
# than a request hanging until the client gives up. Standard retry mode: throttling and transient errors are
# retried with jittered backoff (3 attempts in all), with a retry quota that stops retry storms.
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 10
_RETRIES = {"mode": "standard", "max_attempts": 3}
_lock = threading.Lock()
_clients: dict[tuple[str, int], Any] = {}


def client(name: str, *, read_timeout: int = READ_TIMEOUT_SECONDS) -> Any:
    """The process's client for service ``name``. ``read_timeout`` must outlast a long poll (SQS ReceiveMessage
    with WaitTimeSeconds), whose reply only comes when the wait is over."""
    key = (name, read_timeout)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _clients:
            config = Config(connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=read_timeout, retries=_RETRIES)
            _clients[key] = boto3.session.Session(region_name=os.environ["AWS_REGION"]).client(name, config=config)
        return _clients[key]
