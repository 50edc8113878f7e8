"""Reads a cloud assembly (a `cdk.out`-style directory) as the CLI would deploy it: the manifest, every stack's
template and asset manifest, and the Kubernetes objects and Helm values carried inside the EKS custom resources.

Kubernetes manifests reach CloudFormation as JSON text with tokens spliced in by ``Fn::Join`` (an image URI, a
role ARN, a target group ARN). :func:`parse_json_with_tokens` parses that text once, exactly: each token becomes the
intrinsic it is (``{"Fn::GetAtt": [...]}``) where it fills a whole JSON string, or a ``Fn::Join`` of literal text
and intrinsics where it is part of one, so that checks can follow it to the resource it names (:meth:`Assembly.target`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

STACK_ARTIFACT = "aws:cloudformation:stack"
KUBERNETES_RESOURCE = "Custom::AWSCDK-EKS-KubernetesResource"
HELM_CHART = "Custom::AWSCDK-EKS-HelmChart"

# Private-use code points: they cannot occur in CloudFormation literals of a manifest, so they delimit a token's
# place in the JSON text unambiguously.
_OPEN, _CLOSE = "\ue000", "\ue001"


class AssemblyError(ValueError):
    """The directory is not a readable cloud assembly, or a manifest inside it cannot be parsed."""


def synthesize(config: Any, outdir: Path) -> Path:
    """Synthesize one environment (an ``EnvironmentConfig``) into ``outdir`` in this process, without the nag packs
    (the checks that read it do not need them)."""
    # Construct paths in the template metadata, as `cdk synth` writes them, so findings can name them. The CDK app
    # reads this from its environment, and its Node process starts with aws-cdk-lib's first import just below.
    os.environ.setdefault("CDK_CONTEXT_JSON", json.dumps({"aws:cdk:enable-path-metadata": True}))
    from stacks.platform import build_app

    app, _ = build_app(config, outdir=str(outdir), nag=False)
    app.synth()
    return outdir


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]
    attributes: dict[str, Any]  # DeletionPolicy, UpdateReplacePolicy, DependsOn, Metadata, Condition

    @property
    def path(self) -> str:
        """The construct path (`aws:cdk:path`), or the logical id when the template carries no metadata."""
        return str(self.attributes.get("Metadata", {}).get("aws:cdk:path", f"{self.stack}/{self.logical_id}"))

    @property
    def name(self) -> str:
        """How findings name the resource: stack, logical id and construct path (when the template records it)."""
        path = self.attributes.get("Metadata", {}).get("aws:cdk:path")
        return f"{self.stack}/{self.logical_id}" + (f" ({path})" if path else "")

    @property
    def deletion_policy(self) -> str:
        return str(self.attributes.get("DeletionPolicy", "Delete"))

    @property
    def depends_on(self) -> list[str]:
        raw = self.attributes.get("DependsOn", [])
        return [raw] if isinstance(raw, str) else list(raw)


@dataclass(frozen=True)
class KubernetesObject:
    """One object of a `KubernetesManifest` (or `KubernetesResource`) custom resource, tokens kept as intrinsics."""

    resource: Resource
    index: int
    manifest: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.manifest.get("metadata", {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.manifest.get("metadata", {}).get("namespace", "default"))

    @property
    def ref(self) -> str:
        """`stack/logical id: Kind namespace/name`, as findings print it."""
        ns = "" if self.kind in CLUSTER_SCOPED else f"{self.namespace}/"
        return f"{self.resource.stack}/{self.resource.logical_id}: {self.kind} {ns}{self.name}"


CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                            "StorageClass", "PriorityClass", "IngressClass", "PersistentVolume"})


@dataclass(frozen=True)
class HelmRelease:
    resource: Resource
    chart: str
    release: str
    namespace: str
    repository: str
    version: str | None
    values: dict[str, Any]


@dataclass(frozen=True)
class ResourceTarget:
    """What a reference resolves to: an attribute (None = `Ref`) of a resource in some stack."""

    stack: str
    logical_id: str
    attribute: str | None = None


@dataclass
class Stack:
    name: str
    template_file: Path
    template: dict[str, Any]
    dependencies: tuple[str, ...]
    termination_protection: bool
    account: str
    region: str
    assets_file: Path | None
    resources: dict[str, Resource] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.template.get("Outputs", {}))


def template_resources(stack: str, template: dict[str, Any]) -> dict[str, Resource]:
    """The resources of one stack's template, by logical id, in template order."""
    return {lid: Resource(stack=stack, logical_id=lid, type=str(body.get("Type", "")),
                          properties=dict(body.get("Properties", {})),
                          attributes={k: v for k, v in body.items() if k not in ("Type", "Properties")})
            for lid, body in template.get("Resources", {}).items()}


