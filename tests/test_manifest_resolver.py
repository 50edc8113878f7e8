"""The resolver maps every CloudFormation token of every manifest of the Services stack to the local platform,
following references across stacks (weak Fn::GetStackOutput and strong Fn::ImportValue alike), and refuses what
it cannot map with a message naming the token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config import topology
from config.topology import Service
from tools.assembly import Assembly
from tools.local.local_platform import check_contract, synthesize
from tools.local.manifest_resolver import (
    INTRINSICS,
    LocalCounterparts,
    Resolver,
    UnresolvedToken,
    deployments,
    environment,
    service_aliases,
)

MOTO = "http://127.0.0.1:5000"
TOKEN_URL = "http://127.0.0.1:5001/oauth2/token"
OTLP, EMF = "http://127.0.0.1:4318", "udp://127.0.0.1:25888"


def counterparts() -> LocalCounterparts:
    return LocalCounterparts(
        region="eu-west-1", account="123456789012", aws_endpoint=MOTO, token_url=TOKEN_URL,
        service_url=lambda host_port: f"http://local-{host_port.split('.')[0]}:8080",
        collector_otlp=OTLP, collector_emf=EMF,
        topic_arns={t.name: f"arn:aws:sns:eu-west-1:123456789012:{t.name}" for t in topology.TOPICS},
        queue_urls={q.name: f"{MOTO}/123456789012/{q.name}" for q in topology.QUEUES},
        dlq_urls={q.name: f"{MOTO}/123456789012/{q.name}-dlq" for q in topology.QUEUES},
        tables={t.service: f"{t.service.value}-table" for t in topology.TABLES},
        user_pool_id="eu-west-1_local", web_client_id="web-client",
        service_client_ids={s: f"{s.value}-client" for s in topology.SERVICE_CALLS},
        service_secret_arns={s: f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{s.value}"
                             for s in topology.SERVICE_CALLS},
        db_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/db",
        images=lambda uri: f"local-image:{uri.rsplit(':', 1)[1][:12]}",
        configuration_sets={"NotificationEmail": "notifications-local"},
        payment_webhook_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/payment-webhook",
    )


def leftovers(value: Any) -> list[str]:
    """Anything in a resolved manifest that still looks like CloudFormation or an AWS/cluster endpoint."""
    if isinstance(value, dict):
        found = [f"intrinsic {k}" for k in value if k in INTRINSICS]
        return found + [x for v in value.values() for x in leftovers(v)]
    if isinstance(value, list):
        return [x for v in value for x in leftovers(v)]
    if isinstance(value, str) and any(s in value for s in ("${", "Fn::", "amazoncognito.com", "dkr.ecr",
                                                            "cloudwatch-agent")):
        return [value]
    return []


@pytest.fixture(scope="module", params=["dev", "prod"])
def resolved(request: pytest.FixtureRequest) -> tuple[Resolver, list[dict[str, Any]]]:
    resolver = Resolver(Assembly(synthesize(request.param)), counterparts())
    return resolver, resolver.manifests()


def test_no_token_is_left_in_any_manifest(resolved: tuple[Resolver, list[dict[str, Any]]]) -> None:
    _, manifests = resolved
    kinds = {m["kind"] for m in manifests}
    assert {"Deployment", "Service", "ServiceAccount", "TargetGroupBinding", "NetworkPolicy"} <= kinds
    assert [x for m in manifests for x in leftovers(m)] == []


def test_every_variable_is_its_local_counterpart(resolved: tuple[Resolver, list[dict[str, Any]]]) -> None:
    resolver, manifests = resolved
    local = resolver.local
    by_name = deployments(manifests)
    assert set(by_name) == {f"{s.value}-{c}" for s in topology.SERVICES for c in ("api", "worker")}
    for name, d in by_name.items():
        env = environment(d)
        service = Service(name.split("-")[0])
        assert env["AWS_REGION"] == "eu-west-1"
        assert env["COGNITO_ISSUER"] == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_local"
        assert env["COGNITO_JWKS_URL"] == f"{MOTO}/eu-west-1_local/.well-known/jwks.json"
        assert env["COGNITO_CLIENT_ID"] == "web-client"
        assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == f"{OTLP}/v1/traces"
        assert env["EMF_AGENT_ENDPOINT"] == EMF
        for var, value in env.items():
            if var.startswith("TOPIC_ARN_"):
                assert value in local.topic_arns.values(), var
            if var.startswith("QUEUE_URL_"):
                assert value in local.queue_urls.values(), var
        if service != Service.ORDERS:
            assert env["TABLE_NAME"] == f"{service.value}-table"
        image = d["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.startswith("local-image:")
    orders = environment(by_name["orders-api"])
    assert orders["DB_SECRET_ARN"] == local.db_secret_arn
    assert orders["PAYMENT_WEBHOOK_SECRET_ARN"] == local.payment_webhook_secret_arn
    assert orders["PRODUCTS_URL"] == "http://local-products:8080"
    assert orders["PRODUCTS_TOKEN_URL"] == TOKEN_URL
    assert orders["SERVICE_CLIENT_SECRET_ARN"] == local.service_secret_arns[Service.ORDERS]
    assert environment(by_name["products-api"])["SERVICE_CLIENT_IDS"] == "orders-client"
    users = environment(by_name["users-worker"])
    assert users["EMAIL_CONFIGURATION_SET"] == "notifications-local"
    assert users["EMAIL_SENDER"].endswith(".shop.example.com") or users["EMAIL_SENDER"].endswith("@shop.example.com")
    # The resources were found by following the references to their producing stacks.
    assert any(s.startswith("Ref of AWS::SQS::Queue ") and "-Messaging/" in s for s in resolver.seen)
    assert any(s.startswith("Ref of AWS::Cognito::UserPoolClient ") and "-Data/" in s for s in resolver.seen)


def test_start_up_checks_the_manifests_environment_against_the_declaration(
        resolved: tuple[Resolver, list[dict[str, Any]]]) -> None:
    _, manifests = resolved
    for name, d in deployments(manifests).items():
        names = frozenset(environment(d))
        service = name.split("-")[0]
        assert check_contract(service, names) is None, name
        assert check_contract(service, names | {"STRAY"}) == (
            f"{service}: environment variable STRAY is rendered but not derived from the contract")
        assert check_contract(service, names - {"COGNITO_ISSUER"}) == (
            f"{service}: environment variable COGNITO_ISSUER is read by the service but not rendered")


def test_services_get_their_cluster_dns_names(resolved: tuple[Resolver, list[dict[str, Any]]]) -> None:
    _, manifests = resolved
    aliases = service_aliases(manifests)
    assert aliases["products-api"] == ("products.products.svc.cluster.local",)
    assert aliases["products-worker"] == ()


def assembly_with(directory: Path, producer_resource: dict[str, Any], reference: dict[str, Any],
                  outputs: dict[str, Any]) -> Assembly:
    """A two-stack assembly: Dev-Messaging produces, Dev-Services applies a manifest with `reference` inside."""
    manifest = [{"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "x"}, "data": {"value": "TOKEN"}}]
    head, tail = json.dumps(manifest).split("TOKEN")
    templates = {
        "Dev-Messaging": {"Resources": {"Queue": producer_resource}, "Outputs": outputs},
        "Dev-Services": {"Resources": {"Manifest": {
            "Type": "Custom::AWSCDK-EKS-KubernetesResource",
            "Properties": {"Manifest": {"Fn::Join": ["", [head, reference, tail]]}}}}},
    }
    artifacts = {}
    for name, template in templates.items():
        (directory / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {"type": "aws:cloudformation:stack", "environment": "aws://111111111111/eu-west-1",
                           "properties": {"templateFile": f"{name}.template.json"}}
    (directory / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return Assembly(directory)


QUEUE = {"Type": "AWS::SQS::Queue",
         "Metadata": {"aws:cdk:path": "Dev-Messaging/InventoryReservationsQueue/Queue/Resource"}}


def test_strong_references_are_followed_through_the_export(tmp_path: Path) -> None:
    assembly = assembly_with(tmp_path, QUEUE, {"Fn::ImportValue": "Dev-Messaging:ExportsOutputRefQueue"},
                               {"ExportsOutputRefQueue": {"Value": {"Ref": "Queue"},
                                                          "Export": {"Name": "Dev-Messaging:ExportsOutputRefQueue"}}})
    (m,) = Resolver(assembly, counterparts()).manifests()
    assert m["data"]["value"] == f"{MOTO}/123456789012/inventory-reservations"


def test_weak_references_are_followed_through_the_output(tmp_path: Path) -> None:
    reference = {"Fn::GetStackOutput": {"StackName": "Dev-Messaging", "OutputName": "Out"}}
    assembly = assembly_with(tmp_path, QUEUE, reference, {"Out": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}}})
    (m,) = Resolver(assembly, counterparts()).manifests()
    assert m["data"]["value"] == "arn:aws:sqs:eu-west-1:123456789012:inventory-reservations"


@pytest.mark.parametrize(("resource", "reference", "message"), [
    ({"Type": "AWS::Lambda::Function", "Metadata": {"aws:cdk:path": "Dev-Messaging/Fn/Resource"}},
     {"Fn::GetStackOutput": {"StackName": "Dev-Messaging", "OutputName": "Out"}},
     "Ref of AWS::Lambda::Function Dev-Messaging/Fn: no local counterpart for resources of this type"),
    (QUEUE, {"Fn::ImportValue": "Dev-Messaging:Nothing"},
     'Fn::ImportValue "Dev-Messaging:Nothing" in Dev-Services: no resource of the assembly behind it'),
    (QUEUE, {"Fn::GetStackOutput": {"StackName": "Dev-Messaging", "OutputName": "Missing"}},
     'Fn::GetStackOutput {"StackName": "Dev-Messaging", "OutputName": "Missing"} in Dev-Services: no resource'),
    (QUEUE, {"Ref": "AWS::NotificationARNs"}, "Ref AWS::NotificationARNs: no local value"),
])
def test_what_cannot_be_mapped_is_refused_by_name(tmp_path: Path, resource: dict[str, Any],
                                                 reference: dict[str, Any], message: str) -> None:
    assembly = assembly_with(tmp_path, resource, reference, {"Out": {"Value": {"Ref": "Queue"}}})
    with pytest.raises(UnresolvedToken) as raised:
        Resolver(assembly, counterparts()).manifests()
    assert str(raised.value).startswith(message)
