"""How the local edge runs as a process of its own (the local platform starts it beside the services)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from config.topology import Service
from tools.local.local_edge.authorizer import CognitoPool


def edge_argv(*, assembly: Path, stack_prefix: str, port: int, upstreams: Mapping[Service, str],
              pool: CognitoPool) -> list[str]:
    """The command that runs the edge as a process of its own (the API key goes in LOCAL_EDGE_API_KEY)."""
    argv = [sys.executable, "-m", "tools.local.local_edge", "--assembly", str(assembly), "--stack-prefix", stack_prefix,
            "--port", str(port), "--issuer", pool.issuer, "--jwks-url", pool.jwks_url]
    for service, url in upstreams.items():
        argv += ["--upstream", f"{service.value}={url}"]
    return argv
