"""HTTP request -> IAM authorization requests, for every operation this project uses.

Each request is built by botocore's own serializer (a boto3 client whose ``before-send`` hook
captures the prepared request, nothing is sent), then turned into a WSGI environ and mapped. A second
test holds every mapping row to the Service Authorization Reference extract (the action exists; the
ARN fits one of the action's resource types; ``*`` exactly for actions without resource types).
"""

from __future__ import annotations

import functools
import io
import urllib.parse
from typing import Any

import boto3
import pytest

from gtlocal.iam import reference
from gtlocal.iam.principals import signature_of
from gtlocal.iam.requests import Mapped, authorize, identify

ACCOUNT = "123456789012"
REGION = "us-east-1"
ENDPOINT = "http://127.0.0.1:4566"
QUEUE_URL = f"{ENDPOINT}/{ACCOUNT}/jobs"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:output"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/ledger"
JOB = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/cats-0001"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/gt-execution"
GT_LAMBDAS = f"arn:aws:lambda:{REGION}:432418664414:function"
ALARM = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:dlq-not-empty"


class _Captured(Exception):
    pass


_CAPTURED: list[Any] = []


def _before_send(request: Any, **_: Any) -> None:
    _CAPTURED.append(request)
    raise _Captured


@functools.cache
def _client(service: str) -> Any:
    client = boto3.client(
        service,
        region_name=REGION,
        endpoint_url=ENDPOINT,
        aws_access_key_id="ASIAEXAMPLE",
        aws_secret_access_key="secret",
        aws_session_token="token",
    )
    client.meta.events.register("before-send", _before_send)
    return client


