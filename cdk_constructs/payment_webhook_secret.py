"""The secret the payment provider signs its webhook requests with (services/orders/webhook.py)."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_constructs.retention import removal_policy
from config.environment import RemovalMode
from policies.nag import acknowledge

ROTATION_REASON = ("The webhook signing secret is shared with the payment provider, which must be given a new value "
                   "before the platform uses it: a rotation is a rollover agreed with the provider (docs/security.md, "
                   "'Payment webhook'), not a Lambda the platform can run alone.")


class PaymentWebhookSecret(Construct):
    """A generated string (64 characters, no punctuation, so any provider's console accepts it), encrypted with the
    orders data key: only the orders service's role reads it; operators give it to the provider at setup."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, removal: RemovalMode) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self, "Secret",
            description="HMAC-SHA256 key of the payment provider's webhook (POST /payments/webhook)",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False),
            removal_policy=removal_policy(removal),
        )
        for rule in ("AwsSolutions-SMG4", "NIST.800.53.R5-SecretsManagerRotationEnabled",
                     "PCI.DSS.321-SecretsManagerRotationEnabled"):
            acknowledge(self.secret, rule, ROTATION_REASON)
