"""Least privilege proven over the synthesized templates: no wildcard actions, `Resource: "*"` only for the listed
actions, each service role reaching only its own store, secret, queues and topics, and no open ingress."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from config.topology import (
    QUEUES,
    SERVICES,
    TOPICS,
    Service,
    queues_consumed_by,
    queues_produced_by,
    topics_published_by,
)
from policies.no_resource_actions import NO_RESOURCE_ACTIONS
from tests.synthesis import Synthesized
from tools.reports.access_report import access_matrix


def roles(env: Synthesized) -> list[dict[str, Any]]:
    return access_matrix(env.all_templates())


def statements(env: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    return [(r["role"], s) for r in roles(env) for s in r["statements"] if s["effect"] == "Allow"]


def service_role(env: Synthesized, service: Service) -> dict[str, Any]:
    (role,) = [r for r in roles(env) if r["stack"].endswith("-Services")
               and r["role"].startswith(f"{service.value.capitalize()}ServiceServiceAccountRole")]
    return role


def test_no_role_allows_a_wildcard_action(env: Synthesized) -> None:
    bad = [(role, a) for role, s in statements(env) for a in s["actions"] if a == "*" or a.endswith(":*")]
    assert bad == []


def test_resource_star_only_for_actions_that_take_no_resource(env: Synthesized) -> None:
    bad = [(role, a) for role, s in statements(env) if "*" in s["resources"] for a in s["actions"]
           if a not in NO_RESOURCE_ACTIONS]
    assert bad == []


def test_every_listed_no_resource_action_has_its_reason() -> None:
    assert all(len(reason.split()) >= 6 for reason in NO_RESOURCE_ACTIONS.values())


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_role_reaches_only_its_own_resources(env: Synthesized, service: Service) -> None:
    role = service_role(env, service)
    assert role["trusted"] == ['{"Service": "pods.eks.amazonaws.com"}']
    assert role["managed_policies"] == []
    text = json.dumps(role["statements"])
    own_table = {Service.PRODUCTS: "ProductsTable", Service.USERS: "UsersTable", Service.INVENTORY: "InventoryTable"}
    for other, table in own_table.items():
        assert (table in text) == (other == service), (service, table)
    assert ("OrdersDatabaseCluster" in text or "OrdersDatabaseClusterSecret" in text) == (service == Service.ORDERS)
    queues = {q.construct_id for q in (*queues_consumed_by(service), *queues_produced_by(service))}
    topics = {t.construct_id for t in topics_published_by(service)}
    referenced_queues = {q.construct_id for q in QUEUES if re.search(rf"{q.construct_id}[0-9A-F]{{8}}", text)}
    referenced_topics = {t.construct_id for t in TOPICS if re.search(rf"{t.construct_id}[0-9A-F]{{8}}", text)}
    assert referenced_queues == queues
    assert referenced_topics == topics
    # The only dead-letter access: sending what it can never apply to the DLQs of the queues it consumes.
    dead_letter = [s for s in role["statements"] if "DeadLetterQueue" in json.dumps(s["resources"])]
    assert all(s["actions"] == ["sqs:SendMessage"] for s in dead_letter)
    reached = {q.construct_id for q in QUEUES for s in dead_letter
               if re.search(rf"{q.construct_id}DeadLetterQueue", json.dumps(s["resources"]))}
    assert reached == {q.construct_id for q in queues_consumed_by(service)}


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_key_grant_names_the_key_of_a_resource_the_service_uses(env: Synthesized, service: Service) -> None:
    """The kms: grants are used by SQS, SNS, DynamoDB and Secrets Manager on the service's behalf, which the local
    platform cannot exercise (moto encrypts nothing; `make access-proof` lists them as justified): each names only
    the key of a table, topic, queue or database secret the service uses."""
    role = service_role(env, service)
    text = json.dumps([s["resources"] for s in role["statements"] if any(a.startswith("kms:") for a in s["actions"])])
    keys = set(re.findall(r"(TablesKey|TopicsKey|QueuesKey|OrdersDatabaseKey)", text))
    expected = {"TablesKey"} if service in (Service.PRODUCTS, Service.USERS, Service.INVENTORY) else set()
    expected |= {"TopicsKey"} if topics_published_by(service) else set()
    expected |= {"QueuesKey"} if queues_consumed_by(service) or queues_produced_by(service) else set()
    expected |= {"OrdersDatabaseKey"} if service == Service.ORDERS else set()
    assert keys == expected


def test_orders_role_has_no_dynamodb_and_inventory_cannot_read_the_orders_secret(env: Synthesized) -> None:
    orders = service_role(env, Service.ORDERS)
    assert not [a for s in orders["statements"] for a in s["actions"] if a.startswith("dynamodb:")]
    inventory = service_role(env, Service.INVENTORY)
    assert not [a for s in inventory["statements"] for a in s["actions"] if a.startswith("secretsmanager:")]


def test_consumers_may_receive_but_never_send_to_their_own_queues(env: Synthesized) -> None:
    for service in SERVICES:
        for s in service_role(env, service)["statements"]:
            if "sqs:ReceiveMessage" in s["actions"]:
                assert "sqs:SendMessage" not in s["actions"]


def test_no_security_group_admits_the_internet(env: Synthesized) -> None:
    open_rules = []
    for stack, template in env.all_templates().items():
        for logical_id, r in template["Resources"].items():
            if r["Type"] == "AWS::EC2::SecurityGroup":
                rules = r["Properties"].get("SecurityGroupIngress", [])
            elif r["Type"] == "AWS::EC2::SecurityGroupIngress":
                rules = [r["Properties"]]
            else:
                continue
            open_rules += [(stack, logical_id) for rule in rules
                           if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0"]
    # The edge needs no exception: API Gateway is a managed endpoint and the NLB is internal.
    assert open_rules == []


def test_database_port_is_open_only_to_the_orders_workload_security_group(env: Synthesized) -> None:
    ingress = [r["Properties"] for r in env.resources("Data", "AWS::EC2::SecurityGroupIngress").values()
               if r["Properties"].get("FromPort") == 5432]
    assert [i["SourceSecurityGroupId"]["Fn::GetAtt"][0] for i in ingress] == [
        next(k for k in env.resources("Data", "AWS::EC2::SecurityGroup") if k.startswith(
            "OrdersDatabaseWorkloadSecurityGroup"))]


def test_no_secret_value_in_any_template_or_manifest(env: Synthesized) -> None:
    suspicious = re.compile(
        r'"(MasterUserPassword|Password|ClientSecret|client_secret|password)"\s*:\s*"(?!\{\{resolve)')
    for stack, template in env.all_templates().items():
        text = json.dumps(template)
        assert not suspicious.search(text), stack
        assert "BEGIN RSA PRIVATE KEY" not in text and "BEGIN PRIVATE KEY" not in text
    for r in env.resources("Services", "Custom::AWSCDK-EKS-KubernetesResource").values():
        manifest = json.dumps(r["Properties"]["Manifest"])
        names = re.findall(r'\\"name\\":\s*\\"([A-Z_]+)\\"', manifest)
        assert not [n for n in names if "PASSWORD" in n or n.endswith("_SECRET") or n == "CLIENT_SECRET"]


def test_email_send_statement_is_one_identity_one_configuration_set_one_from_address() -> None:
    from policies.service_access import email_send

    doc = email_send("arn:aws:ses:eu-west-1:1:identity/shop.example.com",
                     "arn:aws:ses:eu-west-1:1:configuration-set/n", "no-reply@shop.example.com").to_json()
    assert doc == {"Action": "ses:SendEmail", "Effect": "Allow",
                   "Resource": ["arn:aws:ses:eu-west-1:1:identity/shop.example.com",
                                "arn:aws:ses:eu-west-1:1:configuration-set/n"],
                   "Condition": {"StringEquals": {"ses:FromAddress": "no-reply@shop.example.com"}}}


def test_only_the_notifier_sends_email_and_only_from_the_platform_identity(env: Synthesized) -> None:
    """The users role may call SendEmail on the Data stack's identity and the notifications configuration set (not
    Cognito's), from the configured sender only; no other role of the app may send email."""
    senders = [(role, s) for role, s in statements(env) if any(a.startswith("ses:Send") for a in s["actions"])]
    assert [role for role, _ in senders] == [service_role(env, Service.USERS)["role"]]
    (_, statement), = senders
    email = env.config.email
    assert statement["actions"] == ["ses:SendEmail"]
    assert statement["condition"] == {"StringEquals": {"ses:FromAddress": email.sender}}
    identity = f"arn:aws:ses:{env.config.region}:{env.config.account}:identity/{email.domain}"
    assert statement["resources"][0] == identity
    assert statement["resources"][1].startswith(
        f"arn:aws:ses:{env.config.region}:{env.config.account}:configuration-set/<import ")
    assert "NotificationEmailConfigurationSet" in statement["resources"][1]
