"""The access proof: the services' AWS calls against the roles the Services stack synthesizes, with moto enforcing
those roles (tools/local/access_proof). The full report is `make access-proof`; here its short form: the evaluator's
rules, one workflow with every role enforced, and a role with one action removed failing on the call that needs it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import boto3
import httpx
import pytest

from config import topology
from config.topology import Service
from tools.local.access_proof import (
    Proof,
    ServiceRole,
    Statement,
    call_of,
    decide,
    failure_message,
    prove,
    read_calls,
    render_markdown,
)
from tools.local.access_proof.__main__ import ProofPlatform
from tools.local.local_platform import MOTO_ACCOUNT, REGION, LocalPlatform
from tools.local.pod_runner import PROCESSES
from tools.local.workflows import WORKFLOWS, Client, product_body, wait_for

TABLE = f"arn:aws:dynamodb:{REGION}:{MOTO_ACCOUNT}:table/users-table"
IDENTITY = f"arn:aws:ses:{REGION}:{MOTO_ACCOUNT}:identity/shop.example.com"
CONFIG_SET = f"arn:aws:ses:{REGION}:{MOTO_ACCOUNT}:configuration-set/mail"


def role(*statements: Statement) -> ServiceRole:
    return ServiceRole(service="users", role="Dev-Services/UsersService/Role", deployments=("users-api",),
                       statements=statements)


def call(operation: str, service: str = "dynamodb", **params: object) -> dict[str, object]:
    return {"pod": "users-worker", "service": service, "operation": operation, "params": params,
            "code_path": ["users/notifications.py:232 _deliver"], "status": 200, "error": None}


def send_email(from_address: str) -> dict[str, object]:
    return call("SendEmail", "ses", FromEmailAddress=from_address, ConfigurationSetName="mail")


SES = Statement(policy="P", index=0, effect="Allow", actions=("ses:SendEmail",), resources=(IDENTITY, CONFIG_SET),
                conditions={"StringEquals": {"ses:FromAddress": "no-reply@shop.example.com"}})


def test_send_email_is_allowed_only_from_the_address_its_condition_names() -> None:
    """moto evaluates no condition of an identity policy: the proof does (the roles moto gets leave them out)."""
    allowed = decide(call_of(send_email("Shop <no-reply@shop.example.com>"), region=REGION, account=MOTO_ACCOUNT),
                     role(SES))
    assert allowed.allowed and allowed.used == ((SES, "ses:SendEmail"),)
    other = decide(call_of(send_email("ceo@shop.example.com"), region=REGION, account=MOTO_ACCOUNT), role(SES))
    assert not other.allowed and "conditions of P#0 do not hold" in other.reason


def test_a_condition_on_a_key_the_proof_does_not_model_never_allows() -> None:
    unknown = Statement(policy="P", index=0, effect="Allow", actions=("ses:SendEmail",),
                        resources=(IDENTITY, CONFIG_SET), conditions={"StringEquals": {"ses:FromDisplayName": "Shop"}})
    decision = decide(call_of(send_email("no-reply@shop.example.com"), region=REGION, account=MOTO_ACCOUNT),
                      role(unknown))
    assert not decision.allowed


def test_a_transaction_is_authorized_item_by_item() -> None:
    """IAM has no dynamodb:TransactWriteItems: each item needs its own action on its table."""
    put_only = Statement(policy="P", index=0, effect="Allow", actions=("dynamodb:PutItem",), resources=(TABLE,))
    puts = call("TransactWriteItems", TransactItems=[{"Put": {"TableName": "users-table"}}])
    decision = decide(call_of(puts, region=REGION, account=MOTO_ACCOUNT), role(put_only))
    assert decision.allowed and decision.used == ((put_only, "dynamodb:PutItem"),)
    guarded = call("TransactWriteItems", TransactItems=[{"Put": {"TableName": "users-table"}},
                                                        {"ConditionCheck": {"TableName": "users-table"}}])
    decision = decide(call_of(guarded, region=REGION, account=MOTO_ACCOUNT), role(put_only))
    assert not decision.allowed and f"dynamodb:ConditionCheckItem on {TABLE}" in decision.reason


def test_a_deny_wins_and_another_table_is_not_granted() -> None:
    allow = Statement(policy="P", index=0, effect="Allow", actions=("dynamodb:*",), resources=(TABLE,))
    deny = Statement(policy="P", index=1, effect="Deny", actions=("dynamodb:DeleteItem",), resources=("*",))
    get = call_of(call("GetItem", TableName="users-table"), region=REGION, account=MOTO_ACCOUNT)
    assert decide(get, role(allow, deny)).allowed
    delete = call_of(call("DeleteItem", TableName="users-table"), region=REGION, account=MOTO_ACCOUNT)
    assert "denied by P#1" in decide(delete, role(allow, deny)).reason
    other = call_of(call("GetItem", TableName="orders-table"), region=REGION, account=MOTO_ACCOUNT)
    assert not decide(other, role(allow, deny)).allowed


@pytest.fixture(scope="module")
def enforced() -> Iterator[tuple[LocalPlatform, Proof]]:
    """The order placement workflow (every service takes part) with moto enforcing every service's role."""
    with LocalPlatform(free_ports=True, mode=PROCESSES, enforce_iam=True, name_prefix="access16-proof") as p:
        WORKFLOWS["order placement"](Client(p))
        yield p, p.access_proof()


