"""Where the local edge's templates come from: a cloud assembly on disk, synthesized in-process when none is given."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from config.topology import Service
from tools.local_edge.authorizer import CognitoPool

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ASSEMBLY = ROOT / ".local" / "cdk.out"


def synthesize(environment: str, outdir: Path = DEFAULT_ASSEMBLY) -> Path:
    """Synthesize an environment in this process (as `make synth` does, cdk-nag included) into ``outdir``."""
    from config.environments import load
    from stacks.platform import build_app

    outdir.mkdir(parents=True, exist_ok=True)
    app, _ = build_app(load(environment), outdir=str(outdir))
    app.synth()
    return outdir


def edge_argv(*, assembly: Path, stack_prefix: str, port: int, upstreams: Mapping[Service, str],
              pool: CognitoPool) -> list[str]:
    """The command that runs the edge as a process of its own (the API key goes in LOCAL_EDGE_API_KEY)."""
    argv = [sys.executable, "-m", "tools.local_edge", "--assembly", str(assembly), "--stack-prefix", stack_prefix,
            "--port", str(port), "--issuer", pool.issuer, "--jwks-url", pool.jwks_url]
    for service, url in upstreams.items():
        argv += ["--upstream", f"{service.value}={url}"]
    return argv
