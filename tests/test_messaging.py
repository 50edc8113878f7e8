from __future__ import annotations

import json
from typing import Any

from config.topology import QUEUES, TOPICS, filter_policy
from tests.conftest import Synthesized


def queues(env: Synthesized) -> dict[str, dict[str, Any]]:
    return env.resources("Messaging", "AWS::SQS::Queue")


def test_one_topic_per_domain(env: Synthesized) -> None:
    topics = env.resources("Messaging", "AWS::SNS::Topic")
    assert sorted(k.rsplit("Topic", 1)[0] for k in topics) == sorted(t.construct_id[:-5] for t in TOPICS)


def test_every_consumer_queue_has_a_dlq_with_max_receives_from_config(env: Synthesized) -> None:
    q = queues(env)
    main = {k: v for k, v in q.items() if "DeadLetterQueue" not in k}
    dead = {k for k in q if "DeadLetterQueue" in k}
    assert len(main) == len(dead) == len(QUEUES)
    for queue in main.values():
        policy = queue["Properties"]["RedrivePolicy"]
        assert policy["maxReceiveCount"] == env.config.messaging.dlq_max_receive_count
        assert policy["deadLetterTargetArn"]["Fn::GetAtt"][0] in dead


def test_every_queue_and_topic_is_on_a_customer_managed_key(env: Synthesized) -> None:
    keys = set(env.resources("Messaging", "AWS::KMS::Key"))
    for queue in queues(env).values():
        assert queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0] in keys
    for topic in env.resources("Messaging", "AWS::SNS::Topic").values():
        assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0] in keys


def test_queue_key_lets_sns_deliver(env: Synthesized) -> None:
    statements = [s for k in env.resources("Messaging", "AWS::KMS::Key").values()
                  for s in k["Properties"]["KeyPolicy"]["Statement"]]
    sns = [s for s in statements if s.get("Principal", {}).get("Service") == "sns.amazonaws.com"]
    assert sns and all({"kms:Decrypt", "kms:GenerateDataKey"} <= set(s["Action"]) for s in sns)


def test_queues_and_topics_refuse_requests_without_tls(env: Synthesized) -> None:
    def denies_plain_http(doc: dict[str, Any]) -> bool:
        return any(s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in doc["Statement"])

    queue_policies = env.resources("Messaging", "AWS::SQS::QueuePolicy").values()
    covered = {q["Ref"] for p in queue_policies if denies_plain_http(p["Properties"]["PolicyDocument"])
               for q in p["Properties"]["Queues"]}
    assert covered == set(queues(env))
    topic_policies = env.resources("Messaging", "AWS::SNS::TopicPolicy").values()
    covered_topics = {t["Ref"] for p in topic_policies if denies_plain_http(p["Properties"]["PolicyDocument"])
                      for t in p["Properties"]["Topics"]}
    assert covered_topics == set(env.resources("Messaging", "AWS::SNS::Topic"))


def test_subscriptions_fan_out_with_filter_policies_and_raw_delivery(env: Synthesized) -> None:
    subs = [s["Properties"] for s in env.resources("Messaging", "AWS::SNS::Subscription").values()]
    expected = sorted(json.dumps(filter_policy(sub), sort_keys=True) for q in QUEUES for sub in q.subscriptions)
    assert sorted(json.dumps(s["FilterPolicy"], sort_keys=True) for s in subs) == expected
    assert all(s["Protocol"] == "sqs" and s["RawMessageDelivery"] is True for s in subs)
    assert all(s.get("FilterPolicyScope", "MessageAttributes") == "MessageAttributes" for s in subs)


def test_command_queue_has_no_subscription(env: Synthesized) -> None:
    subs = [s["Properties"]["Endpoint"]["Fn::GetAtt"][0] for s in
            env.resources("Messaging", "AWS::SNS::Subscription").values()]
    assert not [s for s in subs if s.startswith("InventoryReservationsQueue")]


def test_queue_and_dead_letter_urls_are_stack_outputs_for_the_redrive_tool(env: Synthesized) -> None:
    outputs = env.template_json("Messaging")["Outputs"]
    for q in QUEUES:
        (main,) = [k for k, v in queues(env).items() if k.startswith(q.construct_id) and "RedrivePolicy" in
                   v["Properties"]]
        dead = queues(env)[main]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert outputs[f"{q.construct_id}Url"]["Value"] == {"Ref": main}
        assert outputs[f"{q.construct_id}DeadLetterUrl"]["Value"] == {"Ref": dead}
