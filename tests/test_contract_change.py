"""One change of the service contract, and nothing else, reaches every place derived from it.

A copy of the platform's contract gains an event type (ProductArchived, on the product-events topic, with its
schema file), a queue subscribed to it (inventory-product-archives, read by inventory) and a call (inventory calls
products' internal routes with the products/read scope). The app synthesized from that copy (once, with every nag
pack) has the environment, IAM statements, filter policy, Cognito client and NetworkPolicies of the change, and
the inventory worker's handler map must handle the new type: without a handler it does not start.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from common.consumer import consumers
from contract import (
    CONTRACT,
    Call,
    Contract,
    ContractError,
    Event,
    EventType,
    HandlerRegistrationError,
    Queue,
    Service,
    Subscription,
    handler_map,
)

from config.environments import load
from stacks.platform import build_app
from tests.synthesis import ROOT, Synthesized

NEW_TYPE = "ProductArchived"
NEW_QUEUE = "inventory-product-archives"
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:ecommerce:events:ProductArchived:1",
    "type": "object",
    "additionalProperties": False,
    "required": ["product_id"],
    "properties": {"product_id": {"type": "string", "minLength": 1, "maxLength": 64}},
}


def changed_contract() -> Contract:
    topics = tuple(dataclasses.replace(t, event_types=(*t.event_types, NEW_TYPE)) if t.name == "product-events"
                   else t for t in CONTRACT.topics)
    queue = Queue(name=NEW_QUEUE, consumer=Service.INVENTORY,
                  subscriptions=(Subscription(topic="product-events", event_types=(NEW_TYPE,)),),
                  description="Archived products: their stock records are closed")
    services = tuple(dataclasses.replace(s, calls=(Call(Service.PRODUCTS, ("read",), "checking archived products"),))
                     if s.service == Service.INVENTORY else s for s in CONTRACT.services)
    return dataclasses.replace(CONTRACT, events=(*CONTRACT.events, Event(NEW_TYPE, "a product left the catalog")),
                               topics=topics, queues=(*CONTRACT.queues, queue), services=services)


@pytest.fixture(scope="module")
def schema_root() -> Iterator[Path]:
    """A copy of services/ schemas with the new type's schema file: the one file the change adds beside the
    contract."""
    root = Path(tempfile.mkdtemp(prefix="contract-change."))
    shutil.copytree(ROOT / "services" / CONTRACT.schema_dir, root / CONTRACT.schema_dir)
    (root / CONTRACT.schema_dir / f"{NEW_TYPE}.json").write_text(json.dumps(SCHEMA))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def changed(schema_root: Path) -> Iterator[Synthesized]:
    contract = changed_contract().validate(str(schema_root))
    config = load("dev")
    outdir = Path(tempfile.mkdtemp(prefix="cdk.out.contract-change."))
    app, _ = build_app(config, outdir=str(outdir), contract=contract)
    app.synth()
    yield Synthesized(config=config, outdir=outdir)
    shutil.rmtree(outdir, ignore_errors=True)  # its staged assets: tens of MB a run


def _manifests(env: Synthesized) -> list[dict[str, Any]]:
    out = []
    for r in env.resources("Services", "Custom::AWSCDK-EKS-KubernetesResource").values():
        raw = r["Properties"]["Manifest"]
        text = raw if isinstance(raw, str) else "".join(p if isinstance(p, str) else "TOKEN"
                                                         for p in raw["Fn::Join"][1])
        out += json.loads(text)
    return out


def _policy_statements(env: Synthesized, service: str) -> list[dict[str, Any]]:
    return [s for k, p in env.resources("Services", "AWS::IAM::ManagedPolicy").items()
            if k.startswith(f"{service.capitalize()}ServiceAccessPolicy")
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_the_new_schema_file_is_required() -> None:
    with pytest.raises(ContractError, match=f"^event type {NEW_TYPE}: no schema common/schemas/{NEW_TYPE}.json$"):
        changed_contract().validate(str(ROOT / "services"))


def test_environment_of_the_new_queue_and_call(changed: Synthesized) -> None:
    (worker,) = [m for m in _manifests(changed) if m["kind"] == "Deployment"
                 and m["metadata"]["name"] == "inventory-worker"]
    names = {e["name"] for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"QUEUE_URL_INVENTORY_PRODUCT_ARCHIVES", "DLQ_URL_INVENTORY_PRODUCT_ARCHIVES", "PRODUCTS_URL",
            "PRODUCTS_TOKEN_URL", "SERVICE_CLIENT_SECRET_ARN"} <= names


def test_iam_statements_of_the_new_queue_and_call(changed: Synthesized) -> None:
    statements = _policy_statements(changed, "inventory")
    on_queue = [s for s in statements if "InventoryProductArchivesQueue" in json.dumps(s["Resource"])
                and "DeadLetter" not in json.dumps(s["Resource"])]
    assert [sorted(s["Action"]) for s in on_queue] == [["sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
                                                        "sqs:ReceiveMessage"]]
    on_dead_letters = [s for s in statements if "InventoryProductArchivesQueueDeadLetterQueue" in json.dumps(s)]
    assert [s["Action"] for s in on_dead_letters] == ["sqs:SendMessage"]
    on_client_secret = [s for s in statements if "InventoryServiceClientSecret" in json.dumps(s["Resource"])]
    assert [s["Action"] for s in on_client_secret] == ["secretsmanager:GetSecretValue"]


def test_filter_policy_of_the_new_subscription(changed: Synthesized) -> None:
    subscriptions = [s["Properties"] for s in changed.resources("Messaging", "AWS::SNS::Subscription").values()
                     if "InventoryProductArchivesQueue" in json.dumps(s["Properties"]["Endpoint"])]
    assert [(s["FilterPolicy"], s["RawMessageDelivery"]) for s in subscriptions] == [({"type": [NEW_TYPE]}, True)]


def test_cognito_client_of_the_new_caller(changed: Synthesized) -> None:
    clients = {k: c["Properties"] for k, c in changed.resources("Data", "AWS::Cognito::UserPoolClient").items()
               if k.startswith("UsersUserPoolInventoryServiceClient")}
    (client,) = clients.values()
    assert client["AllowedOAuthFlows"] == ["client_credentials"]
    (scope,) = client["AllowedOAuthScopes"]
    assert scope["Fn::Join"][1][0]["Ref"].startswith("UsersUserPoolProductsResourceServer")
    assert scope["Fn::Join"][1][1] == "/read"


def test_network_policies_of_the_new_call(changed: Synthesized) -> None:
    policies = {(m["metadata"]["namespace"], m["metadata"]["name"]): m["spec"] for m in _manifests(changed)
                if m["kind"] == "NetworkPolicy"}

    def namespaces(peers: list[dict[str, Any]]) -> set[str]:
        return {p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in peers
                if "namespaceSelector" in p}

    egress = policies[("inventory", "egress")]["egress"]
    assert any("products" in namespaces(rule.get("to", [])) and rule["ports"] == [{"protocol": "TCP", "port": 8080}]
               for rule in egress)
    (ingress,) = policies[("products", "api-ingress")]["ingress"]
    assert namespaces(ingress["from"]) == {"orders", "inventory"}


def test_overview_dashboard_shows_the_new_queue(changed: Synthesized) -> None:
    """The Observability stack draws each service's consumed queues from the contract it was given."""
    (dashboard,) = [d["Properties"] for k, d in changed.resources("Observability", "AWS::CloudWatch::Dashboard").items()
                    if k.startswith("Overview")]
    assert "InventoryProductArchivesQueue" in json.dumps(dashboard["DashboardBody"])


def test_the_worker_must_register_a_handler_for_the_new_type(capsys: pytest.CaptureFixture[str]) -> None:
    contract = changed_contract()
    today: dict[str, object] = {EventType.RESERVE_STOCK: 1, EventType.RELEASE_STOCK: 2, EventType.PRODUCT_CREATED: 3}
    with pytest.raises(HandlerRegistrationError, match=f"^inventory: no handler for {NEW_TYPE}, consumed from queue "
                                                       f"{NEW_QUEUE}"):
        handler_map(contract, Service.INVENTORY, today)
    assert handler_map(contract, Service.INVENTORY, {**today, NEW_TYPE: 4})[NEW_QUEUE] == {NEW_TYPE: 4}
    with pytest.raises(SystemExit):  # the worker's start-up: one line, exit status 2
        consumers(Service.INVENTORY, {}, 1, contract=contract)
    assert capsys.readouterr().err.count("\n") == 1
