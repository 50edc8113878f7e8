"""The platform's SES sending identity: one verified domain, reused by every sender (Cognito's messages now, order
notifications later); each sender brings its own configuration set, so their events and reputation stay apart."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ses as ses
from constructs import Construct

from config.environment import EmailConfig


class EmailIdentity(Construct):
    """SES domain identity with Easy DKIM (2048-bit). SES signs and sends for it once the three DKIM CNAME records,
    output by the stack, are published in the domain's DNS; until then SES keeps it pending and senders fail to
    send (docs/deploying.md). No default configuration set: senders pass theirs with each message."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EmailConfig) -> None:
        super().__init__(scope, construct_id)
        self.domain = config.domain
        self.sender = config.sender
        self.sender_name = config.sender_name
        # Whether SES has verified it (config: set once `make account-check` says so); Cognito sends through it only
        # then, since a pool created or updated with a pending identity fails.
        self.verified = config.ses_identity_verified
        self.identity = ses.EmailIdentity(
            self, "Identity", identity=ses.Identity.domain(config.domain),
            dkim_identity=ses.DkimIdentity.easy_dkim(ses.EasyDkimSigningKeyLength.RSA_2048_BIT))
        self.identity_arn = cdk.Stack.of(self).format_arn(service="ses", resource="identity",
                                                          resource_name=config.domain)
        for i, (name, value) in enumerate(((self.identity.dkim_dns_token_name1, self.identity.dkim_dns_token_value1),
                                           (self.identity.dkim_dns_token_name2, self.identity.dkim_dns_token_value2),
                                           (self.identity.dkim_dns_token_name3, self.identity.dkim_dns_token_value3)),
                                          start=1):
            cdk.CfnOutput(self, f"DkimRecord{i}", value=cdk.Fn.join(" CNAME ", [name, value]),
                          description=f"Publish in the DNS of {config.domain} so SES verifies and signs for it")