def environ_of(service: str, operation: str, params: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    _CAPTURED.clear()
    with pytest.raises(_Captured):
        getattr(_client(service), operation)(**params)
    request = _CAPTURED[0]
    url = urllib.parse.urlsplit(request.url)
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": urllib.parse.unquote(url.path) or "/",
        "QUERY_STRING": url.query,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ, body


def mapped(service: str, operation: str, **params: Any) -> Mapped:
    environ, body = environ_of(service, operation, params)
    query = urllib.parse.parse_qs(environ["QUERY_STRING"], keep_blank_values=True)
    signature = signature_of(environ, query)
    assert signature.access_key == "ASIAEXAMPLE" and signature.token == "token"
    call = identify(environ, body, query, signature.service, signature.region, ACCOUNT)
    assert call is not None
    return authorize(call)


def pairs(result: Mapped) -> list[tuple[str, str]]:
    return [(c.action, c.resource) for c in result.checks]


S3 = "arn:aws:s3:::drop"
CASES: list[tuple[str, str, dict[str, Any], list[tuple[str, str]]]] = [
    # S3 (API operation -> policy action differ: using-with-s3-policy-actions.html)
    ("s3", "get_object", {"Bucket": "drop", "Key": "a/b.png"}, [("s3:GetObject", f"{S3}/a/b.png")]),
    ("s3", "head_object", {"Bucket": "drop", "Key": "a.png"}, [("s3:GetObject", f"{S3}/a.png")]),
    (
        "s3",
        "get_object",
        {"Bucket": "drop", "Key": "a.png", "VersionId": "v1"},
        [("s3:GetObjectVersion", f"{S3}/a.png")],
    ),
    ("s3", "put_object", {"Bucket": "drop", "Key": "a.png", "Body": b"x"}, [("s3:PutObject", f"{S3}/a.png")]),
    (
        "s3",
        "put_object",
        {"Bucket": "drop", "Key": "a.png", "Body": b"x", "Tagging": "k=v"},
        [("s3:PutObject", f"{S3}/a.png"), ("s3:PutObjectTagging", f"{S3}/a.png")],
    ),
    (
        "s3",
        "copy_object",
        {"Bucket": "out", "Key": "c.png", "CopySource": {"Bucket": "drop", "Key": "a b.png"}},
        [("s3:GetObject", f"{S3}/a b.png"), ("s3:PutObject", "arn:aws:s3:::out/c.png")],
    ),
    ("s3", "delete_object", {"Bucket": "drop", "Key": "a.png"}, [("s3:DeleteObject", f"{S3}/a.png")]),
    (
        "s3",
        "delete_objects",
        {"Bucket": "drop", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b&c"}]}},
        [("s3:DeleteObject", f"{S3}/a"), ("s3:DeleteObject", f"{S3}/b&c")],
    ),
    ("s3", "list_objects_v2", {"Bucket": "drop", "Prefix": "in/"}, [("s3:ListBucket", S3)]),
    ("s3", "list_objects", {"Bucket": "drop"}, [("s3:ListBucket", S3)]),
    ("s3", "head_bucket", {"Bucket": "drop"}, [("s3:ListBucket", S3)]),
    ("s3", "create_multipart_upload", {"Bucket": "drop", "Key": "big"}, [("s3:PutObject", f"{S3}/big")]),
    (
        "s3",
        "upload_part",
        {"Bucket": "drop", "Key": "big", "UploadId": "u", "PartNumber": 1, "Body": b"x"},
        [("s3:PutObject", f"{S3}/big")],
    ),
    (
        "s3",
        "complete_multipart_upload",
        {"Bucket": "drop", "Key": "big", "UploadId": "u", "MultipartUpload": {"Parts": []}},
        [("s3:PutObject", f"{S3}/big")],
    ),
    (
        "s3",
        "abort_multipart_upload",
        {"Bucket": "drop", "Key": "big", "UploadId": "u"},
        [("s3:AbortMultipartUpload", f"{S3}/big")],
    ),
    (
        "s3",
        "list_parts",
        {"Bucket": "drop", "Key": "big", "UploadId": "u"},
        [("s3:ListMultipartUploadParts", f"{S3}/big")],
    ),
    ("s3", "get_bucket_location", {"Bucket": "drop"}, [("s3:GetBucketLocation", S3)]),
    ("s3", "get_bucket_policy", {"Bucket": "drop"}, [("s3:GetBucketPolicy", S3)]),
    ("s3", "put_bucket_policy", {"Bucket": "drop", "Policy": "{}"}, [("s3:PutBucketPolicy", S3)]),
    ("s3", "get_bucket_encryption", {"Bucket": "drop"}, [("s3:GetEncryptionConfiguration", S3)]),
    ("s3", "get_bucket_notification_configuration", {"Bucket": "drop"}, [("s3:GetBucketNotification", S3)]),
    (
        "s3",
        "put_bucket_notification_configuration",
        {"Bucket": "drop", "NotificationConfiguration": {}},
        [("s3:PutBucketNotification", S3)],
    ),
    ("s3", "get_bucket_cors", {"Bucket": "drop"}, [("s3:GetBucketCORS", S3)]),
    ("s3", "get_public_access_block", {"Bucket": "drop"}, [("s3:GetBucketPublicAccessBlock", S3)]),
    ("s3", "get_bucket_versioning", {"Bucket": "drop"}, [("s3:GetBucketVersioning", S3)]),
    ("s3", "get_bucket_tagging", {"Bucket": "drop"}, [("s3:GetBucketTagging", S3)]),
    ("s3", "create_bucket", {"Bucket": "drop"}, [("s3:CreateBucket", S3)]),
    ("s3", "delete_bucket", {"Bucket": "drop"}, [("s3:DeleteBucket", S3)]),
    ("s3", "list_buckets", {}, [("s3:ListAllMyBuckets", "*")]),
    # SQS (batch APIs need the single-message action)
    ("sqs", "send_message", {"QueueUrl": QUEUE_URL, "MessageBody": "x"}, [("sqs:SendMessage", QUEUE)]),
    (
        "sqs",
        "send_message_batch",
        {"QueueUrl": QUEUE_URL, "Entries": [{"Id": "1", "MessageBody": "x"}]},
        [("sqs:SendMessage", QUEUE)],
    ),
    ("sqs", "receive_message", {"QueueUrl": QUEUE_URL}, [("sqs:ReceiveMessage", QUEUE)]),
    ("sqs", "delete_message", {"QueueUrl": QUEUE_URL, "ReceiptHandle": "r"}, [("sqs:DeleteMessage", QUEUE)]),
    (
        "sqs",
        "delete_message_batch",
        {"QueueUrl": QUEUE_URL, "Entries": [{"Id": "1", "ReceiptHandle": "r"}]},
        [("sqs:DeleteMessage", QUEUE)],
    ),
    (
        "sqs",
        "change_message_visibility",
        {"QueueUrl": QUEUE_URL, "ReceiptHandle": "r", "VisibilityTimeout": 1},
        [("sqs:ChangeMessageVisibility", QUEUE)],
    ),
    ("sqs", "get_queue_attributes", {"QueueUrl": QUEUE_URL}, [("sqs:GetQueueAttributes", QUEUE)]),
    (
        "sqs",
        "set_queue_attributes",
        {"QueueUrl": QUEUE_URL, "Attributes": {}},
        [("sqs:SetQueueAttributes", QUEUE)],
    ),
    ("sqs", "get_queue_url", {"QueueName": "jobs"}, [("sqs:GetQueueUrl", QUEUE)]),
    ("sqs", "create_queue", {"QueueName": "jobs"}, [("sqs:CreateQueue", QUEUE)]),
    ("sqs", "delete_queue", {"QueueUrl": QUEUE_URL}, [("sqs:DeleteQueue", QUEUE)]),
    ("sqs", "list_queues", {"QueueNamePrefix": "GroundTruth-"}, [("sqs:ListQueues", "*")]),
    # SNS
    ("sns", "publish", {"TopicArn": TOPIC, "Message": "m"}, [("sns:Publish", TOPIC)]),
    (
        "sns",
        "publish_batch",
        {"TopicArn": TOPIC, "PublishBatchRequestEntries": [{"Id": "1", "Message": "m"}]},
        [("sns:Publish", TOPIC)],
    ),
    (
        "sns",
        "subscribe",
        {"TopicArn": TOPIC, "Protocol": "sqs", "Endpoint": QUEUE},
        [("sns:Subscribe", TOPIC)],
    ),
    ("sns", "unsubscribe", {"SubscriptionArn": f"{TOPIC}:abc"}, [("sns:Unsubscribe", "*")]),
    ("sns", "get_topic_attributes", {"TopicArn": TOPIC}, [("sns:GetTopicAttributes", TOPIC)]),
    # DynamoDB (table and index ARNs)
    ("dynamodb", "get_item", {"TableName": "ledger", "Key": {}}, [("dynamodb:GetItem", TABLE)]),
    ("dynamodb", "put_item", {"TableName": "ledger", "Item": {}}, [("dynamodb:PutItem", TABLE)]),
    ("dynamodb", "update_item", {"TableName": "ledger", "Key": {}}, [("dynamodb:UpdateItem", TABLE)]),
    ("dynamodb", "delete_item", {"TableName": "ledger", "Key": {}}, [("dynamodb:DeleteItem", TABLE)]),
    ("dynamodb", "query", {"TableName": "ledger"}, [("dynamodb:Query", TABLE)]),
    (
        "dynamodb",
        "query",
        {"TableName": "ledger", "IndexName": "by-state"},
        [("dynamodb:Query", f"{TABLE}/index/by-state")],
    ),
    ("dynamodb", "scan", {"TableName": "ledger"}, [("dynamodb:Scan", TABLE)]),
    (
        "dynamodb",
        "batch_write_item",
        {"RequestItems": {"ledger": [{"PutRequest": {"Item": {}}}]}},
        [("dynamodb:BatchWriteItem", TABLE)],
    ),
    (
        "dynamodb",
        "batch_get_item",
        {"RequestItems": {"ledger": {"Keys": [{}]}}},
        [("dynamodb:BatchGetItem", TABLE)],
    ),
    (
        "dynamodb",
        "transact_write_items",
        {
            "TransactItems": [
                {"Put": {"TableName": "ledger", "Item": {}}},
                {"Update": {"TableName": "ledger", "Key": {}, "UpdateExpression": "SET a = :a"}},
                {"Delete": {"TableName": "ledger", "Key": {}}},
                {
                    "ConditionCheck": {
                        "TableName": "ledger",
                        "Key": {},
                        "ConditionExpression": "attribute_exists(a)",
                    }
                },
            ]
        },
        [
            ("dynamodb:PutItem", TABLE),
            ("dynamodb:UpdateItem", TABLE),
            ("dynamodb:DeleteItem", TABLE),
            ("dynamodb:ConditionCheckItem", TABLE),
        ],
    ),
    ("dynamodb", "describe_table", {"TableName": "ledger"}, [("dynamodb:DescribeTable", TABLE)]),
    # SageMaker (job ARNs use the lower-cased name)
    (
        "sagemaker",
        "describe_labeling_job",
        {"LabelingJobName": "Cats-0001"},
        [("sagemaker:DescribeLabelingJob", JOB)],
    ),
    (
        "sagemaker",
        "stop_labeling_job",
        {"LabelingJobName": "cats-0001"},
        [("sagemaker:StopLabelingJob", JOB)],
    ),
    ("sagemaker", "list_labeling_jobs", {}, [("sagemaker:ListLabelingJobs", "*")]),
    # EventBridge, CloudWatch, Logs
    (
        "events",
        "put_events",
        {"Entries": [{"Source": "gt", "DetailType": "d", "Detail": "{}"}]},
        [("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default")],
    ),
    (
        "events",
        "put_rule",
        {"Name": "jobs", "EventPattern": "{}"},
        [("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/jobs")],
    ),
    (
        "cloudwatch",
        "put_metric_data",
        {"Namespace": "GT", "MetricData": [{"MetricName": "m", "Value": 1}]},
        [("cloudwatch:PutMetricData", "*")],
    ),
    (
        "cloudwatch",
        "set_alarm_state",
        {"AlarmName": "dlq-not-empty", "StateValue": "ALARM", "StateReason": "r"},
        [("cloudwatch:SetAlarmState", ALARM)],
    ),
    (
        "cloudwatch",
        "describe_alarms",
        {},
        [("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*")],
    ),
    (
        "logs",
        "create_log_group",
        {"logGroupName": "/aws/lambda/fn"},
        [("logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn")],
    ),
    (
        "logs",
        "put_log_events",
        {
            "logGroupName": "/aws/lambda/fn",
            "logStreamName": "s",
            "logEvents": [{"timestamp": 1, "message": "m"}],
        },
        [("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn:log-stream:s")],
    ),
    ("logs", "describe_log_groups", {}, [("logs:DescribeLogGroups", "*")]),
    # KMS, Lambda, STS, IAM
    (
        "kms",
        "decrypt",
        {"CiphertextBlob": b"x" * 40, "KeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1"},
        [("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1")],
    ),
    (
        "kms",
        "generate_data_key",
        {"KeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1", "KeySpec": "AES_256"},
        [("kms:GenerateDataKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1")],
    ),
    ("kms", "list_aliases", {}, [("kms:ListAliases", "*")]),
    (
        "lambda",
        "invoke",
        {"FunctionName": "cats-intake"},
        [("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cats-intake")],
    ),
    (
        "lambda",
        "get_function",
        {"FunctionName": "cats-intake"},
        [("lambda:GetFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cats-intake")],
    ),
    ("lambda", "list_functions", {}, [("lambda:ListFunctions", "*")]),
    ("sts", "get_caller_identity", {}, []),
    ("sts", "assume_role", {"RoleArn": ROLE, "RoleSessionName": "s1"}, [("sts:AssumeRole", ROLE)]),
    ("iam", "get_role", {"RoleName": "gt-execution"}, [("iam:GetRole", ROLE)]),
    ("iam", "list_roles", {}, [("iam:ListRoles", "*")]),
]


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"), CASES, ids=[f"{c[0]}.{c[1]}" for c in CASES]
)
def test_operation_maps_to_actions_and_resources(
    service: str, operation: str, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    result = mapped(service, operation, **params)
    assert not result.unknown, f"{result.call.name} is not mapped"
    assert pairs(result) == expected


def test_create_labeling_job_needs_add_tags_and_pass_role_to_sagemaker() -> None:
    result = mapped(
        "sagemaker",
        "create_labeling_job",
        LabelingJobName="Cats-0001",
        LabelAttributeName="label",
        InputConfig={"DataSource": {"SnsDataSource": {"SnsTopicArn": TOPIC}}},
        OutputConfig={"S3OutputPath": "s3://out/", "KmsKeyId": "k"},
        RoleArn=ROLE,
        HumanTaskConfig={
            "WorkteamArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/team",
            "UiConfig": {"UiTemplateS3Uri": "s3://t/t.liquid"},
            "PreHumanTaskLambdaArn": f"{GT_LAMBDAS}:PRE-ImageMultiClass",
            "TaskTitle": "t",
            "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 60,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"{GT_LAMBDAS}:ACS-ImageMultiClass"
            },
        },
        Tags=[{"Key": "project", "Value": "cats"}],
    )
    assert pairs(result) == [
        ("sagemaker:CreateLabelingJob", JOB),
        ("sagemaker:AddTags", JOB),
        ("iam:PassRole", ROLE),
    ]
    create, _, pass_role = result.checks
    assert create.context["aws:tagkeys"] == ("project",) and create.context["aws:requesttag/project"] == (
        "cats",
    )
    assert create.context["sagemaker:workteamarn"][0].endswith("workteam/private-crowd/team")
    assert pass_role.context["iam:passedtoservice"] == ("sagemaker.amazonaws.com",)


def test_request_context_keys() -> None:
    listing = mapped("s3", "list_objects_v2", Bucket="drop", Prefix="in/", MaxKeys=5)
    assert listing.checks[0].context["s3:prefix"] == ("in/",)
    assert listing.checks[0].context["s3:max-keys"] == ("5",)
    metrics = mapped(
        "cloudwatch", "put_metric_data", Namespace="GT", MetricData=[{"MetricName": "m", "Value": 1}]
    )
    assert metrics.checks[0].context["cloudwatch:namespace"] == ("GT",)
    events = mapped("events", "put_events", Entries=[{"Source": "gt.x", "DetailType": "d", "Detail": "{}"}])
    assert events.checks[0].context["events:source"] == ("gt.x",)
    assert events.checks[0].context["events:detail-type"] == ("d",)


def test_an_operation_without_a_mapping_is_unknown() -> None:
    result = mapped("codecommit", "list_repositories")
    assert result.unknown and result.checks == [] and result.call.name == "codecommit:ListRepositories"


def test_every_mapping_row_fits_the_service_authorization_reference() -> None:
    checked = 0
    for service, operation, params, _ in CASES:
        for request in mapped(service, operation, **params).checks:
            types = reference.action_resource_types(request.action)
            assert types is not None, f"{request.action} is not an IAM action"
            prefix = request.action.split(":")[0]
            if not types:
                assert request.resource == "*", f"{request.action} has no resource-level permissions"
            else:
                assert any(reference.arn_pattern(prefix, t).fullmatch(request.resource) for t in types), (
                    f"{request.resource} is no {types} of {request.action}"
                )
            checked += 1
    assert checked >= len(CASES) - 1


def test_the_reference_knows_that_batch_apis_are_not_actions() -> None:
    # Why the project's policies must say sqs:SendMessage, not sqs:SendMessageBatch.
    assert reference.action_resource_types("sqs:SendMessageBatch") is None
    assert reference.action_resource_types("sns:PublishBatch") is None
    assert reference.action_resource_types("sqs:SendMessage") == ["queue"]
