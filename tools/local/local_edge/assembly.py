"""How the local edge runs as a process of its own (the local platform starts it beside the services)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from config.topology import Service
from tools.local.local_edge.authorizer import CognitoPool


def edge_argv(*, assembly: Path, stack_prefix: str, port: int, upstreams: Mapping[Service, str],
              pool: CognitoPool, origin: tuple[str, str] | None = None) -> list[str]:
    """The command that runs the edge as a process of its own (the API key goes in LOCAL_EDGE_API_KEY);
    ``origin``: (the storefront's origin as synthesized, the local storefront's) for CORS."""
    argv = [sys.executable, "-m", "tools.local.local_edge", "--assembly", str(assembly), "--stack-prefix", stack_prefix,
            "--port", str(port), "--issuer", pool.issuer, "--jwks-url", pool.jwks_url]
    if origin is not None:
        argv += ["--origin", "=".join(origin)]
    for service, url in upstreams.items():
        argv += ["--upstream", f"{service.value}={url}"]
    return argv
