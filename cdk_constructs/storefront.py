"""The storefront (web/): its built files in a private S3 bucket, served by CloudFront through Origin Access Control
at the shop's domain, with the security headers, SPA routing, caching and runtime configuration it needs.

- **Bucket**: private (Block Public Access, readable only by this distribution's OAC), SSE-S3, versioned, TLS-only,
  its access logged (S3 server access logs) to the logs bucket, which also receives CloudFront's standard logs.
- **Caching**: files under ``/assets/`` carry a content hash in their name and never change: cached by CloudFront
  and browsers for a year (``immutable``). Everything else (``index.html``, ``config.js``, the icon) is never cached
  by CloudFront (CachingDisabled) and revalidated by browsers on every use (``no-cache``), so a deploy is live at
  once, with no invalidation.
- **SPA routing**: a CloudFront Function answers every path without a file extension (``/orders/42``) with
  ``index.html``; a missing file is a real 404 (the OAC may list the bucket), never the page. The same function
  redirects every other host name (the distribution's ``*.cloudfront.net`` name, ``www.``) to the shop's one origin,
  the only one the API's CORS allows.
- **Headers**: a response headers policy with a strict Content-Security-Policy (:func:`content_security_policy`:
  scripts, styles and images from the storefront itself, ``connect-src`` the API's origin only, ``frame-ancestors
  'none'``), HSTS, nosniff, ``X-Frame-Options: DENY``, a referrer policy, and a Permissions-Policy.
- **Runtime configuration**: ``/config.js`` (:func:`runtime_config_script`) is written at deploy from the other
  stacks' values (the API's URL and its web client key, the user pool and its web client, the region), never built
  into the bundle: the same build serves every environment and `make local`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import custom_resources as cr
from constructs import Construct

from cdk_constructs.log_groups import LogSettings, provider_log_group
from cdk_constructs.retention import removal_policy
from cdk_constructs.user_directory import AWS_CUSTOM_RESOURCE_ID
from config.environment import PriceClass, RemovalMode
from policies.nag import acknowledge, acknowledge_child

# The storefront's built files (`make web`): hashed assets under assets/, the rest at the root.
ASSETS_PREFIX = "assets"
CONFIG_FILE = "config.js"
CONFIG_GLOBAL = "STOREFRONT_CONFIG"  # the name web/src/config.ts reads
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HSTS_SECONDS = 2 * 365 * 24 * 3600
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
_PRICE_CLASSES = {PriceClass.PRICE_CLASS_100: cloudfront.PriceClass.PRICE_CLASS_100,
                  PriceClass.PRICE_CLASS_200: cloudfront.PriceClass.PRICE_CLASS_200,
                  PriceClass.PRICE_CLASS_ALL: cloudfront.PriceClass.PRICE_CLASS_ALL}


def content_security_policy(api_origin: str) -> str:
    """The storefront's CSP: its own scripts, styles and images only (no inline script or style, no eval), calls to
    the API's origin only, no framing, no plugins, no base or form target elsewhere."""
    return "; ".join((
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "font-src 'self'",
        f"connect-src {api_origin}", "manifest-src 'self'", "base-uri 'none'", "form-action 'self'",
        "frame-ancestors 'none'", "object-src 'none'", "upgrade-insecure-requests"))


def runtime_config_script(values: Mapping[str, str]) -> str:
    """``/config.js``: the runtime configuration as a classic script (not fetched: the CSP's connect-src stays the
    API's origin alone). ``values``: apiUrl, apiKey, region, userPoolId, userPoolClientId (web/src/config.ts)."""
    return f"window.{CONFIG_GLOBAL} = {json.dumps(dict(values), indent=1, sort_keys=True)};\n"


def viewer_request_code(domain_name: str) -> str:
    """The CloudFront Function on every request: other host names are redirected to the shop's origin; a path
    without a file extension is a page of the app, answered with index.html."""
    return f"""function handler(event) {{
  var request = event.request;
  var host = request.headers.host ? request.headers.host.value : "";
  if (host !== {json.dumps(domain_name)}) {{
    var query = [];
    for (var name in request.querystring) {{
      var field = request.querystring[name];
      var values = field.multiValue ? field.multiValue : [field];
      for (var i = 0; i < values.length; i++) {{
        query.push(values[i].value === "" ? name : name + "=" + values[i].value);
      }}
    }}
    var location = "https://" + {json.dumps(domain_name)} + request.uri + (query.length ? "?" + query.join("&") : "");
    return {{ statusCode: 301, statusDescription: "Moved Permanently",
             headers: {{ location: {{ value: location }} }} }};
  }}
  if (!/\\.[A-Za-z0-9]+$/.test(request.uri)) {{
    request.uri = "/index.html";
  }}
  return request;
}}
"""


