"""What a deployed stage gives the smoke test: two accounts set up at deploy, a secret, a narrowly scoped role.

The template is checked for least privilege; the accounts handler (inline Lambda code) runs against moto's server
over HTTP, as it runs against Cognito and Secrets Manager in a deploy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from cdk_constructs import smoke_accounts_handler
from cdk_constructs.smoke_test_access import HANDLER
from tests.synthesis import Synthesized


def policy_statements(env: Synthesized, name_part: str) -> list[dict[str, Any]]:
    (policy,) = [r["Properties"] for k, r in env.resources("Edge", "AWS::IAM::ManagedPolicy").items() if name_part in k]
    return list(policy["PolicyDocument"]["Statement"])


def actions(statement: dict[str, Any]) -> set[str]:
    a = statement["Action"]
    return {a} if isinstance(a, str) else set(a)


def test_the_smoke_role_is_for_this_repository_and_environment_only(env: Synthesized) -> None:
    roles = env.resources("Edge", "AWS::IAM::Role")
    (role,) = [r["Properties"] for k, r in roles.items() if k.startswith("SmokeTestRole")]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    assert trust["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{env.config.github_repository}:environment:{env.config.name}",
    }}
    assert role["MaxSessionDuration"] == 3600


def test_the_smoke_role_reads_its_secret_and_the_api_key_and_pays_only_where_allowed(env: Synthesized) -> None:
    statements = policy_statements(env, "SmokeTestRolePolicy")
    granted = set().union(*(actions(s) for s in statements))
    expected = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "kms:Decrypt", "apigateway:GET"}
    if env.config.api.smoke_test_pays:
        expected |= {"sns:Publish", "kms:GenerateDataKey", "kms:DescribeKey"}
    assert granted == expected
    assert env.config.name != "prod" or not env.config.api.smoke_test_pays
    for s in statements:
        assert "*" not in json.dumps(s["Resource"]), s
        if actions(s) == {"apigateway:GET"}:
            assert "/apikeys/" in json.dumps(s["Resource"])
        if actions(s) == {"kms:Decrypt"}:
            assert s["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}
        if "sns:Publish" in actions(s):
            assert "PaymentEventsTopic" in json.dumps(s["Resource"])
    outputs = env.template_json("Edge")["Outputs"]
    assert {"ApiUrl", "ApiKeyId", "SmokeRoleArn", "SmokeSecretArn"} <= set(outputs)
    # Only where the smoke test may pay: an empty output value fails the deploy (review 1, finding 5).
    assert ("PaymentTopicArn" in outputs) == env.config.api.smoke_test_pays
    if env.config.api.smoke_test_pays:
        assert "PaymentEventsTopic" in json.dumps(outputs["PaymentTopicArn"]["Value"])


def test_the_accounts_function_manages_two_users_of_one_pool(env: Synthesized) -> None:
    statements = policy_statements(env, "SmokeTestAccountsFunctionPolicy")
    cognito = [s for s in statements if any(a.startswith("cognito-idp:") for a in actions(s))]
    assert len(cognito) == 1 and "UserPool" in json.dumps(cognito[0]["Resource"])
    assert actions(cognito[0]) == {"cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword",
                                   "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminDeleteUser"}
    (resource,) = env.resources("Edge", "Custom::SmokeAccounts").values()
    props = resource["Properties"]
    assert props["AdminGroup"] == "admin"
    assert props["AdminEmail"].endswith("@simulator.amazonses.com") and env.config.name in props["AdminEmail"]
    (function,) = [r["Properties"] for r in env.resources("Edge", "AWS::Lambda::Function").values()
                   if "smoke" in r["Properties"].get("Description", "")]
    assert function["Code"]["ZipFile"] == HANDLER.read_text()
    assert len(HANDLER.read_text()) < 4096  # CloudFormation's limit for inline code


def test_the_accounts_handler_sets_up_replaces_and_removes_the_accounts(moto: str) -> None:
    session = boto3.session.Session(region_name="eu-west-1", aws_access_key_id="testing",
                                    aws_secret_access_key="testing")
    idp, sm = session.client("cognito-idp", endpoint_url=moto), session.client("secretsmanager", endpoint_url=moto)
    pool = idp.create_user_pool(PoolName="smoke", UsernameAttributes=["email"],
                                Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": True,
                                                             "RequireLowercase": True, "RequireNumbers": True,
                                                             "RequireSymbols": True}})["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="web",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    idp.create_group(UserPoolId=pool, GroupName="admin")
    secret = sm.create_secret(Name="smoke", SecretString="{}")["ARN"]
    props = {"UserPoolId": pool, "AdminGroup": "admin", "SecretId": secret,
             "AdminEmail": "success+smoke-admin-dev@simulator.amazonses.com",
             "CustomerEmail": "success+smoke-customer-dev@simulator.amazonses.com"}

    smoke_accounts_handler.reconcile(idp, sm, props, None, deleting=False)
    stored = json.loads(sm.get_secret_value(SecretId=secret)["SecretString"])
    assert {r: a["email"] for r, a in stored.items()} == {"admin": props["AdminEmail"],
                                                           "customer": props["CustomerEmail"]}
    for account in stored.values():
        tokens = idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": account["email"], "PASSWORD": account["password"]})
        assert "AccessToken" in tokens["AuthenticationResult"]
    groups = idp.admin_list_groups_for_user(UserPoolId=pool, Username=props["AdminEmail"])["Groups"]
    assert [g["GroupName"] for g in groups] == ["admin"]
    assert idp.admin_list_groups_for_user(UserPoolId=pool, Username=props["CustomerEmail"])["Groups"] == []

    # An update (redeploy): new passwords; a changed email removes the old user.
    new = {**props, "CustomerEmail": "success+smoke-customer2-dev@simulator.amazonses.com"}
    smoke_accounts_handler.reconcile(idp, sm, new, props, deleting=False)
    again = json.loads(sm.get_secret_value(SecretId=secret)["SecretString"])
    assert again["admin"]["password"] != stored["admin"]["password"]
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=pool, Username=props["CustomerEmail"])

    smoke_accounts_handler.reconcile(idp, sm, new, None, deleting=True)
    for email in (new["AdminEmail"], new["CustomerEmail"]):
        with pytest.raises(idp.exceptions.UserNotFoundException):
            idp.admin_get_user(UserPoolId=pool, Username=email)
    smoke_accounts_handler.reconcile(idp, sm, new, None, deleting=True)  # deleting twice is fine


def test_generated_passwords_meet_every_pool_policy() -> None:
    for _ in range(200):
        p = smoke_accounts_handler.password()
        assert len(p) >= 12 and any(c.isupper() for c in p) and any(c.islower() for c in p)
        assert any(c.isdigit() for c in p) and any(not c.isalnum() for c in p)


def test_the_accounts_handler_retries_access_denied_a_few_times_only() -> None:
    """IAM applies the role's new policy seconds after CloudFormation reports it attached: the handler tries again
    on AccessDenied, a bounded number of times, and fails on anything else at once."""
    from botocore.exceptions import ClientError

    def failing(code: str, times: int) -> tuple[Callable[[], None], list[int]]:
        calls: list[int] = []

        def call() -> None:
            calls.append(1)
            if len(calls) <= times:
                raise ClientError({"Error": {"Code": code, "Message": "no"}}, "AdminCreateUser")
        return call, calls

    waits: list[float] = []
    call, calls = failing("AccessDeniedException", 2)
    smoke_accounts_handler.retried(call, sleep=waits.append)
    assert len(calls) == 3 and len(waits) == 2
    call, calls = failing("AccessDeniedException", 9)
    with pytest.raises(ClientError):
        smoke_accounts_handler.retried(call, attempts=5, sleep=waits.append)
    assert len(calls) == 5
    call, calls = failing("UserNotFoundException", 1)
    with pytest.raises(ClientError):
        smoke_accounts_handler.retried(call, sleep=waits.append)
    assert len(calls) == 1
