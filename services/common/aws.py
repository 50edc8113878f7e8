"""boto3 clients with bounded timeouts and retries.

botocore reads the region from AWS_DEFAULT_REGION, not AWS_REGION (our contract), so it is passed here;
boto3 itself reads, for the local platform, AWS_ENDPOINT_URL (moto) from the environment itself, so the same
code runs against AWS (Pod Identity credentials) and against moto without a branch.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

# Short timeouts: a hung AWS call must fail fast so an API returns 503 and a relay/consumer retries later, rather
# than a request hanging until the client gives up.
_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
_local = threading.local()


def client(name: str) -> Any:
    """A client per thread: boto3 clients are thread-safe but sessions are not, and workers run several threads."""
    cache: dict[str, Any] = getattr(_local, "clients", None) or {}
    _local.clients = cache
    if name not in cache:
        cache[name] = boto3.session.Session(region_name=os.environ["AWS_REGION"]).client(name, config=_CONFIG)
    return cache[name]
