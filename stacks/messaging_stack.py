from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct
from contract import Contract, Subscription

from cdk_constructs.consumer_queue import ConsumerQueue
from cdk_constructs.encryption_key import EncryptionKey
from cdk_constructs.event_topic import EventTopic
from cdk_constructs.notification_email import NotificationEmail
from config.environment import MessagingConfig, RemovalMode


class MessagingStack(cdk.Stack):
    """Topics per domain, a queue (and DLQ) per consumer, SNS -> SQS fan-out filtered by event type.

    Built from the service contract (``contract``), the definition the local platform also creates in moto.
    """

    def __init__(self, scope: Construct, construct_id: str, *, contract: Contract, config: MessagingConfig,
                 removal: RemovalMode, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Two keys: a queue's key policy names the topics that may deliver to it (aws:SourceArn), so topics and
        # queues on one key would form a dependency cycle.
        self.topics_key = EncryptionKey(self, "TopicsKey", removal=removal,
                                        description="SNS topics of the platform's events").key
        self.queues_key = EncryptionKey(self, "QueuesKey", removal=removal,
                                        description="SQS queues and dead-letter queues of the platform").key
        self.topics: dict[str, EventTopic] = {
            t.name: EventTopic(self, t.construct_id, definition=t, key=self.topics_key) for t in contract.topics
        }
        self.queues: dict[str, ConsumerQueue] = {}
        for q in contract.queues:
            consumer = ConsumerQueue(self, q.construct_id, definition=q, config=config, key=self.queues_key)
            self.queues[q.name] = consumer
            # Read by `make redrive QUEUE=<name>` (tools/ops/redrive.py) to find a queue and its DLQ in AWS.
            cdk.CfnOutput(self, f"{q.construct_id}Url", value=consumer.queue.queue_url,
                          description=f"URL of the {q.name} queue")
            cdk.CfnOutput(self, f"{q.construct_id}DeadLetterUrl", value=consumer.dead_letter_queue.queue_url,
                          description=f"URL of the {q.name} dead-letter queue")
            for sub in q.subscriptions:
                self.topics[sub.topic].topic.add_subscription(subscriptions.SqsSubscription(
                    consumer.queue, raw_message_delivery=True, **self._filter(contract, sub)))
        # Notifications' SES configuration set: its bounces and complaints go to the email-events topic.
        self.notification_email = NotificationEmail(self, "NotificationEmail",
                                                    events_topic=self.topics["email-events"].topic,
                                                    topic_key=self.topics_key)

    @staticmethod
    def _filter(contract: Contract, sub: Subscription) -> dict[str, Any]:
        """The subscription's filter policy in its scope: message attributes, or the body of an AWS service's
        messages (the contract's topic and event definitions)."""
        allow = {attr: sns.SubscriptionFilter.string_filter(allowlist=values)
                 for attr, values in contract.filter_policy(sub).items()}
        if contract.filter_policy_scope(sub) == "MessageBody":
            return {"filter_policy_with_message_body": {k: sns.FilterOrPolicy.filter(v) for k, v in allow.items()}}
        return {"filter_policy": allow}
