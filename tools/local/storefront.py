"""The storefront as `make local` serves it: the built files (web/dist) with the headers the synthesized Web stack
gives them, and a config.js pointing at the local edge.

    python -m tools.local.storefront --dist web/dist --assembly DIR --stack-prefix Dev --port 8090 \\
        --api-url http://127.0.0.1:8080/v1 --region eu-west-1 --user-pool-id ... --user-pool-client-id ...
    (API key value in LOCAL_EDGE_API_KEY)

What it takes from the synthesized templates (:class:`SynthesizedSite`, so a change there changes what the browser
tests see): the response headers policy of the distribution (the Content-Security-Policy, its ``connect-src``
resolved to the local edge's origin where the template names the Edge stack's API; HSTS, X-Frame-Options, nosniff,
the referrer policy, the custom headers), the Cache-Control of each deployment (hashed assets, the rest), the
runtime configuration's keys (config.js) and the SPA rule (a path without a file extension is answered with
index.html: the viewer-request function's rule).

How it differs from CloudFront (also in docs/architecture.md, "The storefront"):
- plain HTTP on 127.0.0.1: no TLS, so the CSP's ``upgrade-insecure-requests`` is left out (it would send the local
  edge's requests to https) and browsers ignore the HSTS header it still sends;
- no WAF, no host redirect (the only host is the local one), no edge caches (Cache-Control is sent, nothing caches
  in between), gzip only (CloudFront also serves Brotli);
- config.js is rendered here from the local platform's values instead of being written at deploy.
"""

from __future__ import annotations

import argparse
import gzip
import json
import mimetypes
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from cdk_constructs.storefront import ASSETS_PREFIX, CONFIG_FILE, CONFIG_GLOBAL, runtime_config_script
from tools.assembly import Assembly

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web" / "dist"
# The viewer-request function's rule (cdk_constructs/storefront.py: viewer_request_code).
_FILE = re.compile(r"\.[A-Za-z0-9]+$")
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
# Dropped locally: there is no TLS here (see the module docstring).
LOCAL_ONLY_DROPS = ("upgrade-insecure-requests",)


class SiteError(ValueError):
    """The synthesized Web stack holds something this server cannot serve as CloudFront would."""


@dataclass(frozen=True)
class SynthesizedSite:
    """What the Web stack's template says about serving the storefront."""

    headers: Mapping[str, str]  # response headers policy, the CSP's connect-src resolved
    asset_cache_control: str
    page_cache_control: str
    config_keys: frozenset[str]  # of the config.js the Web stack writes at deploy

    @classmethod
    def from_assembly(cls, assembly: Path, stack_prefix: str, api_origin: str) -> SynthesizedSite:
        """``api_origin``: the local edge's origin, standing for the Edge stack's API where the CSP names it."""
        a = Assembly(assembly)
        name = f"{stack_prefix}-Web"
        if name not in a.stacks:
            raise SiteError(f"{assembly}: no {name} stack: synthesize the app first (make synth)")
        resources = a.stacks[name].resources
        policies = [r for r in resources.values() if r.type == "AWS::CloudFront::ResponseHeadersPolicy"]
        if len(policies) != 1:
            raise SiteError(f"{name}: expected one response headers policy, found {len(policies)}")
        config = policies[0].properties["ResponseHeadersPolicyConfig"]
        headers = _security_headers(a, name, config.get("SecurityHeadersConfig", {}), api_origin)
        for header in config.get("CustomHeadersConfig", {}).get("Items", []):
            headers[str(header["Header"])] = str(header["Value"])
        controls: dict[str, str] = {}
        keys: set[str] = set()
        for r in resources.values():
            if r.type != "Custom::CDKBucketDeployment":
                continue
            prefix = str(r.properties.get("DestinationBucketKeyPrefix", ""))
            controls["assets" if prefix.strip("/") == ASSETS_PREFIX else "pages"] = str(
                r.properties.get("SystemMetadata", {}).get("cache-control", ""))
            for key in r.properties.get("SourceObjectKeys", []):
                staged = assembly / f"asset.{str(key).removesuffix('.zip')}" / CONFIG_FILE
                if staged.is_file():
                    keys.update(_config_keys(staged.read_text()))
        if set(controls) != {"assets", "pages"} or not all(controls.values()):
            raise SiteError(f"{name}: expected the assets and pages deployments with their Cache-Control, found "
                            f"{controls}")
        if not keys:
            raise SiteError(f"{name}: no deployment writes {CONFIG_FILE}")
        return cls(headers=headers, asset_cache_control=controls["assets"], page_cache_control=controls["pages"],
                   config_keys=frozenset(keys))


def _config_keys(script: str) -> set[str]:
    """The keys of a config.js as the Web stack stages it (values are deploy-time markers)."""
    prefix = f"window.{CONFIG_GLOBAL} = "
    if not script.startswith(prefix):
        raise SiteError(f"{CONFIG_FILE} does not start with {prefix!r}")
    return set(json.loads(script.removeprefix(prefix).strip().removesuffix(";")))


