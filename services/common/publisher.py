"""Publishing an envelope to SNS (events) or SQS (commands), with the `type` message attribute.

The SNS subscriptions filter on the `type` attribute (config/topology.EVENT_TYPE_ATTRIBUTE) and use raw message
delivery, so the SQS body a consumer receives is exactly the envelope JSON published here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from common import aws
from common.envelope import validate
from common.tracing import producer_span

EVENT_TYPE_ATTRIBUTE = "type"


class Publisher:
    def __init__(self, destinations: Mapping[str, str]) -> None:
        # destination env var name -> topic ARN / queue URL
        self._destinations = dict(destinations)

    def publish(self, destination: str, event_type: str, payload: str) -> None:
        message = json.loads(payload)
        validate(message)  # a record that no longer validates must not reach consumers
        target = self._destinations[destination]
        attrs = {EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event_type}}
        with producer_span(destination, message):  # in the trace of the request/message that wrote the record
            if destination.startswith("TOPIC_ARN_"):
                aws.client("sns").publish(TopicArn=target, Message=payload, MessageAttributes=attrs)
            elif destination.startswith("QUEUE_URL_"):
                aws.client("sqs").send_message(QueueUrl=target, MessageBody=payload, MessageAttributes=attrs)
            else:
                raise ValueError(f"unknown destination kind: {destination}")
