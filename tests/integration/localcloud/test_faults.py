"""Fault injection on the served local cloud (gtlocal.faults, ``/_localcloud/faults``).

Each injected error must reach botocore as the service's own error (its code and HTTP status, as the
service's model declares them, in the service's protocol: query for SNS, JSON for DynamoDB,
SageMaker and SQS, REST-XML for S3); a throttled or failed call is not applied; a lost answer is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from gtlocal.client import ControlApiError
from gtlocal.testing import LocalCloud, reset_local_cloud

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> Iterator[LocalCloud]:
    reset_local_cloud(local_cloud)
    yield local_cloud
    local_cloud.control.clear_faults()


def client(service: str, config: Config = ONE_ATTEMPT) -> Any:
    session: Any = boto3.session.Session(region_name="us-east-1")
    return session.client(service, config=config)


def error_of(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def table(name: str = "faults") -> str:
    client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_throttled_and_failed_calls_are_the_services_own_errors_and_are_not_applied(
    cloud: LocalCloud,
) -> None:
    control = cloud.control
    ddb, sns, s3, sm, sqs = (client(s) for s in ("dynamodb", "sns", "s3", "sagemaker", "sqs"))
    name = table()
    topic = sns.create_topic(Name="faults")["TopicArn"]
    s3.create_bucket(Bucket="faults")
    queue = sqs.create_queue(QueueName="faults")["QueueUrl"]
    item = {"pk": {"S": "a"}}

    control.inject_call_fault("dynamodb", "PutItem", "throttle", count=2)
    assert error_of(ddb.put_item, TableName=name, Item=item) == ("ThrottlingException", 400)
    assert error_of(ddb.put_item, TableName=name, Item=item) == ("ThrottlingException", 400)
    assert "Item" not in ddb.get_item(TableName=name, Key=item)  # a throttled write is not applied
    ddb.put_item(TableName=name, Item=item)  # the fault's count is spent
    assert "Item" in ddb.get_item(TableName=name, Key=item)

    control.inject_call_fault("dynamodb", "Query", "error")
    assert error_of(
        ddb.query,
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "a"}},
    ) == ("InternalServerError", 500)
    control.inject_call_fault("sns", "Publish", "throttle")
    assert error_of(sns.publish, TopicArn=topic, Message="m") == ("Throttled", 429)
    control.inject_call_fault("sns", "PublishBatch", "error")
    entries = [{"Id": "1", "Message": "m"}]
    assert error_of(sns.publish_batch, TopicArn=topic, PublishBatchRequestEntries=entries) == (
        "InternalError",
        500,
    )
    control.inject_call_fault("s3", "PutObject", "throttle")
    assert error_of(s3.put_object, Bucket="faults", Key="k", Body=b"x") == ("SlowDown", 503)
    assert "Contents" not in s3.list_objects_v2(Bucket="faults")
    s3.put_object(Bucket="faults", Key="k", Body=b"x")
    control.inject_call_fault("s3", "GetObject", "error")
    assert error_of(s3.get_object, Bucket="faults", Key="k") == ("InternalError", 500)
    control.inject_call_fault("sagemaker", "DescribeLabelingJob", "throttle")
    assert error_of(sm.describe_labeling_job, LabelingJobName="none") == ("ThrottlingException", 400)
    control.inject_call_fault("sqs", "SendMessage", "throttle")
    assert error_of(sqs.send_message, QueueUrl=queue, MessageBody="m") == ("RequestThrottled", 400)

    faults = control.faults()
    assert faults["calls"] == []
    assert [i["call"] for i in faults["injected"]] == [
        "dynamodb:PutItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "sns:Publish",
        "sns:PublishBatch",
        "s3:PutObject",
        "s3:GetObject",
        "sagemaker:DescribeLabelingJob",
        "sqs:SendMessage",
    ]


def test_standard_retries_ride_out_throttling_and_the_answer_lost_after_the_write_applied(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *_: 0.0)
    name = table()
    standard = client("dynamodb", Config(retries={"mode": "standard", "max_attempts": 5}))
    cloud.control.inject_call_fault("dynamodb", "PutItem", "throttle", count=4)
    standard.put_item(TableName=name, Item={"pk": {"S": "retried"}})
    assert len(cloud.control.faults()["injected"]) == 4

    cloud.control.inject_call_fault("dynamodb", "PutItem", "lose-response")
    with pytest.raises(ConnectionClosedError):
        client("dynamodb").put_item(TableName=name, Item={"pk": {"S": "lost"}})
    assert "Item" in standard.get_item(TableName=name, Key={"pk": {"S": "lost"}})  # applied


def test_bad_fault_requests_are_refused_with_a_reason(cloud: LocalCloud) -> None:
    with pytest.raises(ControlApiError, match="kind must be one of"):
        cloud.control.inject_call_fault("sns", "Publish", "explode")
    with pytest.raises(ControlApiError, match="count must be an integer"):
        cloud.control.inject_call_fault("sns", "Publish", count=0)
    with pytest.raises(ControlApiError, match="a delay needs seconds"):
        cloud.control.inject_event_fault("delay")
    with pytest.raises(ControlApiError, match="action must be one of"):
        cloud.control.inject_event_fault("scramble")
    assert cloud.control.faults()["calls"] == []


def test_a_kill_fault_is_a_marked_internal_error_and_is_not_applied(cloud: LocalCloud) -> None:
    """Over HTTP: the mark the runner's handler process dies of (gtlocal.runner); any other client
    sees the service's 500."""
    from gtlocal.faults import KILL_HEADER

    ddb = client("dynamodb")
    name = table()
    cloud.control.inject_call_fault("dynamodb", "PutItem", "kill")
    with pytest.raises(ClientError) as info:
        ddb.put_item(TableName=name, Item={"pk": {"S": "killed"}})
    response = info.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InternalServerError",
        500,
    )
    assert response["ResponseMetadata"]["HTTPHeaders"][KILL_HEADER.lower()] == "kill"
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "killed"}})
    injected = [(i["call"], i["kind"]) for i in cloud.control.faults()["injected"]]
    assert injected == [("dynamodb:PutItem", "kill")]
