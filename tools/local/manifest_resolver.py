"""The Services stack's Kubernetes manifests, read from a cloud assembly and resolved to the local platform.

The assembly is read by the preflight suite's reader (tools/assembly.py): the manifests of the
``Custom::AWSCDK-EKS-KubernetesResource`` resources with their tokens kept as intrinsics, and references followed
across stacks (``Fn::ImportValue`` through the producing stack's export, ``Fn::GetStackOutput`` through its output)
to the resource they name. :class:`Resolver` evaluates every intrinsic as CloudFormation would (``Ref``,
``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``), identifies each resource it reaches by
its type and ``aws:cdk:path`` metadata, and asks :class:`LocalCounterparts` for the local value (a queue URL in
moto, the user pool id, an SES configuration set's name, ...). Values that name an endpoint rather than a
resource (the Cognito JWKS and token URLs, cluster DNS names, the CloudWatch agent) are rewritten afterwards by
:meth:`LocalCounterparts.endpoint`, one table of patterns. Anything it cannot map raises :class:`UnresolvedToken`
naming the token, so no manifest reaches a container half-resolved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config import topology
from config.topology import Service
from tools.assembly import Assembly, Resource

Manifest = dict[str, Any]
INTRINSICS = ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::ImportValue",
              "Fn::GetStackOutput", "Fn::Base64")


class UnresolvedToken(ValueError):
    """A token the resolver cannot follow or map to the local platform."""


@dataclass(frozen=True)
class ResourceRef:
    """A resource a token leads to: its stack, logical id, type, construct path (without the stack) and attribute
    (``None`` for ``Ref``)."""

    stack: str
    logical_id: str
    type: str
    path: tuple[str, ...]
    attribute: str | None

    def describe(self) -> str:
        what = "Ref" if self.attribute is None else f"GetAtt {self.attribute}"
        return f"{what} of {self.type} {'/'.join((self.stack, *self.path))}"


class LocalCounterparts:
    """What stands in, locally, for the resources and endpoints the manifests name. Subclassed by nothing: filled
    by the local platform once it has created its resources in moto."""

    def __init__(self, *, region: str, account: str, aws_endpoint: str, token_url: str,
                 service_url: Callable[[str], str], collector_otlp: str, collector_emf: str,
                 topic_arns: Mapping[str, str], queue_urls: Mapping[str, str], dlq_urls: Mapping[str, str],
                 tables: Mapping[Service, str], user_pool_id: str, web_client_id: str,
                 service_client_ids: Mapping[Service, str], service_secret_arns: Mapping[Service, str],
                 db_secret_arn: str, images: Callable[[str], str] | None = None,
                 configuration_sets: Mapping[str, str] | None = None, payment_webhook_secret_arn: str = "") -> None:
        self.region, self.account = region, account
        self.aws_endpoint, self.token_url = aws_endpoint, token_url
        self.service_url = service_url  # "<name>.<namespace>.svc.cluster.local:<port>" -> base URL
        self.collector_otlp, self.collector_emf = collector_otlp, collector_emf
        self.topic_arns, self.queue_urls, self.dlq_urls = topic_arns, queue_urls, dlq_urls
        self.tables, self.user_pool_id, self.web_client_id = tables, user_pool_id, web_client_id
        self.service_client_ids, self.service_secret_arns = service_client_ids, service_secret_arns
        self.db_secret_arn = db_secret_arn
        self.payment_webhook_secret_arn = payment_webhook_secret_arn
        self.images = images
        # SES configuration sets by the construct id of their owner (e.g. "NotificationEmail") -> local name.
        self.configuration_sets = dict(configuration_sets or {})

    # --- pseudo parameters -----------------------------------------------------------------------------------
    def pseudo(self, name: str) -> str:
        values = {"AWS::Region": self.region, "AWS::AccountId": self.account, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com"}
        if name not in values:
            raise UnresolvedToken(f"Ref {name}: no local value for this pseudo parameter")
        return values[name]

    # --- resources -------------------------------------------------------------------------------------------
    def resource(self, r: ResourceRef) -> str:
        rule = _RULES.get(r.type)
        if rule is None:
            raise UnresolvedToken(f"{r.describe()}: no local counterpart for resources of this type")
        value = rule(self, r)
        if value is None:
            raise UnresolvedToken(f"{r.describe()}: no local counterpart for this resource or attribute")
        return value

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def _queue(self, r: ResourceRef) -> str | None:
        queue = next((q for q in topology.QUEUES if q.construct_id == r.path[0]), None)
        if queue is None:
            return None
        url = (self.dlq_urls if r.path[1] == "DeadLetterQueue" else self.queue_urls)[queue.name]
        name = url.rstrip("/").rsplit("/", 1)[-1]
        return {None: url, "QueueUrl": url, "QueueName": name, "Arn": self._arn("sqs", name)}.get(r.attribute)

    def _topic(self, r: ResourceRef) -> str | None:
        topic = next((t for t in topology.TOPICS if t.construct_id == r.path[0]), None)
        if topic is None:
            return None
        arn = self.topic_arns[topic.name]
        return {None: arn, "TopicArn": arn, "TopicName": arn.rsplit(":", 1)[-1]}.get(r.attribute)

    def _table(self, r: ResourceRef) -> str | None:
        table = next((t for t in topology.TABLES if t.construct_id == r.path[0]), None)
        if table is None:
            return None
        name = self.tables[table.service]
        return {None: name, "Arn": self._arn("dynamodb", f"table/{name}")}.get(r.attribute)

    def _caller(self, construct_id: str, suffix: str) -> Service | None:
        for service in Service:
            if construct_id == f"{service.value.capitalize()}{suffix}":
                return service
        return None

    def _user_pool_client(self, r: ResourceRef) -> str | None:
        if r.attribute is not None:
            return None
        if r.path[-1] == "WebClient":
            return self.web_client_id
        caller = self._caller(r.path[-1], "ServiceClient")
        return self.service_client_ids.get(caller) if caller else None

    def _secret(self, r: ResourceRef) -> str | None:
        if r.attribute is not None:
            return None
        if r.path[0] == "OrdersDatabase":  # the cluster's generated secret and its attachment: the same ARN
            return self.db_secret_arn
        if r.path[0] == "PaymentWebhook":
            return self.payment_webhook_secret_arn or None
        caller = self._caller(r.path[-1], "ServiceClientSecret")
        return self.service_secret_arns.get(caller) if caller else None

    def _user_pool(self, r: ResourceRef) -> str | None:
        pool = self.user_pool_id
        return {None: pool, "Arn": self._arn("cognito-idp", f"userpool/{pool}"),
                "ProviderURL": f"cognito-idp.{self.region}.amazonaws.com/{pool}"}.get(r.attribute)

    def _configuration_set(self, r: ResourceRef) -> str | None:
        name = self.configuration_sets.get(r.path[0])
        return name if r.attribute is None else None

    def _domain(self, r: ResourceRef) -> str | None:
        # The token URL built from it is replaced as a whole by `endpoint`; the prefix only has to be stable.
        return f"local-{self.user_pool_id.split('_')[-1].lower()}" if r.attribute is None else None

    def _not_local(self, r: ResourceRef) -> str:
        """Resources that exist only in AWS (a pod role, a target group, a security group): the manifests carry
        them for the cluster's controllers, which do not run here. A stable local identifier keeps them visible."""
        return f"local:{r.type}:{'/'.join(r.path)}"

    # --- endpoints -------------------------------------------------------------------------------------------
    def endpoint(self, value: str) -> str:
        """A resolved string with every AWS or cluster endpoint in it replaced by its local counterpart."""
        for pattern, replace in self._endpoint_rules():
            value = pattern.sub(replace, value)
        return value

    def _endpoint_rules(self) -> list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]]:
        return [
            # Cognito's JWKS (moto serves it under /<pool id>/); the issuer itself stays as Cognito writes it.
            (re.compile(r"https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/([\w-]+)/\.well-known/jwks\.json"),
             lambda m: f"{self.aws_endpoint}/{m.group(1)}/.well-known/jwks.json"),
            # The pool domain's OAuth2 token endpoint: moto has none; tools/local/local_token_endpoint.py stands in.
            (re.compile(r"https://[\w-]+\.auth\.[a-z0-9-]+\.amazoncognito\.com/oauth2/token"),
             lambda m: self.token_url),
            # The CloudWatch agent of the Observability add-on: the local collector (tools/local/otel_collector.py).
            (re.compile(r"http://cloudwatch-agent\.amazon-cloudwatch\.svc\.cluster\.local:\d+"),
             lambda m: self.collector_otlp),
            (re.compile(r"udp://cloudwatch-agent\.amazon-cloudwatch\.svc\.cluster\.local:\d+"),
             lambda m: self.collector_emf),
            # A Service's cluster DNS name: the process or the container (network alias) serving it.
            (re.compile(r"http://([a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local:\d+)"),
             lambda m: self.service_url(m.group(1))),
            # An image asset in the bootstrap repository: the image `make images` built from the staged folder.
            (re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[\w./-]+:[\w.-]+$"),
             lambda m: self._image(m.group(0))),
        ]

    def _image(self, uri: str) -> str:
        if self.images is None:
            return uri  # processes mode: no image is run
        return self.images(uri)