class Assembly:
    """A synthesized cloud assembly on disk."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        manifest_file = self.directory / "manifest.json"
        if not manifest_file.is_file():
            raise AssemblyError(f"{self.directory}: no manifest.json (not a cloud assembly)")
        self.manifest: dict[str, Any] = json.loads(manifest_file.read_text())
        artifacts: dict[str, Any] = self.manifest.get("artifacts", {})
        self.stacks: dict[str, Stack] = {}
        for artifact_id, artifact in artifacts.items():
            if artifact.get("type") != STACK_ARTIFACT:
                continue
            props = artifact.get("properties", {})
            template_file = self.directory / props["templateFile"]
            template = json.loads(template_file.read_text())
            account, region = _environment(artifact.get("environment", ""))
            assets = next((artifacts[d]["properties"]["file"] for d in artifact.get("dependencies", [])
                           if artifacts.get(d, {}).get("type") == "cdk:asset-manifest"), None)
            name = str(props.get("stackName", artifact_id))
            stack = Stack(name=name, template_file=template_file, template=template,
                          dependencies=tuple(d for d in artifact.get("dependencies", [])
                                             if artifacts.get(d, {}).get("type") == STACK_ARTIFACT),
                          termination_protection=bool(props.get("terminationProtection", False)),
                          account=account, region=region,
                          assets_file=self.directory / assets if assets else None,
                          resources=template_resources(name, template))
            self.stacks[name] = stack
        if not self.stacks:
            raise AssemblyError(f"{self.directory}: the manifest lists no CloudFormation stack")
        self._dependency_cache: dict[str, dict[str, frozenset[str]]] = {}

    # --- stacks and resources ------------------------------------------------------------------------------------

    def stack_order(self) -> list[str]:
        """Stacks in deployment order (dependencies first), ties broken by manifest order, as the CLI deploys."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if name in seen:
                return
            if name in trail:
                raise AssemblyError(f"stack dependency cycle: {' -> '.join((*trail, name))}")
            for dep in self.stacks[name].dependencies:
                if dep in self.stacks:
                    visit(dep, (*trail, name))
            seen.add(name)
            order.append(name)

        for name in self.stacks:
            visit(name, ())
        return order

    def resources(self, *types: str) -> Iterator[Resource]:
        for name in self.stack_order():
            for r in self.stacks[name].resources.values():
                if not types or r.type in types:
                    yield r

    def resource(self, stack: str, logical_id: str) -> Resource | None:
        s = self.stacks.get(stack)
        return s.resources.get(logical_id) if s else None

    def dependencies(self, stack: str, logical_id: str) -> frozenset[str]:
        """The resources of the same stack this one waits for at create, and outlives at delete: ``DependsOn``
        and every ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub`` reference in its properties."""
        return self._dependencies(stack)[logical_id]

    def requires(self, stack: str, logical_id: str, other: str) -> bool:
        """Whether ``logical_id`` depends on ``other`` (same stack), directly or through other resources: then
        CloudFormation creates ``other`` first and deletes it last."""
        seen: set[str] = set()
        todo = [logical_id]
        while todo:
            for d in self.dependencies(stack, todo.pop()):
                if d == other:
                    return True
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return False

    def stack_requires(self, stack: str, other: str) -> bool:
        """Whether ``stack`` depends on ``other``, directly or through other stacks: the CLI deploys ``other``
        first and `cdk destroy` deletes it after ``stack``."""
        todo = list(self.stacks[stack].dependencies)
        seen: set[str] = set()
        while todo:
            s = todo.pop()
            if s == other:
                return True
            if s not in seen and s in self.stacks:
                seen.add(s)
                todo += self.stacks[s].dependencies
        return False

    def deleted_after(self, first: Resource, then: Resource) -> bool:
        """Whether `cdk destroy` deletes ``then`` only once ``first`` is gone."""
        if first.stack == then.stack:
            return self.requires(first.stack, first.logical_id, then.logical_id)
        return self.stack_requires(first.stack, then.stack)

    def _dependencies(self, stack: str) -> dict[str, frozenset[str]]:
        if stack not in self._dependency_cache:
            resources = self.stacks[stack].resources
            table = {}
            for lid, r in resources.items():
                found = references(r.properties)
                table[lid] = frozenset(d for d in found | set(r.depends_on) if d in resources and d != lid)
            self._dependency_cache[stack] = table
        return self._dependency_cache[stack]

    def asset_manifest(self, stack: str) -> dict[str, Any]:
        f = self.stacks[stack].assets_file
        return json.loads(f.read_text()) if f and f.is_file() else {}

    # --- references -----------------------------------------------------------------------------------------------

    def target(self, stack: str, value: Any) -> ResourceTarget | None:
        """The resource (and attribute) a `Ref`, `Fn::GetAtt`, `Fn::ImportValue` or `Fn::GetStackOutput` names,
        followed across stacks through outputs and exports; None for literals and pseudo parameters."""
        if not isinstance(value, dict) or len(value) != 1:
            return None
        (fn, arg), = value.items()
        if fn == "Ref" and isinstance(arg, str):
            return ResourceTarget(stack, arg) if arg in self.stacks[stack].resources else None
        if fn == "Fn::GetAtt":
            lid, attr = (arg.split(".", 1) if isinstance(arg, str) else (arg[0], arg[1]))
            return ResourceTarget(stack, str(lid), str(attr)) if lid in self.stacks[stack].resources else None
        if fn in ("Fn::GetStackOutput", "Fn::ImportValue"):
            found = self.output_value(stack, value)
            return self.target(found[0], found[1]) if found else None
        return None

    def output_value(self, stack: str, value: Any) -> tuple[str, Any] | None:
        """The producing stack and the output's value expression behind an ``Fn::ImportValue`` or
        ``Fn::GetStackOutput``; None for anything else or an export the assembly does not hold."""
        if not isinstance(value, dict) or len(value) != 1:
            return None
        (fn, arg), = value.items()
        if fn == "Fn::ImportValue":
            export = self.literal(stack, arg)
            return self._exports.get(export) if export is not None else None
        if fn == "Fn::GetStackOutput" and isinstance(arg, dict):
            producer = self.stacks.get(str(arg.get("StackName")))
            out = producer.outputs.get(str(arg.get("OutputName"))) if producer else None
            return (producer.name, out["Value"]) if producer and out else None
        return None

    @cached_property
    def _exports(self) -> dict[str, tuple[str, Any]]:
        exports: dict[str, tuple[str, Any]] = {}
        for name, s in self.stacks.items():
            for out in s.outputs.values():
                export = out.get("Export", {}).get("Name")
                literal = self.literal(name, export) if export is not None else None
                if literal is not None:
                    exports[literal] = (name, out["Value"])
        return exports

    def literal(self, stack: str, value: Any, *, stack_id: str | None = None) -> str | None:
        """The string a value evaluates to when it needs no deploy-time lookup (literals, joins of literals, pseudo
        parameters, `Ref`s to resources whose name is set explicitly, a piece of a split literal); None otherwise.
        ``stack_id``: the deployed stack's id, when known, for `AWS::StackId` (names made unique per creation of a
        stack select a piece of it: cdk_constructs/replaceable_name.py)."""
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        (fn, arg), = value.items()
        s = self.stacks[stack]
        if fn == "Ref" and isinstance(arg, str):
            pseudo = {"AWS::Region": s.region, "AWS::AccountId": s.account, "AWS::Partition": "aws",
                      "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": stack}
            if stack_id is not None:
                pseudo["AWS::StackId"] = stack_id
            if arg in pseudo:
                return pseudo[arg]
            r = s.resources.get(arg)
            prop = NAME_PROPERTY.get(r.type) if r and r.type in REF_IS_NAME else None
            return (self.literal(stack, r.properties.get(prop), stack_id=stack_id)
                    if r and prop and prop in r.properties else None)
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            parts = [self.literal(stack, p, stack_id=stack_id) for p in arg[1]]
            return None if any(p is None for p in parts) else str(arg[0]).join(p for p in parts if p is not None)
        if fn == "Fn::Select" and isinstance(arg, list) and len(arg) == 2:
            split = arg[1].get("Fn::Split") if isinstance(arg[1], dict) and len(arg[1]) == 1 else None
            index = self.literal(stack, arg[0], stack_id=stack_id)
            if not (isinstance(split, list) and len(split) == 2 and index is not None and index.isdigit()):
                return None
            whole = self.literal(stack, split[1], stack_id=stack_id)
            pieces = whole.split(str(split[0])) if whole is not None else []
            return pieces[int(index)] if int(index) < len(pieces) else None
        if fn in ("Fn::GetStackOutput", "Fn::ImportValue"):
            t = self.target(stack, value)
            return self.literal(t.stack, {"Ref": t.logical_id}) if t and t.attribute is None else None
        return None

    # --- Kubernetes ------------------------------------------------------------------------------------------------

    @cached_property
    def kubernetes_objects(self) -> list[KubernetesObject]:
        out: list[KubernetesObject] = []
        for r in self.resources(KUBERNETES_RESOURCE):
            raw = r.properties.get("Manifest")
            try:
                docs = parse_json_with_tokens(raw)
            except (ValueError, TypeError) as err:
                raise AssemblyError(f"{r.name}: Manifest is not JSON with tokens: {err}") from None
            for i, doc in enumerate(docs if isinstance(docs, list) else [docs]):
                if isinstance(doc, dict):
                    out.append(KubernetesObject(resource=r, index=i, manifest=doc))
        return out

    def objects(self, *kinds: str) -> list[KubernetesObject]:
        return [o for o in self.kubernetes_objects if not kinds or o.kind in kinds]

    @cached_property
    def helm_releases(self) -> list[HelmRelease]:
        out: list[HelmRelease] = []
        for r in self.resources(HELM_CHART):
            p = r.properties
            raw = p.get("Values")
            try:
                values = parse_json_with_tokens(raw) if raw is not None else {}
            except (ValueError, TypeError) as err:
                raise AssemblyError(f"{r.name}: Values is not JSON with tokens: {err}") from None
            out.append(HelmRelease(resource=r, chart=str(p.get("Chart", "")), release=str(p.get("Release", "")),
                                   namespace=str(p.get("Namespace", "default")),
                                   repository=str(p.get("Repository", "")),
                                   version=str(p["Version"]) if "Version" in p else None,
                                   values=values if isinstance(values, dict) else {}))
        return out


