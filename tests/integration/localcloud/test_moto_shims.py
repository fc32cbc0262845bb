"""The served local cloud (``gtlocal serve``, as the session fixture starts it) runs gtlocal.shims.

Each test shows one place where plain moto differs from AWS and the local cloud does not.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from gtlocal.testing import LocalCloud, allow_delivery


def _deny(bucket: str, condition: dict[str, object] | None) -> dict[str, object]:
    statement: dict[str, object] = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_tls_only_bucket_policy_admits_requests_and_plain_denies_still_deny(cloud: LocalCloud) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="tls-only")
    tls_only = _deny("tls-only", {"Bool": {"aws:SecureTransport": "false"}})
    s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps(tls_only))
    s3.put_object(Bucket="tls-only", Key="a", Body=b"1")  # moto alone: AccessDenied

    s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps(_deny("tls-only", None)))
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket="tls-only", Key="b", Body=b"1")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_schedule_rule_with_lambda_target_leaves_put_events_to_pattern_rules(cloud: LocalCloud) -> None:
    events, sqs = boto3.client("events"), boto3.client("sqs")
    url = sqs.create_queue(QueueName="matched")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="every-5-min", ScheduleExpression="rate(5 minutes)")
    function = f"arn:aws:lambda:{cloud.region}:123456789012:function:reconcile"
    events.put_targets(Rule="every-5-min", Targets=[{"Id": "fn", "Arn": function}])
    rule = events.put_rule(Name="pattern", EventPattern=json.dumps({"source": ["test.shims"]}))["RuleArn"]
    events.put_targets(Rule="pattern", Targets=[{"Id": "q", "Arn": arn}])
    allow_delivery(sqs, url, "events.amazonaws.com", rule)  # EventBridge delivers only what the queue admits

    answer = events.put_events(Entries=[{"Source": "test.shims", "DetailType": "t", "Detail": "{}"}])

    assert answer["FailedEntryCount"] == 0  # moto alone: NotImplementedError for the Lambda target
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["source"] for m in received] == ["test.shims"]


def test_sqs_returns_redrive_allow_policy_and_compact_redrive_policy(cloud: LocalCloud) -> None:
    sqs = boto3.client("sqs")
    allow = json.dumps({"redrivePermission": "denyAll"})
    dlq = sqs.create_queue(QueueName="dlq", Attributes={"RedriveAllowPolicy": allow})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    main = sqs.create_queue(QueueName="main", Attributes={"RedrivePolicy": redrive})["QueueUrl"]

    got = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["RedriveAllowPolicy"])["Attributes"]
    assert json.loads(got["RedriveAllowPolicy"]) == {"redrivePermission": "denyAll"}
    policy = sqs.get_queue_attributes(QueueUrl=main, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert policy["RedrivePolicy"] == json.dumps(json.loads(redrive), separators=(",", ":"))


def test_cloudformation_creates_a_topic_policy_moto_has_no_model_for(cloud: LocalCloud) -> None:
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "shimmed"}},
            "Policy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {
                    "Topics": [{"Ref": "Topic"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Resource": {"Ref": "Topic"},
                            }
                        ],
                    },
                },
            },
        }
    }
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName="shimmed", TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName="shimmed", WaiterConfig={"Delay": 1})

    (topic,) = boto3.client("sns").list_topics()["Topics"]
    attributes = boto3.client("sns").get_topic_attributes(TopicArn=topic["TopicArn"])["Attributes"]
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}


def test_cloudformation_evaluates_a_condition_named_in_a_condition(cloud: LocalCloud) -> None:
    """``!Or [!Condition A, !Condition B]`` (YAML short form), as AWS evaluates it."""
    template = """
Parameters:
  A: {Type: String, Default: ""}
  B: {Type: String, Default: "b"}
Conditions:
  HasA: !Not [!Equals [!Ref A, ""]]
  HasB: !Not [!Equals [!Ref B, ""]]
  AOrB: !Or [!Condition HasA, !Condition HasB]
  AAndB: !And [!Condition HasA, !Condition HasB]
Resources:
  Either: {Type: AWS::SNS::Topic, Condition: AOrB, Properties: {TopicName: either}}
  Both: {Type: AWS::SNS::Topic, Condition: AAndB, Properties: {TopicName: both}}
