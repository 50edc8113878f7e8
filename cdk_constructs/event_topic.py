"""An SNS topic for one domain's events, on the messaging CMK and TLS-only."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.topology import Topic


class EventTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, definition: Topic, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.definition = definition
        self.topic = sns.Topic(self, "Topic", display_name=definition.description[:100], master_key=key,
                               enforce_ssl=True)
