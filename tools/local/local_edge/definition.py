"""The API as the synthesized templates define it: what the local edge enforces, read from the cloud assembly.

Everything comes from the Edge stack's template (RestApi, Resources, Methods, Models, RequestValidators, Authorizer,
ApiKey and UsagePlan, Stage, GatewayResponses, Integrations) except which service answers an integration URI,
which follows the template the way the traffic does: URI port -> NLB listener -> its target group -> the
TargetGroupBinding in the Services stack's manifests that registers that service's pods in it. Anything the reader
does not understand stops it with the resource and property at fault, so a template change the local edge cannot
enforce is noticed instead of ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from config.environment import API_CLIENT_TAG, ApiClient
from config.topology import Service
from tools.assembly import Assembly, AssemblyError

Template = Mapping[str, Any]


class DefinitionError(ValueError):
    """The template holds something the local edge cannot enforce as API Gateway would."""


@dataclass(frozen=True)
class Integration:
    type: str  # HTTP_PROXY or MOCK
    http_method: str
    service: Service | None  # HTTP_PROXY: the service behind the URI's listener
    path: str  # HTTP_PROXY: the URI's path, with {param} placeholders
    request_parameters: Mapping[str, str]  # integration.request.<where>.<name> -> its source expression
    timeout_seconds: float
    mock_status: int = 200  # MOCK: status of the integration response
    mock_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    http_method: str
    resource_path: str  # e.g. /orders/{orderId}
    authorization: str  # NONE or COGNITO_USER_POOLS
    authorizer: str | None  # logical id of the authorizer
    scopes: tuple[str, ...]
    api_key_required: bool
    validate_body: bool
    validate_parameters: bool
    required_parameters: tuple[str, ...]  # method.request.<where>.<name> marked required
    models: Mapping[str, Mapping[str, Any]]  # content type -> JSON Schema (draft 4)
    integration: Integration


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None  # None: the response type's default
    templates: Mapping[str, str]
    headers: Mapping[str, str]  # header -> static value (the template's 'quoted' values)


@dataclass(frozen=True)
class Throttle:
    rate: float
    burst: int


@dataclass(frozen=True)
class Quota:
    limit: int
    period: str  # DAY, WEEK or MONTH
    offset: int = 0


@dataclass(frozen=True)
class EdgeDefinition:
    api_name: str
    stage: str
    tracing: bool
    methods: Mapping[tuple[str, str], Method]  # (resource path, HTTP method)
    resource_paths: frozenset[str]
    authorizers: Mapping[str, str]  # logical id -> type
    stage_throttle: Throttle | None
    usage_plan_throttle: Throttle | None
    usage_plan_quota: Quota | None
    usage_plan_has_key: bool
    gateway_responses: Mapping[str, GatewayResponse]
    services: frozenset[Service] = frozenset()

    @classmethod
    def from_assembly(cls, assembly: Path, stack_prefix: str) -> EdgeDefinition:
        """Read ``<prefix>-Edge`` and ``<prefix>-Services`` from a cloud assembly directory (cdk.out)."""
        try:
            stacks = Assembly(assembly).stacks
            edge, services = (stacks[f"{stack_prefix}-{part}"].template for part in ("Edge", "Services"))
        except (AssemblyError, KeyError) as err:
            raise DefinitionError(f"{assembly}: no {stack_prefix}-Edge and {stack_prefix}-Services stacks ({err}): "
                                  "synthesize the app first (make synth)") from err
        return cls.from_templates(edge, services, edge_stack_name=f"{stack_prefix}-Edge")

    @classmethod
    def from_templates(cls, edge: Template, services: Template, *, edge_stack_name: str) -> EdgeDefinition:
        return _Reader(edge, services, edge_stack_name).definition()

    def with_origin(self, synthesized: str, local: str) -> EdgeDefinition:
        """The same API with every header value that names ``synthesized`` (the storefront's origin in AWS, which
        the CORS preflight and the gateway responses carry) naming ``local`` (the storefront `make local` serves)
        instead: CORS as synthesized, for the local storefront."""

        def swap(headers: Mapping[str, str]) -> dict[str, str]:
            return {k: local if v == synthesized else v for k, v in headers.items()}

        methods = {key: replace(m, integration=replace(m.integration, mock_headers=swap(m.integration.mock_headers)))
                   for key, m in self.methods.items()}
        responses = {key: replace(r, headers=swap(r.headers)) for key, r in self.gateway_responses.items()}
        return replace(self, methods=methods, gateway_responses=responses)


class _Reader:
    def __init__(self, edge: Template, services: Template, edge_stack_name: str) -> None:
        self.edge = edge
        self.resources: Mapping[str, Any] = edge["Resources"]
        self.services = services
        self.edge_stack_name = edge_stack_name

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties", {}) for k, v in self.resources.items() if v["Type"] == kind}

    def one(self, kind: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(kind)
        if len(found) != 1:
            raise DefinitionError(f"expected exactly one {kind}, found {len(found)}")
        return next(iter(found.items()))

    def definition(self) -> EdgeDefinition:
        api_id, api = self.one("AWS::ApiGateway::RestApi")
        _, stage = self.one("AWS::ApiGateway::Stage")
        paths = self.resource_paths(api_id)
        validators = {k: (bool(v.get("ValidateRequestBody")), bool(v.get("ValidateRequestParameters")))
                      for k, v in self.of_type("AWS::ApiGateway::RequestValidator").items()}
        models = {k: v for k, v in self.of_type("AWS::ApiGateway::Model").items()}
        listeners = self.listener_services()
        methods: dict[tuple[str, str], Method] = {}
        for logical_id, m in self.of_type("AWS::ApiGateway::Method").items():
            method = self.method(logical_id, m, paths, validators, models, listeners)
            methods[(method.resource_path, method.http_method)] = method
        authorizers = {k: str(v["Type"]) for k, v in self.of_type("AWS::ApiGateway::Authorizer").items()}
        for k, v in self.of_type("AWS::ApiGateway::Authorizer").items():
            if v["Type"] != "COGNITO_USER_POOLS" or v.get("IdentitySource") != "method.request.header.Authorization":
                raise DefinitionError(f"{k}: only Cognito authorizers reading the Authorization header are enforced")
        plan_id, plan = self.storefront_plan()
        keys = [v for v in self.of_type("AWS::ApiGateway::UsagePlanKey").values()
                if v.get("UsagePlanId") == {"Ref": plan_id}]
        quota = plan.get("Quota")
        return EdgeDefinition(
            api_name=str(api.get("Name", api_id)),
            stage=str(stage["StageName"]),
            tracing=bool(stage.get("TracingEnabled")),
            methods=methods,
            resource_paths=frozenset(paths.values()),
            authorizers=authorizers,
            stage_throttle=self.stage_throttle(stage),
            usage_plan_throttle=(Throttle(float(plan["Throttle"]["RateLimit"]), int(plan["Throttle"]["BurstLimit"]))
                                 if plan.get("Throttle") else None),
            usage_plan_quota=(Quota(int(quota["Limit"]), str(quota["Period"]), int(quota.get("Offset", 0)))
                              if quota else None),
            usage_plan_has_key=bool(keys),
            gateway_responses=self.gateway_responses(),
            services=frozenset(listeners.values()),
        )

    def storefront_plan(self) -> tuple[str, dict[str, Any]]:
        """The storefront's usage plan (tagged ``api-client: storefront``; the only plan of a template without the
        tag). `make local` has one API key, standing for every client, and it gets the customers' plan."""
        plans = self.of_type("AWS::ApiGateway::UsagePlan")
        if len(plans) == 1:
            return next(iter(plans.items()))
        tagged = [(k, v) for k, v in plans.items()
                  if {"Key": API_CLIENT_TAG, "Value": ApiClient.STOREFRONT.value} in v.get("Tags", [])]
        if len(tagged) != 1:
            raise DefinitionError(f"expected one AWS::ApiGateway::UsagePlan tagged {API_CLIENT_TAG}="
                                  f"{ApiClient.STOREFRONT.value} among {len(plans)}, found {len(tagged)}")
        return tagged[0]

    def resource_paths(self, api_id: str) -> dict[str, str]:
        """Logical id (or the root's GetAtt key) -> full resource path."""
        resources = self.of_type("AWS::ApiGateway::Resource")
        root = f"{api_id}.RootResourceId"
        paths: dict[str, str] = {root: "/"}

        def path_of(ref: Any) -> str:
            key = _ref_key(ref)
            if key in paths:
                return paths[key]
            if key not in resources:
                raise DefinitionError(f"resource {ref} is not in the template")
            parent = path_of(resources[key]["ParentId"])
            paths[key] = parent.rstrip("/") + "/" + str(resources[key]["PathPart"])
            return paths[key]

        for key in resources:
            path_of({"Ref": key})
        return paths

    def method(self, logical_id: str, m: dict[str, Any], paths: Mapping[str, str],
               validators: Mapping[str, tuple[bool, bool]], models: Mapping[str, dict[str, Any]],
               listeners: Mapping[int, Service]) -> Method:
        validate_body = validate_params = False
        if "RequestValidatorId" in m:
            validate_body, validate_params = validators[_ref_key(m["RequestValidatorId"])]
        request_models = {ctype: models[_ref_key(ref)]["Schema"] for ctype, ref in m.get("RequestModels", {}).items()}
        authorization = str(m.get("AuthorizationType", "NONE"))
        if authorization not in ("NONE", "COGNITO_USER_POOLS"):
            raise DefinitionError(f"{logical_id}: AuthorizationType {authorization} is not enforced locally")
        return Method(
            http_method=str(m["HttpMethod"]),
            resource_path=paths[_ref_key(m["ResourceId"])],
            authorization=authorization,
            authorizer=_ref_key(m["AuthorizerId"]) if "AuthorizerId" in m else None,
            scopes=tuple(m.get("AuthorizationScopes", ())),
            api_key_required=bool(m.get("ApiKeyRequired")),
            validate_body=validate_body,
            validate_parameters=validate_params,
            required_parameters=tuple(k for k, required in m.get("RequestParameters", {}).items() if required),
            models=request_models,
            integration=self.integration(logical_id, m["Integration"], listeners),
        )

    def integration(self, logical_id: str, i: dict[str, Any], listeners: Mapping[int, Service]) -> Integration:
        kind = str(i["Type"])
        if kind == "MOCK":
            return self.mock(logical_id, i)
        if kind != "HTTP_PROXY":
            raise DefinitionError(f"{logical_id}: integration type {kind} is not emulated")
        parts = _join_parts(i["Uri"])
        text = "".join(p if isinstance(p, str) else "{host}" for p in parts)
        match = re.fullmatch(r"http://\{host}:(\d+)(/.*)", text)
        hosts = [p for p in parts if not isinstance(p, str)]
        if not match or len(hosts) != 1 or _ref_key(hosts[0]).split(".")[1:] != ["DNSName"]:
            raise DefinitionError(f"{logical_id}: integration URI {i['Uri']} is not http://<NLB DNS>:<port>/<path>")
        port = int(match[1])
        if port not in listeners:
            raise DefinitionError(f"{logical_id}: no NLB listener on port {port} forwards to a bound target group")
        return Integration(
            type=kind, http_method=str(i["IntegrationHttpMethod"]), service=listeners[port], path=match[2],
            request_parameters=dict(i.get("RequestParameters", {})),
            timeout_seconds=int(i.get("TimeoutInMillis", 29000)) / 1000)

    @staticmethod
    def mock(logical_id: str, i: dict[str, Any]) -> Integration:
        template = str(i.get("RequestTemplates", {}).get("application/json", "{ statusCode: 200 }"))
        match = re.fullmatch(r"\{\s*\"?statusCode\"?\s*:\s*(\d+)\s*}", template.strip())
        responses = [r for r in i.get("IntegrationResponses", []) if "SelectionPattern" not in r]
        if not match or len(responses) != 1 or responses[0].get("ResponseTemplates"):
            raise DefinitionError(f"{logical_id}: only a MOCK with a static status and one default response "
                                  "of static headers (CDK's CORS preflight) is emulated")
        headers = {}
        for name, value in responses[0].get("ResponseParameters", {}).items():
            if not (isinstance(value, str) and value.startswith("'") and value.endswith("'")):
                raise DefinitionError(f"{logical_id}: response parameter {name} is not a static value")
            headers[name.removeprefix("method.response.header.")] = value[1:-1]
        return Integration(type="MOCK", http_method="", service=None, path="", request_parameters={},
                           timeout_seconds=29, mock_status=int(responses[0]["StatusCode"]), mock_headers=headers)

    def listener_services(self) -> dict[int, Service]:
        """NLB listener port -> the service whose TargetGroupBinding registers pods in the listener's group."""
        bound = self.bound_target_groups()
        out: dict[int, Service] = {}
        for logical_id, listener in self.of_type("AWS::ElasticLoadBalancingV2::Listener").items():
            actions = [a for a in listener.get("DefaultActions", []) if a.get("Type") == "forward"]
            if len(actions) != 1:
                raise DefinitionError(f"{logical_id}: expected one forward action")
            group = _ref_key(actions[0]["TargetGroupArn"])
            if group in bound:
                out[int(listener["Port"])] = bound[group]
        return out

    def bound_target_groups(self) -> dict[str, Service]:
        """Edge target group logical id -> the service a TargetGroupBinding (Services stack) binds to it."""
        out: dict[str, Service] = {}
        for manifest, tokens in self.services_manifests():
            if manifest.get("kind") != "TargetGroupBinding":
                continue
            arn = manifest["spec"]["targetGroupARN"]
            group = self.edge_output_ref(tokens.get(arn))
            name = manifest["spec"]["serviceRef"]["name"]
            try:
                out[group] = Service(name)
            except ValueError:
                raise DefinitionError(f"TargetGroupBinding to unknown service {name!r}") from None
        return out

    def services_manifests(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """Every Kubernetes manifest the Services stack applies, tokens replaced by placeholders (and their map)."""
        for logical_id, res in self.services["Resources"].items():
            if res["Type"] != "Custom::AWSCDK-EKS-KubernetesResource":
                continue
            raw = res["Properties"]["Manifest"]
            tokens: dict[str, Any] = {}
            text = raw if isinstance(raw, str) else ""
            if not isinstance(raw, str):
                for i, part in enumerate(_join_parts(raw)):
                    if isinstance(part, str):
                        text += part
                    else:
                        placeholder = f"@@token{i}@@"
                        tokens[placeholder] = part
                        text += placeholder
            try:
                manifests = json.loads(text)
            except ValueError as exc:
                raise DefinitionError(f"{logical_id}: manifest is not JSON: {exc}") from None
            for manifest in manifests if isinstance(manifests, list) else [manifests]:
                yield manifest, tokens

    def edge_output_ref(self, token: Any) -> str:
        """The Edge resource a cross-stack reference points at (weak: Fn::GetStackOutput, strong: Fn::ImportValue)."""
        outputs: Mapping[str, Any] = self.edge.get("Outputs", {})
        if isinstance(token, dict) and "Fn::GetStackOutput" in token:
            ref = token["Fn::GetStackOutput"]
            if ref.get("StackName") == self.edge_stack_name and ref.get("OutputName") in outputs:
                return _ref_key(outputs[ref["OutputName"]]["Value"])
        if isinstance(token, dict) and "Fn::ImportValue" in token:
            name = token["Fn::ImportValue"]
            for output in outputs.values():
                if output.get("Export", {}).get("Name") == name:
                    return _ref_key(output["Value"])
        raise DefinitionError(f"target group reference {token} does not resolve to an output of {self.edge_stack_name}")

    @staticmethod
    def stage_throttle(stage: dict[str, Any]) -> Throttle | None:
        for setting in stage.get("MethodSettings", []):
            if setting.get("HttpMethod") == "*" and setting.get("ResourcePath") == "/*":
                if "ThrottlingRateLimit" in setting or "ThrottlingBurstLimit" in setting:
                    return Throttle(float(setting["ThrottlingRateLimit"]), int(setting["ThrottlingBurstLimit"]))
            elif any(k.startswith("Throttling") for k in setting):
                raise DefinitionError("per-method stage throttling is not emulated")
        return None

    def gateway_responses(self) -> dict[str, GatewayResponse]:
        out = {}
        for logical_id, g in self.of_type("AWS::ApiGateway::GatewayResponse").items():
            headers = {}
            for name, value in g.get("ResponseParameters", {}).items():
                if not (isinstance(value, str) and value.startswith("'") and value.endswith("'")):
                    raise DefinitionError(f"{logical_id}: response parameter {name} is not a static value")
                headers[name.removeprefix("gatewayresponse.header.")] = value[1:-1]
            out[str(g["ResponseType"])] = GatewayResponse(
                status=int(g["StatusCode"]) if "StatusCode" in g else None,
                templates=dict(g.get("ResponseTemplates", {})), headers=headers)
        return out


def _ref_key(ref: Any) -> str:
    """``{"Ref": X}`` -> X; ``{"Fn::GetAtt": [X, A]}`` -> "X.A"."""
    if isinstance(ref, dict) and "Ref" in ref:
        return str(ref["Ref"])
    if isinstance(ref, dict) and "Fn::GetAtt" in ref:
        target, attribute = ref["Fn::GetAtt"]
        return f"{target}.{attribute}"
    raise DefinitionError(f"expected a Ref or Fn::GetAtt, got {ref}")


def _join_parts(value: Any) -> list[Any]:
    """The parts of an ``Fn::Join`` with an empty delimiter (or a plain string)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and "Fn::Join" in value and value["Fn::Join"][0] == "":
        return list(value["Fn::Join"][1])
    raise DefinitionError(f"expected a string or Fn::Join, got {value}")
