"""Least-privilege statements of the smoke test after each deploy (cdk_constructs/smoke_test_access.py).

The smoke role (assumed by the pipeline through GitHub's OIDC provider) reads one secret and the API key's value,
and outside prod publishes on the payment topic; the accounts function manages two users of one pool and writes
that secret. No statement names a wildcard resource.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from policies import service_access
from policies.service_access import allow

SMOKE_ACCOUNT_ACTIONS = ("cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword",
                         "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminDeleteUser")
SECRET_WRITE_ACTIONS = ("secretsmanager:PutSecretValue",)
SECRET_KEY_WRITE_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
LOG_WRITE_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


def api_key_read(partition: str, region: str, key_id: str) -> iam.PolicyStatement:
    """GetApiKey with includeValue on one key: the smoke test calls the API with it like the web front end does."""
    return iam.PolicyStatement(actions=["apigateway:GET"],
                               resources=[f"arn:{partition}:apigateway:{region}::/apikeys/{key_id}"])


def pool_accounts(user_pool_arn: str) -> iam.PolicyStatement:
    """Create, set the password of, make admin and delete users of one pool (the two smoke accounts)."""
    return allow(SMOKE_ACCOUNT_ACTIONS, user_pool_arn)


def secret_write(secret_arn: str) -> iam.PolicyStatement:
    return allow(SECRET_WRITE_ACTIONS, secret_arn)


def key_use_via_secrets_manager(key_arn: str, region: str) -> iam.PolicyStatement:
    """Encrypt a secret value with its CMK, and only through Secrets Manager."""
    via = {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
    return iam.PolicyStatement(actions=list(SECRET_KEY_WRITE_ACTIONS), resources=[key_arn],
                               conditions={"StringEquals": via})


def secret_key_decrypt(key_arn: str, region: str) -> iam.PolicyStatement:
    """Decrypt with a secret's CMK, and only through Secrets Manager (reading that secret)."""
    via = {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
    return iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key_arn], conditions={"StringEquals": via})


def log_write(log_group_arn: str) -> iam.PolicyStatement:
    """A function's own log group (instead of AWSLambdaBasicExecutionRole, which names every log group). A log
    group's ``Arn`` attribute already ends in ``:*``, which covers its streams."""
    return allow(LOG_WRITE_ACTIONS, log_group_arn)


def stage_client(*, partition: str, region: str, accounts_secret_arn: str, secrets_key_arn: str, api_key_id: str,
                 payment_topic_arn: str | None, topics_key_arn: str | None) -> list[iam.PolicyStatement]:
    """What a client of the stage through its public API with the smoke accounts needs (the smoke role, the canary,
    the load generator): the accounts' secret, the API key's value, and where the stage lets the smoke test pay, the
    payment topic."""
    statements = [service_access.secret_read(accounts_secret_arn), secret_key_decrypt(secrets_key_arn, region),
                  api_key_read(partition, region, api_key_id)]
    if payment_topic_arn is not None and topics_key_arn is not None:
        statements += [service_access.topic_publish(payment_topic_arn), service_access.key_encrypt(topics_key_arn)]
    return statements
