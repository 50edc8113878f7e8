"""An SQS queue read by one service, with its dead-letter queue, both on the messaging CMK and TLS-only."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from config.environment import MessagingConfig
from config.topology import Queue


class ConsumerQueue(Construct):
    """Messages that fail ``config.dlq_max_receive_count`` times move to :attr:`dead_letter_queue`."""

    def __init__(self, scope: Construct, construct_id: str, *, definition: Queue, config: MessagingConfig,
                 key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.definition = definition
        # On the messaging CMK, TLS only; fewer KMS calls per message: a data key is reused for an hour.
        protected: dict[str, Any] = {"encryption": sqs.QueueEncryption.KMS, "encryption_master_key": key,
                                     "data_key_reuse": cdk.Duration.hours(1), "enforce_ssl": True}
        self.dead_letter_queue = sqs.Queue(self, "DeadLetterQueue", **protected,
                                           retention_period=cdk.Duration.days(config.dlq_retention_days))
        self.queue = sqs.Queue(
            self, "Queue", **protected,
            retention_period=cdk.Duration.days(config.message_retention_days),
            visibility_timeout=cdk.Duration.seconds(config.visibility_timeout_seconds),
            receive_message_wait_time=cdk.Duration.seconds(20),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=config.dlq_max_receive_count,
                                                  queue=self.dead_letter_queue),
        )
