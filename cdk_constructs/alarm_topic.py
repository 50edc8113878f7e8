"""The environment's alarm topic: every alarm notifies it; on-call subscribes by email (from config)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk_constructs.encryption_key import EncryptionKey
from config.environment import RemovalMode

CLOUDWATCH = "cloudwatch.amazonaws.com"


class AlarmTopic(Construct):
    """SNS topic on its own CMK. CloudWatch publishes alarm state changes as a service, so the key policy lets
    ``cloudwatch.amazonaws.com`` generate data keys for this account's alarms, and the topic policy lets it publish
    (the TLS-only policy replaces SNS's default owner policy, so the grant has to be explicit)."""

    def __init__(self, scope: Construct, construct_id: str, *, emails: tuple[str, ...], removal: RemovalMode) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.key = EncryptionKey(self, "Key", removal=removal,
                                 description="Alarm notifications of this environment (SNS alarm topic)").key
        this_account = {"StringEquals": {"aws:SourceAccount": stack.account}}
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublishEncrypted",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions=this_account,
        ))
        self.topic = sns.Topic(self, "Topic", display_name=f"{stack.stack_name} alarms", master_key=self.key,
                               enforce_ssl=True)
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["sns:Publish"],
            resources=[self.topic.topic_arn],
            conditions={"ArnLike": {"aws:SourceArn": stack.format_arn(
                service="cloudwatch", resource="alarm", resource_name="*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)}, **this_account},
        ))
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
