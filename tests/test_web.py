"""The storefront's stacks: the Web stack (bucket, distribution, headers, caching, deployment, runtime config) and
the WebGlobal stack in us-east-1 (web ACL, certificate), read from the synthesized templates; and the one origin the
API's CORS, the services and the distribution agree on, without a dependency cycle."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cdk_constructs.storefront import CONFIG_FILE, CONFIG_GLOBAL, HSTS_SECONDS, IMMUTABLE, REVALIDATE
from config.environment import RemovalMode
from stacks.web_global_stack import CLOUDFRONT_REGION, STOREFRONT_RULE_GROUPS
from tests.synthesis import ROOT, Synthesized
from tools.assembly import Assembly

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CloudFront's managed cache policies
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
NODE = ROOT / ".venv" / "bin" / "node"


def one(env: Synthesized, part: str, type_: str) -> tuple[str, dict[str, Any]]:
    (found,) = env.resources(part, type_).items()
    return found[0], found[1]["Properties"]


def distribution(env: Synthesized) -> dict[str, Any]:
    return dict(one(env, "Web", "AWS::CloudFront::Distribution")[1]["DistributionConfig"])


def site_bucket(env: Synthesized) -> tuple[str, dict[str, Any]]:
    buckets = env.resources("Web", "AWS::S3::Bucket")
    (logical_id,) = [k for k in buckets if k.startswith("StorefrontSiteBucket")]
    return logical_id, buckets[logical_id]["Properties"]


def test_site_bucket_is_private_encrypted_versioned_tls_only_and_logged(env: Synthesized) -> None:
    bucket_id, bucket = site_bucket(env)
    assert bucket["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                        "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    logs_id = bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert logs_id.startswith("StorefrontLogsBucket")
    policies = [p["Properties"] for p in env.resources("Web", "AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    (statements,) = [p["PolicyDocument"]["Statement"] for p in policies]
    deny_plain = [s for s in statements if s["Effect"] == "Deny"]
    assert deny_plain == [{"Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                           "Effect": "Deny", "Principal": {"AWS": "*"},
                           "Resource": [{"Fn::GetAtt": [bucket_id, "Arn"]},
                                        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]}]}]
    # Readers: CloudFront for this one distribution (OAC), and nothing public.
    (reader,) = [s for s in statements if s["Effect"] == "Allow" and "Service" in s["Principal"]]
    assert reader["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert sorted(reader["Action"]) == ["s3:GetObject", "s3:ListBucket"]
    source = json.dumps(reader["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert "StorefrontDistribution" in source and ":distribution/" in source
    assert not [s for s in statements if s["Effect"] == "Allow" and s["Principal"] in ("*", {"AWS": "*"})]


def test_distribution_serves_the_shop_domain_through_oac_with_waf_and_modern_tls(env: Synthesized) -> None:
    d = distribution(env)
    assert d["Aliases"] == list(env.config.web.domain_names)
    assert d["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert d["ViewerCertificate"]["SslSupportMethod"] == "sni-only"
    (origin,) = d["Origins"]
    assert "OriginAccessControlId" in origin and origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    (oac_id, oac), = env.resources("Web", "AWS::CloudFront::OriginAccessControl").items()
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert d["Logging"]["Prefix"] == "cloudfront/" and d["DefaultRootObject"] == "index.html"
    assert d["PriceClass"] == env.config.web.price_class.value
    parameters = env.template_json("Web")["Parameters"]
    for key, prop in (("web-acl-arn", d["WebACLId"]), ("certificate-arn", d["ViewerCertificate"]["AcmCertificateArn"])):
        parameter = parameters[prop["Ref"]]
        assert parameter == {"Type": "AWS::SSM::Parameter::Value<String>",
                             "Default": f"/{env.config.stack_prefix}-WebGlobal/{key}"}


def test_hashed_assets_are_cached_for_a_year_and_pages_never(env: Synthesized) -> None:
    d = distribution(env)
    default = d["DefaultCacheBehavior"]
    assert default["CachePolicyId"] == CACHING_DISABLED
    assert default["ViewerProtocolPolicy"] == "redirect-to-https" and default["AllowedMethods"] == ["GET", "HEAD"]
    (assets,) = d["CacheBehaviors"]
    assert assets["PathPattern"] == "/assets/*" and assets["CachePolicyId"] == CACHING_OPTIMIZED
    assert assets["ResponseHeadersPolicyId"] == default["ResponseHeadersPolicyId"]
    deployments = {v["Properties"].get("DestinationBucketKeyPrefix", ""): (k, v)
                   for k, v in env.resources("Web", "Custom::CDKBucketDeployment").items()}
    assert set(deployments) == {"assets/", ""}
    assets_id, assets_deploy = deployments["assets/"]
    _, pages_deploy = deployments[""]
    assert assets_deploy["Properties"]["SystemMetadata"] == {"cache-control": IMMUTABLE}
    assert pages_deploy["Properties"]["SystemMetadata"] == {"cache-control": REVALIDATE}
    assert IMMUTABLE == "public, max-age=31536000, immutable" and REVALIDATE == "no-cache"
    # Nothing pruned (a page loaded before a deploy still finds its assets); pages only after their assets.
    assert assets_deploy["Properties"]["Prune"] is False and pages_deploy["Properties"]["Prune"] is False
    assert assets_id in pages_deploy.get("DependsOn", [])


def test_security_headers_and_a_csp_whose_connect_src_is_the_apis_origin_alone(env: Synthesized) -> None:
    (_, policy), = env.resources("Web", "AWS::CloudFront::ResponseHeadersPolicy").items()
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    csp = security["ContentSecurityPolicy"]
    assert csp["Override"] is True
    joined = csp["ContentSecurityPolicy"]["Fn::Join"]
    text = "".join(p if isinstance(p, str) else "{" + json.dumps(p) + "}" for p in joined[1])
    directives = dict(d.strip().partition(" ")[::2] for d in text.split(";"))
    assert directives.pop("connect-src").startswith("https://{") and directives == {
        "default-src": "'none'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self'",
        "font-src": "'self'", "manifest-src": "'self'", "base-uri": "'none'", "form-action": "'self'",
        "frame-ancestors": "'none'", "object-src": "'none'", "upgrade-insecure-requests": ""}
    # connect-src: the Edge stack's RestApi and nothing else, in the API's region.
    assembly = Assembly(env.outdir)
    tokens = [p for p in joined[1] if not isinstance(p, str)]
    targets = [assembly.target(f"{env.config.stack_prefix}-Web", t) for t in tokens]
    api = [t for t in targets if t is not None]
    assert len(api) == 1 and api[0].stack == f"{env.config.stack_prefix}-Edge"
    assert assembly.stacks[api[0].stack].resources[api[0].logical_id].type == "AWS::ApiGateway::RestApi"
    assert "connect-src https://" in joined[1][0] and joined[1][2] == f".execute-api.{env.config.region}."
    hsts = security["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] == HSTS_SECONDS >= 31_536_000
    assert hsts["IncludeSubdomains"] and hsts["Override"]
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["ReferrerPolicy"] == {"ReferrerPolicy": "strict-origin-when-cross-origin", "Override": True}


def test_the_apis_cors_the_services_and_the_distribution_name_one_origin_without_a_cycle(env: Synthesized) -> None:
    """The storefront's origin is config's (a domain fixed before any stack): the Edge stack's CORS and the
    services' CORS_ALLOWED_ORIGIN name it, the distribution serves it, and the Web stack depends on Edge (the API's
    origin for the CSP, its URL and key for config.js) while Edge depends on neither Web stack."""
    origin = env.config.web.origin
    assert origin == f"https://{distribution(env)['Aliases'][0]}"
    edge = json.dumps(env.template_json("Edge"))
    assert f"'{origin}'" in edge
    assert set(re.findall(r"'(https://[^']+)'", edge)) == {origin}
    services = env.template_json("Services")
    values = re.findall(r'\\"name\\":\\"CORS_ALLOWED_ORIGIN\\",\\"value\\":\\"([^\\]+)\\"', json.dumps(services))
    assert len(values) >= 8 and set(values) == {origin}  # at least the API and worker pods of the four services
    stacks = Assembly(env.outdir).stacks
    prefix = env.config.stack_prefix
    assert {f"{prefix}-Edge", f"{prefix}-Data", f"{prefix}-WebGlobal"} <= set(stacks[f"{prefix}-Web"].dependencies)
    for part in ("Edge", "Services", "Data"):
        assert not {f"{prefix}-Web", f"{prefix}-WebGlobal"} & set(stacks[f"{prefix}-{part}"].dependencies)


def test_web_acl_and_certificate_live_in_us_east_1_and_reach_the_web_stack(env: Synthesized) -> None:
    prefix = env.config.stack_prefix
    stacks = Assembly(env.outdir).stacks
    assert stacks[f"{prefix}-WebGlobal"].region == CLOUDFRONT_REGION
    assert stacks[f"{prefix}-Web"].region == env.config.region
    _, acl = one(env, "WebGlobal", "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "CLOUDFRONT" and acl["DefaultAction"] == {"Allow": {}}
    managed = [r["Statement"]["ManagedRuleGroupStatement"]["Name"] for r in acl["Rules"]
               if "ManagedRuleGroupStatement" in r["Statement"]]
    assert managed == list(STOREFRONT_RULE_GROUPS)
    (rate,) = [r for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]]
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == env.config.web.waf_rate_limit_per_5_min
    assert rate["Action"] == {"Block": {}}
    _, logging = one(env, "WebGlobal", "AWS::WAFv2::LoggingConfiguration")
    (destination,) = logging["LogDestinationConfigs"]
    group = env.resources("WebGlobal", "AWS::Logs::LogGroup")[destination["Fn::Join"][1][1]["Ref"]]
    assert "aws-waf-logs-" in json.dumps(group["Properties"]["LogGroupName"])  # WAF logs only to such names
    assert destination["Fn::Join"][1][0].startswith(f"arn:aws:logs:{CLOUDFRONT_REGION}:")
    _, cert = one(env, "WebGlobal", "AWS::CertificateManager::Certificate")
    assert cert["DomainName"] == env.config.web.domain_name
    assert cert.get("SubjectAlternativeNames", []) == list(env.config.web.redirect_domain_names)
    assert cert["ValidationMethod"] == "DNS"
    assert {o["HostedZoneId"] for o in cert["DomainValidationOptions"]} == {env.config.web.hosted_zone_id}
    # The SSM parameters the WebGlobal stack writes, in the Web stack's region, are the ones the Web stack reads.
    written = {}
    for resource in env.resources("WebGlobal", "Custom::AWS").values():
        create = json.loads("".join(p if isinstance(p, str) else "0" for p in
                                    resource["Properties"]["Create"]["Fn::Join"][1]))
        assert create["action"] == "putParameter" and create["region"] == env.config.region
        written[create["parameters"]["Name"]] = create["parameters"]
    read = {p["Default"] for name, p in env.template_json("Web")["Parameters"].items()
            if name.startswith("SsmParameterValue")}
    assert set(written) == read == {f"/{prefix}-WebGlobal/web-acl-arn", f"/{prefix}-WebGlobal/certificate-arn"}


def test_a_replaced_certificate_is_kept_while_cloudfront_still_serves_it(env: Synthesized) -> None:
    """A domain change replaces the certificate in WebGlobal, which deploys before the Web stack moves the
    distribution off it: deleting the old one would fail (ACM: in use), so a replaced certificate is retained
    (docs/deploying.md, "Changing the storefront's domain"). Removed from the template, it follows the removal mode,
    as the teardown check expects."""
    ((_, certificate),) = env.resources("WebGlobal", "AWS::CertificateManager::Certificate").items()
    assert certificate["UpdateReplacePolicy"] == "Retain"
    deleted = env.config.removal == RemovalMode.DESTROY
    assert certificate["DeletionPolicy"] == ("Delete" if deleted else "RetainExceptOnCreate")


def test_alias_records_point_the_shop_domains_at_the_distribution(env: Synthesized) -> None:
    records = [r["Properties"] for r in env.resources("Web", "AWS::Route53::RecordSet").values()]
    assert sorted((r["Name"], r["Type"]) for r in records) == sorted(
        (f"{name}.", kind) for name in env.config.web.domain_names for kind in ("A", "AAAA"))
    assert {r["HostedZoneId"] for r in records} == {env.config.web.hosted_zone_id}
    assert all("StorefrontDistribution" in json.dumps(r["AliasTarget"]["DNSName"]) for r in records)
    outputs = env.template_json("Web")["Outputs"]
    assert outputs["StorefrontUrl"]["Value"] == env.config.web.origin


def test_the_site_is_published_only_once_the_distribution_and_its_alias_records_exist(env: Synthesized) -> None:
    """Each BucketDeployment (the assets, then the pages and config.js) waits for the distribution and for every
    alias record: published earlier, its copier would run (and invalidate) against a distribution CloudFormation has
    still to create, and config.js would go live for names that do not resolve yet."""
    distribution_id, _ = one(env, "Web", "AWS::CloudFront::Distribution")
    aliases = set(env.resources("Web", "AWS::Route53::RecordSet"))
    assert len(aliases) == 2 * len(env.config.web.domain_names)
    deployments = env.resources("Web", "Custom::CDKBucketDeployment")
    assert len(deployments) == 2
    for logical_id, deployment in deployments.items():
        waits_for = set(deployment.get("DependsOn", []))
        assert {distribution_id, *aliases} <= waits_for, logical_id


def staged_config(env: Synthesized) -> str:
    (_, pages), = [(k, v) for k, v in env.resources("Web", "Custom::CDKBucketDeployment").items()
                   if not v["Properties"].get("DestinationBucketKeyPrefix")]
    for key in pages["Properties"]["SourceObjectKeys"]:
        staged = env.outdir / f"asset.{key.removesuffix('.zip')}" / CONFIG_FILE
        if staged.is_file():
            return staged.read_text()
    raise AssertionError("no deployment stages config.js")


def test_config_js_holds_what_the_client_reads_from_the_other_stacks(dev: Synthesized) -> None:
    """config.js is written at deploy from the Edge stack (API URL, key) and the Data stack (pool, client), with
    exactly the keys web/src/config.ts requires; nothing of it is in the bundle."""
    script = staged_config(dev)
    assert script.startswith(f"window.{CONFIG_GLOBAL} = ")
    config = json.loads(script.removeprefix(f"window.{CONFIG_GLOBAL} = ").strip().removesuffix(";"))
    client = (ROOT / "web" / "src" / "config.ts").read_text()
    (keys,) = re.findall(r"const KEYS = \[([^\]]*)\] as const", client)
    assert set(config) == set(re.findall(r'"(\w+)"', keys))
    assert config["region"] == dev.config.region
    assert all(v.startswith("<<marker:") or "<<marker:" in v for k, v in config.items() if k != "region")
    (_, pages), = [(k, v) for k, v in dev.resources("Web", "Custom::CDKBucketDeployment").items()
                   if not v["Properties"].get("DestinationBucketKeyPrefix")]
    markers = json.dumps(pages["Properties"]["SourceMarkers"])
    for export in ("Dev-Edge:ExportsOutputRefApiRestApi", "Dev-Data:ExportsOutputRefUsersUserPoolWebClient",
                   "Dev-Data:ExportsOutputRefUsersUserPool7E610616"):
        assert export in markers
    assert "StorefrontApiKeyValue" in markers
    dist = ROOT / "web" / "dist"
    bundle = "".join(p.read_text() for p in (dist / "assets").glob("*.js"))
    assert "execute-api" not in bundle and "STOREFRONT_CONFIG" in bundle
    assert '<script src="/config.js"></script>' in (dist / "index.html").read_text()


@pytest.mark.parametrize(("host", "uri", "query", "expected"), [
    ("dev.shop.example.com", "/orders/42", {}, {"uri": "/index.html"}),
    ("dev.shop.example.com", "/", {}, {"uri": "/index.html"}),
    ("dev.shop.example.com", "/assets/index-abc.js", {}, {"uri": "/assets/index-abc.js"}),
    ("dev.shop.example.com", "/config.js", {}, {"uri": "/config.js"}),
    ("d111111abcdef8.cloudfront.net", "/orders", {"next": {"value": "a b"}, "x": {"value": ""}},
     {"statusCode": 301, "location": "https://dev.shop.example.com/orders?next=a b&x"}),
])
def test_viewer_request_function_routes_the_app_and_redirects_other_hosts(
        dev: Synthesized, host: str, uri: str, query: dict[str, Any], expected: dict[str, Any]) -> None:
    """The function's own code, run in Node as CloudFront would call it."""
    (_, function), = dev.resources("Web", "AWS::CloudFront::Function").items()
    assert function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    event = {"request": {"uri": uri, "headers": {"host": {"value": host}}, "querystring": query}}
    script = (function["Properties"]["FunctionCode"] + f"\nconst out = handler({json.dumps(event)});\n"
              "console.log(JSON.stringify(out));\n")
    out = json.loads(subprocess.run([str(NODE), "-e", script], capture_output=True, text=True, check=True,
                                    timeout=60).stdout)
    if "statusCode" in expected:
        assert out["statusCode"] == expected["statusCode"]
        assert out["headers"]["location"]["value"] == expected["location"]
    else:
        assert out["uri"] == expected["uri"]


def test_prod_redirects_www_to_the_one_origin(prod: Synthesized) -> None:
    assert prod.config.web.redirect_domain_names == ("www.shop.example.com",)
    (_, function), = prod.resources("Web", "AWS::CloudFront::Function").items()
    assert 'host !== "shop.example.com"' in function["Properties"]["FunctionCode"]


def test_the_storefront_must_be_built_before_synth(tmp_path: Path) -> None:
    """No stub: a Web stack without the built storefront fails synth with what to run."""
    from config.environments import load
    from stacks.platform import build_app

    with pytest.raises(FileNotFoundError, match="make web"):
        build_app(load("dev"), outdir=str(tmp_path / "out"), nag=False, storefront_dir=tmp_path / "missing")
    shutil.rmtree(tmp_path, ignore_errors=True)
