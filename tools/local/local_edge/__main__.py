"""``python -m tools.local.local_edge``: run the local edge in front of services that are already running."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from config.topology import Service
from tools.local.local_edge.authorizer import CognitoPool
from tools.local.local_edge.definition import EdgeDefinition
from tools.local.local_edge.server import LocalEdge, api_key_from_env, edge_protocol


def upstream(value: str) -> tuple[Service, str]:
    name, _, url = value.partition("=")
    try:
        return Service(name), url
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown service {name!r} (expected <service>=<base URL>)") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.local_edge", description=__doc__)
    parser.add_argument("--assembly", type=Path, required=True, help="cloud assembly directory (cdk.out)")
    parser.add_argument("--stack-prefix", default="Dev", help="stack name prefix of the environment (Dev)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", type=upstream, action="append", required=True,
                        help="<service>=<base URL> for each service behind the API, e.g. orders=http://127.0.0.1:8082")
    parser.add_argument("--issuer", required=True, help="issuer of the user pool's tokens")
    parser.add_argument("--jwks-url", required=True, help="JWKS URL of the user pool")
    parser.add_argument("--origin", default="", metavar="SYNTHESIZED=LOCAL",
                        help="the storefront's origin as synthesized (CORS), and the local one that stands for it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    definition = EdgeDefinition.from_assembly(args.assembly, args.stack_prefix)
    if args.origin:
        synthesized, _, local = args.origin.partition("=")
        definition = definition.with_origin(synthesized, local)
    edge = LocalEdge(definition, upstreams=dict(args.upstream), api_key=api_key_from_env(),
                     user_pool=CognitoPool(issuer=args.issuer, jwks_url=args.jwks_url))
    uvicorn.run(edge, host=args.host, port=args.port, log_level="warning", access_log=False, lifespan="on",
                http=edge_protocol(edge))
    return 0


if __name__ == "__main__":
    sys.exit(main())