class Storefront(Construct):
    """The storefront's bucket, distribution and deployment (see the module docstring). ``site_dir``: the built
    storefront (web/dist); ``domain_names``: the shop's domain first, then names that redirect to it;
    ``certificate``, ``web_acl_arn``: from us-east-1 (stacks/web_global_stack.py); ``api_origin``: the origin the
    CSP lets the storefront call; ``runtime_config``: what config.js holds (values may be tokens of other stacks,
    resolved at deploy); ``api_key_id``: the web client's API key, whose value is read at deploy into config.js's
    ``apiKey``."""

    def __init__(self, scope: Construct, construct_id: str, *, site_dir: Path, domain_names: Sequence[str],
                 certificate: acm.ICertificate, web_acl_arn: str, api_origin: str,
                 runtime_config: Mapping[str, str], api_key_id: str, price_class: PriceClass,
                 log_settings: LogSettings) -> None:
        super().__init__(scope, construct_id)
        if not (site_dir / "index.html").is_file() or not (site_dir / ASSETS_PREFIX).is_dir():
            raise FileNotFoundError(f"{site_dir} holds no built storefront (index.html and {ASSETS_PREFIX}/): "
                                    "run `make web`")
        removal = log_settings.removal
        destroy = removal == RemovalMode.DESTROY
        self.domain_name = domain_names[0]
        self.url = f"https://{self.domain_name}"

        # S3 server access logs and CloudFront's standard logs. CloudFront's (legacy) standard logging writes with
        # object ACLs, so the bucket's owner must accept them (BUCKET_OWNER_PREFERRED), and it supports SSE-S3 only.
        self.logs_bucket = s3.Bucket(
            self, "LogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(log_settings.retention_days),
                                              noncurrent_version_expiration=cdk.Duration.days(1))],
            removal_policy=removal_policy(removal),
            auto_delete_objects=destroy,
        )
        for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(self.logs_bucket, f"{pack}-S3BucketLoggingEnabled",
                        "This bucket is itself the access log destination of the storefront's bucket and "
                        "distribution; its readers are recorded by CloudTrail, and logging it would recurse.")
            acknowledge(self.logs_bucket, f"{pack}-S3DefaultEncryptionKMS",
                        "CloudFront's standard logging delivers only to buckets encrypted with SSE-S3, so this log "
                        "bucket cannot use a KMS key; it is private, versioned and TLS-only.")
            acknowledge(self.logs_bucket, f"{pack}-S3BucketReplicationEnabled",
                        "Storefront access logs are diagnostic data kept for the log retention period; replicating "
                        "them to another region would double their cost without protecting any business record.")
        acknowledge(self.logs_bucket, "AwsSolutions-S1",
                    "This bucket only receives the storefront's access logs; logging its own access would need a "
                    "second bucket whose logs would need a third, and reads of it are in CloudTrail data events.")

        self.bucket = s3.Bucket(
            self, "SiteBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.logs_bucket,
            server_access_logs_prefix="s3/",
            # Replaced versions (index.html and config.js at each deploy) are kept a while for a rollback by hand.
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(30))],
            removal_policy=removal_policy(removal),
            auto_delete_objects=destroy,
        )
        for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(self.bucket, f"{pack}-S3DefaultEncryptionKMS",
                        "The bucket holds the storefront's public files (HTML, scripts, styles, the public runtime "
                        "configuration) that CloudFront serves to anyone; SSE-S3 encrypts them at rest, and a KMS "
                        "key would protect nothing that is not published anyway.")
            acknowledge(self.bucket, f"{pack}-S3BucketReplicationEnabled",
                        "The bucket's content is rebuilt from the repository by every deploy; versioning keeps "
                        "replaced files, and another region's copy would hold nothing the build cannot recreate.")
        if destroy:
            provider_log_group(self, "AutoDeleteObjectsLogGroup", provider="S3AutoDeleteObjectsCustomResourceProvider",
                               users=[b.node.find_child("AutoDeleteObjectsCustomResource")
                                      for b in (self.bucket, self.logs_bucket)],
                               log_settings=log_settings)

        self.headers = cloudfront.ResponseHeadersPolicy(
            self, "SecurityHeaders",
            comment="Storefront: strict CSP (connect-src the API's origin only), HSTS, no framing, nosniff",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(api_origin), override=True),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=cdk.Duration.seconds(HSTS_SECONDS), include_subdomains=True,
                    preload=True, override=True),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(custom_headers=[
                cloudfront.ResponseCustomHeader(header="Permissions-Policy", value=PERMISSIONS_POLICY,
                                                override=True),
                cloudfront.ResponseCustomHeader(header="Cross-Origin-Opener-Policy", value="same-origin",
                                                override=True),
            ]),
        )
        self.viewer_request = cloudfront.Function(
            self, "ViewerRequest", runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Redirect other host names to the shop; answer app paths with index.html",
            code=cloudfront.FunctionCode.from_inline(viewer_request_code(self.domain_name)))
        # READ and LIST: a file that does not exist is a 404 rather than S3's 403.
        origin = origins.S3BucketOrigin.with_origin_access_control(
            self.bucket, origin_access_levels=[cloudfront.AccessLevel.READ, cloudfront.AccessLevel.LIST])
        self.distribution = cloudfront.Distribution(
            self, "Distribution",
            comment=f"Storefront {self.domain_name}",
            domain_names=list(domain_names),
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_ipv6=True,
            price_class=_PRICE_CLASSES[price_class],
            web_acl_id=web_acl_arn,
            default_root_object="index.html",
            enable_logging=True,
            log_bucket=self.logs_bucket,
            log_file_prefix="cloudfront/",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                response_headers_policy=self.headers,
                compress=True,
                function_associations=[cloudfront.FunctionAssociation(
                    function=self.viewer_request, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)],
            ),
            additional_behaviors={f"/{ASSETS_PREFIX}/*": cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
                compress=True,
            )},
        )
        # LIST lets a visitor learn which keys exist through 404s; the root object is set (a request for "/" never
        # lists the bucket) and the bucket holds the public storefront only.
        cdk.Annotations.of(self.distribution.node.find_child("Origin1")).acknowledge_warning(
            "@aws-cdk/aws-cloudfront-origins:listBucketSecurityRisk",
            "defaultRootObject is index.html and the bucket holds only the public storefront files")
        acknowledge(self.distribution, "AwsSolutions-CFR1",
                    "The shop sells wherever its payment provider and carriers deliver, which the orders service "
                    "decides per order; a country block here would only hide the catalog from browsing visitors.")

        self._deploy(site_dir, runtime_config, api_key_id, log_settings)

    def _deploy(self, site_dir: Path, runtime_config: Mapping[str, str], api_key_id: str,
                log_settings: LogSettings) -> None:
        """Hashed assets first, then the pages that name them and config.js, so no page ever names an asset that
        is not there yet. Nothing is pruned: a page loaded before a deploy still finds its assets."""
        stack = cdk.Stack.of(self)
        # The API key's value exists only once API Gateway made it: read at deploy, never held in a template.
        key = cr.AwsCustomResource(
            self, "ApiKeyValue",
            on_update=cr.AwsSdkCall(service="APIGateway", action="getApiKey",
                                    parameters={"apiKey": api_key_id, "includeValue": True},
                                    physical_resource_id=cr.PhysicalResourceId.of(api_key_id),
                                    output_paths=["value"]),
            policy=cr.AwsCustomResourcePolicy.from_statements([iam.PolicyStatement(
                actions=["apigateway:GET"],
                resources=[stack.format_arn(service="apigateway", account="", resource="/apikeys",
                                            resource_name=api_key_id, arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME)],
            )]),
            log_group=log_settings.log_group(self, "ApiKeyValueLogGroup"),
            install_latest_aws_sdk=False,
        )
        config = {**runtime_config, "apiKey": key.get_response_field("value")}
        self.log_group = log_settings.log_group(self, "DeploymentLogGroup")
        assets = s3deploy.BucketDeployment(
            self, "Assets", destination_bucket=self.bucket, destination_key_prefix=f"{ASSETS_PREFIX}/",
            sources=[s3deploy.Source.asset(str(site_dir / ASSETS_PREFIX))],
            cache_control=[s3deploy.CacheControl.from_string(IMMUTABLE)], prune=False, log_group=self.log_group,
            memory_limit=512)
        pages = s3deploy.BucketDeployment(
            self, "Pages", destination_bucket=self.bucket,
            sources=[s3deploy.Source.asset(str(site_dir), exclude=[f"{ASSETS_PREFIX}/*"]),
                     s3deploy.Source.data(CONFIG_FILE, runtime_config_script(config))],
            cache_control=[s3deploy.CacheControl.from_string(REVALIDATE)], prune=False, log_group=self.log_group,
            memory_limit=512)
        pages.node.add_dependency(assets)
        # The copier runs once the distribution exists, so the site is never published (nor, with ``distribution=``,
        # invalidated) for a distribution CloudFormation has still to create or may roll back.
        for deployment in (assets, pages):
            deployment.node.add_dependency(self.distribution)
        self.deployments = (assets, pages)
        self._acknowledge_deploy_functions(key)

    def _acknowledge_deploy_functions(self, key: cr.AwsCustomResource) -> None:
        """The findings of the deploy-time functions aws-cdk-lib brings (stack-wide singletons: BucketDeployment's
        copier, AwsCustomResource's SDK caller), each acknowledged on the resource it is about."""
        stack = cdk.Stack.of(self)
        copier = next(c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment"))
        caller = stack.node.find_child(AWS_CUSTOM_RESOURCE_ID)
        jobs = {copier: "copy the storefront's files and its config.js into the site bucket",
                caller: "read the web client's API key value, which config.js carries"}
        for fn, job in jobs.items():
            for finding in ("NIST.800.53.R5-LambdaConcurrency", "NIST.800.53.R5-LambdaDLQ",
                            "NIST.800.53.R5-LambdaInsideVPC", "PCI.DSS.321-LambdaInsideVPC"):
                acknowledge(fn, finding, f"It runs only inside CloudFormation deployments of this stack, to {job}; "
                                         "a failure fails the deployment, and it needs no network beyond AWS APIs.")
            acknowledge_child(fn, "ServiceRole",
                              "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                              "AWSLambdaBasicExecutionRole]",
                              "This deploy-time function of aws-cdk-lib writes only its own logs with this policy; "
                              "what it may read and write is its separate, resource-scoped policy.")
        acknowledge(copier, "AwsSolutions-L1",
                    "aws-cdk-lib pins the runtime of BucketDeployment's copier with its bundled AWS CLI layer; it "
                    "moves to a newer runtime with aws-cdk-lib, which requirements.txt pins.")
        policy = copier.node.find_child("ServiceRole").node.find_child("DefaultPolicy")
        for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(policy, f"{pack}-IAMNoInlinePolicy",
                        "aws-cdk-lib writes this policy for BucketDeployment's copier alone: read the staged "
                        "storefront assets, write the site bucket; it is used only during deployments.")
            acknowledge(key.node.find_child("CustomResourcePolicy"), f"{pack}-IAMNoInlinePolicy",
                        "aws-cdk-lib writes this policy for the one SDK call reading the web client's API key value "
                        "(apigateway:GET on that key alone), used only during deployments.")
        wildcards = {
            "Action::s3:GetBucket*": "reads the staged asset bucket's location and the site bucket's metadata",
            "Action::s3:GetObject*": "reads the storefront's staged asset archives",
            "Action::s3:List*": "lists the site bucket to compare what it holds with what it copies",
            "Action::s3:Abort*": "aborts its own multipart uploads into the site bucket when a copy fails",
            "Action::s3:DeleteObject*": "may replace objects of the site bucket (nothing is pruned: prune=False)",
            f"Resource::arn:aws:s3:::cdk-hnb659fds-assets-{stack.account}-{stack.region}/*":
                "reads objects of the CDK bootstrap's asset bucket, where the deploy stages the storefront's files",
            f"Resource::<{stack.get_logical_id(self.bucket.node.default_child)}.Arn>/*":  # type: ignore[arg-type]
                "writes any object of the site bucket, which holds the storefront's files and nothing else",
        }
        for finding, what in wildcards.items():
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]",
                        f"BucketDeployment's copier (aws-cdk-lib) {what}; the grant is aws-cdk-lib's, limited to "
                        "those two buckets, and used only during deployments.")