def _path(resource: Resource) -> tuple[str, ...]:
    path = resource.attributes.get("Metadata", {}).get("aws:cdk:path")
    if not path:
        raise UnresolvedToken(f"{resource.name}: no aws:cdk:path metadata (synthesize with path metadata, as the "
                              "CLI does)")
    parts = tuple(path.split("/")[1:])  # without the stack
    return parts[:-1] if parts[-1] in ("Resource", "Default") else parts


_Rule = Callable[[LocalCounterparts, ResourceRef], "str | None"]
_RULES: dict[str, _Rule] = {
    "AWS::SQS::Queue": LocalCounterparts._queue,
    "AWS::SNS::Topic": LocalCounterparts._topic,
    "AWS::DynamoDB::Table": LocalCounterparts._table,
    "AWS::DynamoDB::GlobalTable": LocalCounterparts._table,
    "AWS::Cognito::UserPool": LocalCounterparts._user_pool,
    "AWS::Cognito::UserPoolClient": LocalCounterparts._user_pool_client,
    "AWS::Cognito::UserPoolDomain": LocalCounterparts._domain,
    "AWS::SecretsManager::Secret": LocalCounterparts._secret,
    "AWS::SecretsManager::SecretTargetAttachment": LocalCounterparts._secret,
    "AWS::SES::ConfigurationSet": LocalCounterparts._configuration_set,
    "AWS::IAM::Role": LocalCounterparts._not_local,
    "AWS::ElasticLoadBalancingV2::TargetGroup": LocalCounterparts._not_local,
    "AWS::EC2::SecurityGroup": LocalCounterparts._not_local,
}