# Property that holds a resource type's physical name when the template sets it.
NAME_PROPERTY = {
    "AWS::EKS::Cluster": "Name",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::KMS::Alias": "AliasName",
    "AWS::WAFv2::WebACL": "Name",
    "AWS::EKS::Nodegroup": "NodegroupName",
}
# Types whose `Ref` returns that name (for others `Ref` is an id or an ARN, known only at deploy time).
REF_IS_NAME = frozenset({"AWS::EKS::Cluster", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::Lambda::Function",
                         "AWS::Logs::LogGroup", "AWS::S3::Bucket", "AWS::DynamoDB::Table",
                         "AWS::DynamoDB::GlobalTable", "AWS::IAM::Role", "AWS::KMS::Alias"})


def references(node: Any) -> set[str]:
    """Logical ids (and pseudo parameters) a template value refers to: ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``."""
    out: set[str] = set()
    _collect_references(node, out)
    return out


def _collect_references(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        if "Ref" in node and isinstance(node["Ref"], str):
            out.add(node["Ref"])
        if "Fn::GetAtt" in node:
            arg = node["Fn::GetAtt"]
            out.add(str(arg[0] if isinstance(arg, list) else str(arg).split(".")[0]))
        if "Fn::Sub" in node:
            text = node["Fn::Sub"][0] if isinstance(node["Fn::Sub"], list) else node["Fn::Sub"]
            out.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", str(text)))
        for v in node.values():
            _collect_references(v, out)
    elif isinstance(node, list):
        for v in node:
            _collect_references(v, out)


def _environment(env: str) -> tuple[str, str]:
    # "aws://111111111111/eu-west-1"
    rest = env.removeprefix("aws://")
    account, _, region = rest.partition("/")
    return account, region


def parse_json_with_tokens(value: Any) -> Any:
    """Parse JSON text given as a string or as a CloudFormation ``Fn::Join`` whose non-literal parts are tokens.

    A token inside a JSON string literal becomes part of that string (the string turns into a ``Fn::Join`` of its
    literal pieces and tokens, or into the bare intrinsic when the token fills it); a token outside any string
    literal stands for a whole JSON value and becomes the intrinsic itself.
    """
    if isinstance(value, str):
        return json.loads(value)
    if not (isinstance(value, dict) and list(value) == ["Fn::Join"]):
        raise TypeError(f"expected a JSON string or a Fn::Join, got {json.dumps(value)[:80]}")
    delimiter, parts = value["Fn::Join"]
    tokens: list[Any] = []
    text: list[str] = []
    in_string = escaped = False
    pieces: list[Any] = []
    for i, part in enumerate(parts):
        if i:
            pieces.append(delimiter)
        pieces.append(part)
    for piece in pieces:
        if isinstance(piece, str):
            for ch in piece:
                if escaped:
                    escaped = False
                elif ch == "\\" and in_string:
                    escaped = True
                elif ch == '"':
                    in_string = not in_string
            text.append(piece)
            continue
        marker = f"{_OPEN}{len(tokens)}{_CLOSE}"
        tokens.append(piece)
        text.append(marker if in_string else f'"{marker}"')
    return _restore(json.loads("".join(text)), tokens)


def _restore(node: Any, tokens: list[Any]) -> Any:
    if isinstance(node, dict):
        return {_restore(k, tokens) if isinstance(k, str) and _OPEN in k else k: _restore(v, tokens)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_restore(v, tokens) for v in node]
    if isinstance(node, str) and _OPEN in node:
        parts: list[Any] = []
        rest = node
        while _OPEN in rest:
            before, _, after = rest.partition(_OPEN)
            index, _, rest = after.partition(_CLOSE)
            if before:
                parts.append(before)
            parts.append(tokens[int(index)])
        if rest:
            parts.append(rest)
        return parts[0] if len(parts) == 1 else {"Fn::Join": ["", parts]}
    return node


def _is_intrinsic(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and (next(iter(node)) == "Ref"
                                                          or next(iter(node)).startswith("Fn::"))


def encode_json_with_tokens(value: Any) -> Any:
    """The inverse of :func:`parse_json_with_tokens`: JSON text as CloudFormation carries it (a plain string, or a
    ``Fn::Join`` when intrinsics are inside), the way aws-cdk-lib writes a manifest."""
    tokens: list[Any] = []

    def mark(node: Any) -> Any:
        if _is_intrinsic(node):
            (fn, arg), = node.items()
            if fn == "Fn::Join" and arg[0] == "":
                return "".join(p if isinstance(p, str) else mark(p) for p in arg[1])
            tokens.append(node)
            return f"{_OPEN}{len(tokens) - 1}{_CLOSE}"
        if isinstance(node, dict):
            return {k: mark(v) for k, v in node.items()}
        if isinstance(node, list):
            return [mark(v) for v in node]
        return node

    text = json.dumps(mark(value), separators=(",", ":"), ensure_ascii=False)
    if not tokens:
        return text
    parts: list[Any] = []
    rest = text
    while _OPEN in rest:
        before, _, after = rest.partition(_OPEN)
        index, _, rest = after.partition(_CLOSE)
        parts += [before, tokens[int(index)]] if before else [tokens[int(index)]]
    if rest:
        parts.append(rest)
    return {"Fn::Join": ["", parts]}


def render_tokens(node: Any, placeholder: str = "TOKEN") -> Any:
    """The manifest with every intrinsic replaced by ``placeholder`` text (for schema validation)."""
    if isinstance(node, dict):
        if len(node) == 1 and (next(iter(node)) == "Ref" or next(iter(node)).startswith("Fn::")):
            (fn, arg), = node.items()
            if fn == "Fn::Join":
                return "".join(p if isinstance(p, str) else placeholder for p in arg[1])
            return placeholder
        return {k: render_tokens(v, placeholder) for k, v in node.items()}
    if isinstance(node, list):
        return [render_tokens(v, placeholder) for v in node]
    return node