@pytest.mark.own_platform
def test_each_service_role_is_read_from_the_assembly(enforced: tuple[LocalPlatform, Proof]) -> None:
    _, proof = enforced
    assert set(proof.roles) == {s.value for s in topology.SERVICES}
    for name, r in proof.roles.items():
        assert r.deployments == (f"{name}-api", f"{name}-worker")
        assert r.role.startswith("Dev-Services/") and r.statements


@pytest.mark.own_platform
def test_the_workflow_makes_no_call_the_shipped_roles_deny(enforced: tuple[LocalPlatform, Proof]) -> None:
    platform, proof = enforced
    assert not proof.denied, failure_message(proof)
    records = read_calls(platform.calls_dir)
    assert not [r for r in records if r["status"] == 403]  # nor did moto, enforcing the same roles
    by_service = proof.to_json()["services"]
    assert all(by_service[s.value]["calls"] > 0 for s in topology.SERVICES)
    report = render_markdown(proof, ran="test")
    assert "Granted but never observed" in report and "kms:GenerateDataKey" in report


@pytest.mark.own_platform
def test_moto_denies_a_service_what_its_role_does_not_grant(enforced: tuple[LocalPlatform, Proof]) -> None:
    """Products publishes to its own topic only: users' topic is refused by moto itself."""
    platform, _ = enforced
    creds = platform.service_credentials[Service.PRODUCTS]
    sns = boto3.session.Session(region_name=REGION, aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                                aws_session_token=creds["AWS_SESSION_TOKEN"]).client("sns",
                                                                                    endpoint_url=platform.moto_url)
    users_topic = next(arn for name, arn in platform.resources.topic_arns.items() if name.startswith("user"))
    with pytest.raises(sns.exceptions.ClientError, match=r"AccessDenied|not authorized"):
        sns.publish(TopicArn=users_topic, Message="{}")


@pytest.mark.own_platform
def test_removing_an_action_from_a_synthesized_policy_fails_naming_the_call() -> None:
    with ProofPlatform(drop=("products", "sns:Publish"), free_ports=True, mode=PROCESSES, enforce_iam=True,
                       edge=False, name_prefix="access16-drop") as p:
        assert not any("sns:Publish" in s.actions for s in p.roles()["products"].statements)
        token = p.user_token(f"admin-{uuid.uuid4().hex[:6]}@example.com", groups=("admin",))
        admin = {"Authorization": f"Bearer {token}"}
        r = httpx.post(f"{p.url(Service.PRODUCTS)}/products", json=product_body("Denied", 100), headers=admin,
                       timeout=30)
        assert r.status_code == 201, r.text
        proof = wait_for(lambda: (lambda pr: pr if pr.denied else None)(p.access_proof()),
                         "the relay's denied publish", timeout=60)
        denied = proof.denied[0]
        # The relay publishes in batches: PublishBatch, which IAM authorizes as sns:Publish on the topic.
        assert denied.call.action == "sns:PublishBatch" and denied.call.pod.startswith("products-")
        assert {action for action, _ in denied.call.requirements} == {"sns:Publish"}
        assert any("common/publisher.py" in frame for frame in denied.call.code_path)
        assert denied.call.status == 403  # moto refused it too
        message = failure_message(proof)
        assert "sns:Publish" in message and "publisher.py" in message
        assert json.dumps(proof.to_json()["services"]["products"]["denied"])


def test_a_service_with_no_recorded_call_is_a_problem_not_a_pass() -> None:
    """A broken record (AWS_CALL_LOG not written) must not read as "nothing denied"."""
    allow = Statement(policy="P", index=0, effect="Allow", actions=("dynamodb:GetItem",), resources=(TABLE,))
    roles = {"users": role(allow), "orders": ServiceRole(service="orders", role="R", deployments=("orders-api",),
                                                         statements=(allow,))}
    proof = prove(roles, [call("GetItem", TableName="users-table")], region=REGION, account=MOTO_ACCOUNT)
    assert not proof.denied
    assert proof.problems() == ["access: no AWS call of orders was recorded (AWS_CALL_LOG)"]