"""
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName="conditions", TemplateBody=template)
    cfn.get_waiter("stack_create_complete").wait(StackName="conditions", WaiterConfig={"Delay": 1})
    topics = [t["TopicArn"].rsplit(":", 1)[1] for t in boto3.client("sns").list_topics()["Topics"]]
    assert topics == ["either"]


def _queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _bodies(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["Message"] for m in messages]


def test_sns_keeps_delivering_when_one_subscribed_queue_is_gone(cloud: LocalCloud) -> None:
    """AWS: a failed delivery to one endpoint does not affect the others ("Amazon SNS message
    delivery retries"); moto alone fails Publish and drops the rest (issue 8, difference 10)."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="fan-out")["TopicArn"]
    gone_url, gone_arn = _queue(sqs, "GroundTruth-ended-job")
    live_url, live_arn = _queue(sqs, "GroundTruth-running-job")
    allow_delivery(sqs, live_url, "sns.amazonaws.com", topic)
    for arn in (gone_arn, live_arn):  # the deleted queue is the first subscription
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sqs.delete_queue(QueueUrl=gone_url)

    sns.publish(TopicArn=topic, Message="one")
    answer = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[{"Id": str(i), "Message": f"batch-{i}"} for i in range(3)],
    )

    assert sorted(entry["Id"] for entry in answer["Successful"]) == ["0", "1", "2"]
    assert answer["Failed"] == []
    assert sorted(_bodies(sqs, live_url)) == ["batch-0", "batch-1", "batch-2", "one"]


def test_sqs_delays_and_visibility_follow_the_emulated_clock(cloud: LocalCloud) -> None:
    """``POST /_groundtruth/clock`` moves SQS timers as time passing would on AWS."""
    sqs = boto3.client("sqs")
    url, _ = _queue(sqs, "timers")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    cloud.control.advance_clock(601)
    [message] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=3600)["Messages"]
    assert message["Body"] == "later"
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None  # in flight for an hour
    cloud.control.advance_clock(3601)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["later"]


def test_sqs_deletes_messages_past_their_retention_period(cloud: LocalCloud) -> None:
    """ "Amazon SQS automatically deletes messages that have been in a queue for more than the
    maximum message retention period" - also when the emulated clock jumps past it; the messages
    sent after it are still delivered (moto alone stops its receive at the expired one)."""
    sqs = boto3.client("sqs")
    url, _ = _queue(sqs, "retention", MessageRetentionPeriod="60")
    sqs.send_message(QueueUrl=url, MessageBody="old")
    cloud.control.advance_clock(61)
    sqs.send_message(QueueUrl=url, MessageBody="new")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == [
        "new"
    ]


def test_s3_event_notifications_carry_a_sequencer(cloud: LocalCloud) -> None:
    """ "Event message structure": ``s3.object.sequencer`` orders the events of one key; Ground
    Truth deduplicates S3 input by the object's URI and this sequencer."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    url, arn = _queue(sqs, "s3-events")
    allow_delivery(sqs, url, "s3.amazonaws.com", "arn:aws:s3:::sequenced")
    s3.create_bucket(Bucket="sequenced")
    s3.put_bucket_notification_configuration(
        Bucket="sequenced",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    for body in (b"1", b"2"):
        s3.put_object(Bucket="sequenced", Key="same.jpg", Body=body)
    records = [
        json.loads(m["Body"])["Records"][0]
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        if "Records" in json.loads(m["Body"])
    ]
    sequencers = [r["s3"]["object"]["sequencer"] for r in records]
    assert len(sequencers) == 2 and len(set(sequencers)) == 2
    assert all(int(s, 16) > 0 for s in sequencers)


def test_s3_refuses_keys_longer_than_1024_bytes(cloud: LocalCloud) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="long-keys")
    fits = "k" * 1024
    s3.put_object(Bucket="long-keys", Key=fits, Body=b"1")  # exactly the limit is fine
    for call, kwargs in (
        (s3.put_object, {"Key": "é" * 513, "Body": b"1"}),  # 1,026 bytes of UTF-8
        (s3.copy_object, {"Key": "q/" + fits, "CopySource": {"Bucket": "long-keys", "Key": fits}}),
    ):
        with pytest.raises(ClientError) as refused:
            call(Bucket="long-keys", **kwargs)
        assert refused.value.response["Error"]["Code"] == "KeyTooLongError"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="long-keys")["Contents"]] == [fits]


def test_s3_lists_versions_of_keys_with_control_characters(cloud: LocalCloud) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="odd-keys")
    s3.put_bucket_versioning(Bucket="odd-keys", VersioningConfiguration={"Status": "Enabled"})
    keys = ["ctl/\x01\x07\x1b[31m\x7fname\t.jpg", "a b%2F.jpg", "é/x"]
    for key in keys:
        s3.put_object(Bucket="odd-keys", Key=key, Body=b"1")
    s3.delete_object(Bucket="odd-keys", Key=keys[0])

    listed = s3.list_object_versions(Bucket="odd-keys")  # moto alone: 500 (unencodable XML)

    assert sorted(v["Key"] for v in listed["Versions"]) == sorted(keys)
    assert [m["Key"] for m in listed["DeleteMarkers"]] == [keys[0]]
