"""The services' OpenAPI documents as the storefront's client is generated from them (`make web`).

    python -m tools.web.openapi OUT_DIR

Each service's document is its FastAPI app's own (``app.openapi()``: its pydantic request models, the same ones API
Gateway's request models are derived from, cdk_constructs/api_models.py), cut down to the routes the edge exposes
(the contract's ROUTES): the storefront's typed client then knows no internal or health route, and a request model
change it does not follow fails its type check. One JSON file per service, ``OUT_DIR/<service>.json``.

The apps read their settings at import; each is imported in a child process of its own with every variable the
contract derives for it set to a placeholder (nothing is called: only the routes and models are read).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from contract import CONTRACT, Service
from contract.environment import required

ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = ROOT / "services"
_DUMP = "import json, importlib, sys; print(json.dumps(importlib.import_module(sys.argv[1] + '.app').app.openapi()))"


def service_document(service: Service, path: tuple[Path, ...] = (SERVICES_DIR,)) -> dict[str, Any]:
    """The service's whole OpenAPI document, from its app imported with placeholder settings; ``path``: where
    the services' packages are imported from (a test puts a changed copy first)."""
    env = {name: f"placeholder-{name.lower()}" for name in required(CONTRACT, service)}
    env.update({name: "1" for name in env if name.endswith("_SECONDS")})
    # argv: this interpreter and a fixed script; the service name comes from the contract
    # -P: the working directory is not put first on the path, so ``path`` decides where the packages come from
    result = subprocess.run([sys.executable, "-P", "-c", _DUMP, service.value], cwd=SERVICES_DIR,  # noqa: S603
                            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(map(str, path)),
                                 "OTEL_SDK_DISABLED": "true", **env},
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{service}: its app's OpenAPI document could not be read:\n{result.stderr[-2000:]}")
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def edge_document(service: Service, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with only the operations the contract routes through the edge to ``service``; a route the app
    does not serve stops the build."""
    routes = {(r.path, r.method.lower()) for r in CONTRACT.routes if r.service is service}
    paths: dict[str, dict[str, Any]] = {}
    for path, operations in document.get("paths", {}).items():
        kept = {method: op for method, op in operations.items() if (path, method) in routes}
        if kept:
            paths[path] = kept
    served = {(path, method) for path, ops in paths.items() for method in ops}
    missing = sorted(f"{m.upper()} {p}" for p, m in routes - served)
    if missing:
        raise RuntimeError(f"{service}: the contract routes {', '.join(missing)} to it, but its app does not serve "
                           "them")
    return {**document, "paths": paths}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.web.openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory for <service>.json")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    services = CONTRACT.service_names
    with ThreadPoolExecutor(max_workers=len(services)) as pool:  # each import waits on its own child process
        documents = pool.map(service_document, services)
    for service, document in zip(services, documents, strict=True):
        edge = edge_document(service, document)
        (args.out / f"{service.value}.json").write_text(json.dumps(edge, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
