from __future__ import annotations

import json
from typing import Any

from config.topology import QUEUES, TOPICS, filter_policy, filter_policy_scope
from tests.synthesis import Synthesized


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
    expected = sorted(json.dumps([filter_policy_scope(sub), filter_policy(sub)], sort_keys=True)
                      for q in QUEUES for sub in q.subscriptions)
    assert sorted(json.dumps([s.get("FilterPolicyScope", "MessageAttributes"), s["FilterPolicy"]], sort_keys=True)
                  for s in subs) == expected
    assert all(s["Protocol"] == "sqs" and s["RawMessageDelivery"] is True for s in subs)


def rendered(value: Any) -> Any:
    """Template values with ARNs joined (the partition as "aws", other references as <LogicalId>)."""
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(rendered(v) for v in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return "aws" if value["Ref"] == "AWS::Partition" else f"<{value['Ref']}>"
    if isinstance(value, dict):
        return {k: rendered(v) for k, v in value.items()}
    return value


def test_ses_reports_bounces_and_complaints_of_its_own_configuration_set(env: Synthesized) -> None:
    """The notifications' configuration set (not Cognito's) sends its bounces and complaints to the email-events
    topic, whose key and policy let SES publish for that configuration set only; the users queue reads them by
    the body's eventType, SES's messages having no `type` attribute."""
    resources = env.template_json("Messaging")["Resources"]
    (config_set,) = [k for k, v in resources.items() if v["Type"] == "AWS::SES::ConfigurationSet"]
    assert resources[config_set]["Properties"]["DeliveryOptions"] == {"TlsPolicy": "REQUIRE"}
    assert resources[config_set]["Properties"]["ReputationOptions"] == {"ReputationMetricsEnabled": True}
    (destination,) = [v["Properties"] for v in resources.values()
                      if v["Type"] == "AWS::SES::ConfigurationSetEventDestination"]
    assert destination["ConfigurationSetName"] == {"Ref": config_set}
    assert sorted(destination["EventDestination"]["MatchingEventTypes"]) == ["bounce", "complaint"]
    topic = destination["EventDestination"]["SnsDestination"]["TopicARN"]["Ref"]
    assert topic.startswith("EmailEventsTopic")
    source_arn = f"arn:aws:ses:{env.config.region}:{env.config.account}:configuration-set/<{config_set}>"
    conditions = {"StringEquals": {"AWS:SourceAccount": env.config.account, "AWS:SourceArn": source_arn}}
    topic_policy = [s for v in resources.values() if v["Type"] == "AWS::SNS::TopicPolicy"
                    and {"Ref": topic} in v["Properties"]["Topics"]
                    for s in v["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [rendered(s["Condition"]) for s in topic_policy
            if s.get("Principal") == {"Service": "ses.amazonaws.com"}] == [conditions]
    key_grants = [s for v in resources.values() if v["Type"] == "AWS::KMS::Key"
                  for s in v["Properties"]["KeyPolicy"]["Statement"]
                  if s.get("Principal") == {"Service": "ses.amazonaws.com"}]
    assert [(sorted(s["Action"]), rendered(s["Condition"])) for s in key_grants] == [
        (["kms:Decrypt", "kms:GenerateDataKey"],
         {"StringEquals": {"aws:SourceAccount": env.config.account, "aws:SourceArn": source_arn}})]
    (sub,) = [v["Properties"] for v in resources.values() if v["Type"] == "AWS::SNS::Subscription"
              and v["Properties"]["TopicArn"] == {"Ref": topic}]
    assert sub["FilterPolicyScope"] == "MessageBody" and sub["FilterPolicy"] == {"eventType": ["Bounce", "Complaint"]}


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
