"""The SES configuration set of the platform's notifications, and where SES reports their bounces and complaints."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct


class NotificationEmail(Construct):
    """The configuration set the users service's notifier sends with (from the platform's SES domain identity,
    cdk_constructs/email_identity.py). Separate from Cognito's, so that the two senders' events and reputation
    metrics stay apart: TLS required, reputation metrics on, SES's account-level suppression list applied to bounces
    and complaints, and an event destination publishing BOUNCE and COMPLAINT events to ``events_topic`` (the
    email-events topic, whose queue the users service reads to suppress those addresses itself).

    ``events_topic`` is encrypted with ``topic_key``: SES publishes to it only if the key lets SES use it, for this
    configuration set alone (the same conditions CDK puts on the topic's policy for the event destination).
    """

    def __init__(self, scope: Construct, construct_id: str, *, events_topic: sns.ITopic, topic_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.configuration_set = ses.ConfigurationSet(
            self, "ConfigurationSet", reputation_metrics=True, sending_enabled=True,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE)
        self.configuration_set_name = self.configuration_set.configuration_set_name
        self.configuration_set_arn = stack.format_arn(service="ses", resource="configuration-set",
                                                      resource_name=self.configuration_set_name)
        self.event_destination = self.configuration_set.add_event_destination(
            "BouncesAndComplaints", destination=ses.EventDestination.sns_topic(events_topic),
            events=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT])
        topic_key.add_to_resource_policy(iam.PolicyStatement(
            sid="SesPublishesNotificationEvents",
            principals=[iam.ServicePrincipal("ses.amazonaws.com")],
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account,
                                         "aws:SourceArn": self.configuration_set_arn}}))
