"""`make local`'s storefront server: the synthesized Web stack's headers (the CSP's connect-src the local edge), the
deployments' Cache-Control, the SPA rule and config.js, so what the browser tests see is what CloudFront serves,
bar the differences the server's docstring lists."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from cdk_constructs.storefront import CONFIG_GLOBAL, IMMUTABLE, PERMISSIONS_POLICY, REVALIDATE, content_security_policy
from tests.synthesis import Synthesized
from tools.local.storefront import DIST, SiteError, StorefrontServer, SynthesizedSite, local_config

EDGE = "http://127.0.0.1:9999"


@pytest.fixture(scope="module")
def site(dev: Synthesized) -> SynthesizedSite:
    return SynthesizedSite.from_assembly(dev.outdir, dev.config.stack_prefix, EDGE)


def config() -> dict[str, str]:
    return local_config(api_url=f"{EDGE}/v1", api_key="k", region="eu-west-1", user_pool_id="eu-west-1_x",
                        client_id="c")


@pytest.fixture(scope="module")
def server(site: SynthesizedSite) -> StorefrontServer:
    return StorefrontServer(DIST, site, config())


def test_the_csp_is_the_synthesized_one_calling_the_local_edge(site: SynthesizedSite) -> None:
    synthesized = content_security_policy("https://API").split("; ")
    local = site.headers["Content-Security-Policy"].split("; ")
    assert [d for d in synthesized if not d.startswith("connect-src") and d != "upgrade-insecure-requests"] == \
        [d for d in local if not d.startswith("connect-src")]
    assert f"connect-src {EDGE}" in local and "upgrade-insecure-requests" not in local  # no TLS locally


def test_the_other_headers_are_the_policys(site: SynthesizedSite) -> None:
    assert site.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains; preload"
    assert site.headers["X-Frame-Options"] == "DENY"
    assert site.headers["X-Content-Type-Options"] == "nosniff"
    assert site.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert site.headers["Permissions-Policy"] == PERMISSIONS_POLICY
    assert site.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert (site.asset_cache_control, site.page_cache_control) == (IMMUTABLE, REVALIDATE)


def test_app_paths_get_the_page_files_their_cache_control_and_missing_files_a_404(server: StorefrontServer) -> None:
    index = (DIST / "index.html").read_bytes()
    for path in ("/", "/orders/42", "/admin/products/new"):
        status, headers, body = server.answer("GET", path, {})
        assert (status, body) == (200, index), path
        assert dict(headers)["Cache-Control"] == REVALIDATE
        assert dict(headers)["Content-Security-Policy"].startswith("default-src 'none'")
    asset = next((DIST / "assets").glob("*.js"))
    status, headers, body = server.answer("GET", f"/assets/{asset.name}", {"accept-encoding": "gzip, br"})
    assert status == 200 and gzip.decompress(body) == asset.read_bytes()
    assert dict(headers)["Cache-Control"] == IMMUTABLE and dict(headers)["Content-Encoding"] == "gzip"
    assert server.answer("GET", "/assets/gone.js", {})[0] == 404
    assert server.answer("GET", "/../pyproject.toml", {})[0] == 404
    assert server.answer("POST", "/", {})[0] == 403


def test_config_js_names_the_local_edge_with_the_keys_the_web_stack_writes(server: StorefrontServer,
                                                                           site: SynthesizedSite) -> None:
    status, headers, body = server.answer("GET", "/config.js", {})
    assert status == 200 and dict(headers)["Cache-Control"] == REVALIDATE
    assert body.decode().startswith(f"window.{CONFIG_GLOBAL} = ") and f'"apiUrl": "{EDGE}/v1"' in body.decode()
    assert set(config()) == site.config_keys
    with pytest.raises(SiteError, match="the Web stack writes"):
        StorefrontServer(DIST, site, {k: v for k, v in config().items() if k != "apiKey"})


def test_a_build_is_required(site: SynthesizedSite, tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="make web"):
        StorefrontServer(tmp_path, site, config())