def _security_headers(a: Assembly, stack: str, config: Mapping[str, Any], api_origin: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    csp = config.get("ContentSecurityPolicy")
    if csp:
        headers["Content-Security-Policy"] = _local_csp(a, stack, csp["ContentSecurityPolicy"], api_origin)
    hsts = config.get("StrictTransportSecurity")
    if hsts:
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        value += "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        value += "; preload" if hsts.get("Preload") else ""
        headers["Strict-Transport-Security"] = value
    if config.get("ContentTypeOptions"):
        headers["X-Content-Type-Options"] = "nosniff"
    if config.get("FrameOptions"):
        headers["X-Frame-Options"] = str(config["FrameOptions"]["FrameOption"])
    if config.get("ReferrerPolicy"):
        headers["Referrer-Policy"] = str(config["ReferrerPolicy"]["ReferrerPolicy"])
    return headers


def _local_csp(a: Assembly, stack: str, value: Any, api_origin: str) -> str:
    """The template's CSP with the Edge stack's API origin (the only token it may hold, inside connect-src) as the
    local edge's, and without what needs TLS."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict) and "Fn::Join" in value and value["Fn::Join"][0] == "":
        parts = value["Fn::Join"][1]
        tokens = [p for p in parts if not isinstance(p, str)]
        apis = [t for t in tokens if (target := a.target(stack, t)) is not None
                and a.stacks[target.stack].resources[target.logical_id].type == "AWS::ApiGateway::RestApi"]
        if len(apis) != 1:
            raise SiteError(f"{stack}: the CSP must name the Edge stack's API once, found {value}")
        marker = "\ue000"
        text = "".join(p if isinstance(p, str) else marker for p in parts)
        directive = next((d.strip() for d in text.split(";") if d.strip().startswith("connect-src ")), "")
        if marker not in directive or text.count(marker) > directive.count(marker):
            raise SiteError(f"{stack}: the CSP names something other than the API outside connect-src: {value}")
        origin = directive.removeprefix("connect-src ").strip()
        if not re.fullmatch(rf"https://{marker}(\.[a-z0-9-]+|\.{marker})+", origin):
            raise SiteError(f"{stack}: connect-src is not the API's origin alone: {origin!r}")
        text = text.replace(directive, f"connect-src {api_origin}")
    else:
        raise SiteError(f"{stack}: unexpected CSP value {value}")
    directives = [d.strip() for d in text.split(";") if d.strip() and d.strip() not in LOCAL_ONLY_DROPS]
    return "; ".join(directives)


class StorefrontServer:
    """ASGI app serving ``dist`` as CloudFront serves the bucket (see the module docstring)."""

    def __init__(self, dist: Path, site: SynthesizedSite, config: Mapping[str, str]) -> None:
        if not (dist / "index.html").is_file():
            raise SiteError(f"{dist} holds no built storefront: run `make web`")
        if set(config) != site.config_keys:
            raise SiteError(f"config.js would hold {sorted(config)}; the Web stack writes {sorted(site.config_keys)}")
        self.dist = dist.resolve()
        self.site = site
        self.config_script = runtime_config_script(config).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        status, headers, body = self.answer(scope["method"], scope["path"],
                                            {k.decode().lower(): v.decode() for k, v in scope["headers"]})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers]})
        await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})

    def answer(self, method: str, path: str, request_headers: Mapping[str, str]) -> tuple[int, list[tuple[str, str]],
                                                                                          bytes]:
        if method not in ("GET", "HEAD"):
            return 403, [("Content-Type", "text/plain")], b"method not allowed"  # CloudFront: ALLOW_GET_HEAD
        if path == f"/{CONFIG_FILE}":
            body, ctype, control = self.config_script, "application/javascript", self.site.page_cache_control
        else:
            key = "/index.html" if path == "/" or not _FILE.search(path) else path
            file = (self.dist / key.lstrip("/")).resolve()
            if not file.is_file() or self.dist not in file.parents:
                return 404, [("Content-Type", "text/plain"), *self.site.headers.items()], b"not found"
            body = file.read_bytes()
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            control = (self.site.asset_cache_control if key.startswith(f"/{ASSETS_PREFIX}/")
                       else self.site.page_cache_control)
        headers = [("Content-Type", ctype + ("; charset=utf-8" if ctype.startswith("text/") else "")),
                   ("Cache-Control", control), *self.site.headers.items()]
        if "gzip" in request_headers.get("accept-encoding", "") and ctype.startswith(_COMPRESSIBLE):
            body = gzip.compress(body, 6, mtime=0)
            headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        return 200, [*headers, ("Content-Length", str(len(body)))], body


def local_config(*, api_url: str, api_key: str, region: str, user_pool_id: str, client_id: str) -> dict[str, str]:
    """config.js's values for the local platform (the Web stack writes the same keys at deploy)."""
    return {"apiUrl": api_url, "apiKey": api_key, "region": region, "userPoolId": user_pool_id,
            "userPoolClientId": client_id}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.storefront", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=DIST)
    parser.add_argument("--assembly", type=Path, required=True)
    parser.add_argument("--stack-prefix", default="Dev")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True, help="the local edge's URL, stage included")
    parser.add_argument("--region", required=True)
    parser.add_argument("--user-pool-id", required=True)
    parser.add_argument("--user-pool-client-id", required=True)
    args = parser.parse_args(argv)
    key = os.environ.get("LOCAL_EDGE_API_KEY", "")
    if not key:
        raise SystemExit("configuration error: LOCAL_EDGE_API_KEY is not set")
    api_origin = "/".join(args.api_url.split("/", 3)[:3])
    site = SynthesizedSite.from_assembly(args.assembly, args.stack_prefix, api_origin)
    app = StorefrontServer(args.dist, site, local_config(api_url=args.api_url, api_key=key, region=args.region,
                                                         user_pool_id=args.user_pool_id,
                                                         client_id=args.user_pool_client_id))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, lifespan="on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