@dataclass
class Resolver:
    assembly: Assembly
    local: LocalCounterparts
    seen: set[str] = field(default_factory=set)  # resources resolved so far (describe()), for reports

    def resolve(self, value: Any, stack: str) -> Any:
        """A template value (string, list, dict with an intrinsic) with every intrinsic evaluated locally."""
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return [self.resolve(v, stack) for v in value]
        if isinstance(value, dict):
            if len(value) == 1 and next(iter(value)) in INTRINSICS:
                (fn, arg), = value.items()
                return self._intrinsic(fn, arg, stack)
            return {k: self.resolve(v, stack) for k, v in value.items()}
        return value

    def _intrinsic(self, fn: str, arg: Any, stack: str) -> Any:
        if fn == "Ref" and isinstance(arg, str) and arg.startswith("AWS::"):
            return self.local.pseudo(arg)
        if fn in ("Ref", "Fn::GetAtt", "Fn::ImportValue", "Fn::GetStackOutput"):
            target = self.assembly.target(stack, {fn: arg})
            if target is None:
                raise UnresolvedToken(f"{fn} {json.dumps(arg)} in {stack}: no resource of the assembly behind it")
            return self._resource(target.stack, target.logical_id, target.attribute)
        if fn == "Fn::Join":
            sep, parts = arg
            return str(sep).join(str(self.resolve(p, stack)) for p in parts)
        if fn == "Fn::Select":
            index, items = arg
            return self.resolve(items, stack)[int(self.resolve(index, stack))]
        if fn == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text, stack)).split(sep)
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            values = {k: str(self.resolve(v, stack)) for k, v in variables.items()}

            def sub(m: re.Match[str]) -> str:
                name = m.group(1)
                if name in values:
                    return values[name]
                if name.startswith("AWS::"):
                    return self.local.pseudo(name)
                logical_id, _, attribute = name.partition(".")
                return self._resource(stack, logical_id, attribute or None)

            return re.sub(r"\$\{([^!}][^}]*)\}", sub, text)
        raise UnresolvedToken(f"{fn}: not supported by the local resolver")

    def _resource(self, stack: str, logical_id: str, attribute: str | None) -> str:
        resource = self.assembly.resource(stack, logical_id)
        if resource is None:
            raise UnresolvedToken(f"{stack}: no resource {logical_id}")
        ref = ResourceRef(stack=stack, logical_id=logical_id, type=resource.type, path=_path(resource),
                          attribute=attribute)
        self.seen.add(ref.describe())
        return self.local.resource(ref)

    # --- manifests -------------------------------------------------------------------------------------------
    def manifests(self, part: str = "Services") -> list[Manifest]:
        """Every Kubernetes object the stack ``<Env>-<part>`` applies, tokens resolved and endpoints made local."""
        return [_map_strings(self.resolve(o.manifest, o.resource.stack), self.local.endpoint)
                for o in self.assembly.objects() if o.resource.stack.split("-", 1)[-1] == part]


def _map_strings(value: Any, f: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return f(value)
    if isinstance(value, list):
        return [_map_strings(v, f) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, f) for k, v in value.items()}
    return value


def deployments(manifests: list[Manifest]) -> dict[str, Manifest]:
    """Deployments by name (``<service>-<component>``)."""
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Deployment"}


def environment(deployment: Manifest) -> dict[str, str]:
    """The first container's environment as the manifest gives it (name -> value)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: str(e["value"]) for e in container.get("env", [])}


def service_aliases(manifests: list[Manifest]) -> dict[str, tuple[str, ...]]:
    """Deployment name -> the cluster DNS names (``<service>.<namespace>.svc.cluster.local``) of the Services whose
    selector matches its pods."""
    out: dict[str, tuple[str, ...]] = {}
    for d in manifests:
        if d["kind"] != "Deployment":
            continue
        labels = d["spec"]["template"]["metadata"].get("labels", {})
        out[d["metadata"]["name"]] = tuple(
            f"{s['metadata']['name']}.{s['metadata']['namespace']}.svc.cluster.local" for s in manifests
            if s["kind"] == "Service" and s["metadata"]["namespace"] == d["metadata"]["namespace"]
            and s["spec"].get("selector") and s["spec"]["selector"].items() <= labels.items())
    return out
