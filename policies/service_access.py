"""Least-privilege statements of the services' own roles, each for one resource.

Written here rather than with the resources' ``grant_*`` methods because those also edit the resource's side (key
and secret policies in the stateful stacks), which would make Data and Messaging depend on the Services stack. These
statements sit on the service role alone; the keys' default policies delegate to IAM in the same account.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

# Exactly what the services' code paths call (`make access-proof` lists each call with the statement that allowed
# it; an action no code path makes is removed, and one a new code path needs fails the services' tests, naming the
# call, until it is added here). A transaction needs the action of each of its items (PutItem, UpdateItem).
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem")
# ChangeMessageVisibility: a transient failure's retry backoff and a stopping worker's release (common/consumer.py).
CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")
SEND_ACTIONS = ("sqs:SendMessage",)
DEAD_LETTER_ACTIONS = ("sqs:SendMessage",)
PUBLISH_ACTIONS = ("sns:Publish",)
SECRET_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
SECRET_VALUE_ACTIONS = ("secretsmanager:GetSecretValue",)
DECRYPT_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
ENCRYPT_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
SEND_EMAIL_ACTIONS = ("ses:SendEmail",)


def allow(actions: tuple[str, ...], *resources: str) -> iam.PolicyStatement:
    """``actions`` on exactly ``resources``: every statement of this module, with nothing added."""
    return iam.PolicyStatement(actions=list(actions), resources=list(resources))


def table_read_write(table_arn: str, index_names: tuple[str, ...]) -> iam.PolicyStatement:
    """Items of one table and each named index (catalog, email and outbox queries); no Scan, no wildcard."""
    return allow(TABLE_ACTIONS, table_arn, *(f"{table_arn}/index/{name}" for name in index_names))


def queue_consume(queue_arn: str) -> iam.PolicyStatement:
    return allow(CONSUME_ACTIONS, queue_arn)


def queue_send(queue_arn: str) -> iam.PolicyStatement:
    return allow(SEND_ACTIONS, queue_arn)


def dead_letter_send(dead_letter_queue_arn: str) -> iam.PolicyStatement:
    """A consumer copying a message it can never apply to its own queue's DLQ (it reads nothing there)."""
    return allow(DEAD_LETTER_ACTIONS, dead_letter_queue_arn)


def topic_publish(topic_arn: str) -> iam.PolicyStatement:
    return allow(PUBLISH_ACTIONS, topic_arn)


def secret_read(secret_arn: str) -> iam.PolicyStatement:
    return allow(SECRET_ACTIONS, secret_arn)


def secret_value_read(secret_arn: str) -> iam.PolicyStatement:
    """A service reading a secret's value (the database credentials, its client secret): nothing else of it."""
    return allow(SECRET_VALUE_ACTIONS, secret_arn)


def key_decrypt(key_arn: str) -> iam.PolicyStatement:
    """Reading what a CMK protects (messages received, secret values)."""
    return allow(DECRYPT_ACTIONS, key_arn)


def key_encrypt(key_arn: str) -> iam.PolicyStatement:
    """Writing through a CMK (table items, published messages): data keys plus decrypt to read them back."""
    return allow(ENCRYPT_ACTIONS, key_arn)


def email_send(identity_arn: str, configuration_set_arn: str, from_address: str) -> iam.PolicyStatement:
    """SESv2 SendEmail from one address of the platform's identity, with one configuration set. SES authorizes the
    call against both resources (the identity the From address belongs to, the configuration set named in the
    request); ``ses:FromAddress`` is the address alone, whatever display name goes with it."""
    return iam.PolicyStatement(actions=list(SEND_EMAIL_ACTIONS), resources=[identity_arn, configuration_set_arn],
                               conditions={"StringEquals": {"ses:FromAddress": from_address}})
