"""The served local cloud (``gtlocal serve``, as the session fixture starts it) runs gtlocal.shims.

Each test shows one place where plain moto differs from AWS and the local cloud does not.
"""

from __future__ import annotations

import json

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
