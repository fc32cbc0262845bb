"""IAM enforcement on the served local cloud (gtlocal.iam).

Roles are created with boto3 as the account root (the tests' dummy credentials, never restricted);
a role's session comes from the service-credentials route, as the runner (Lambda) and the emulator
(Ground Truth) will get theirs. Per service family: the allowed call succeeds, the same call without
the statement is AccessDenied naming the action and resource, an explicit Deny wins. Then the
service-principal deliveries, the alarm actions, the switch and the recorder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from gtlocal.client import ControlApiError
from gtlocal.testing import LocalCloud, reset_local_cloud

ACCOUNT = "123456789012"
LAMBDA = "lambda.amazonaws.com"
GT_LAMBDAS = "arn:aws:lambda:us-east-1:432418664414:function"

Statement = dict[str, Any]


def trust(service: str = LAMBDA) -> str:
    return json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    )


def allow(action: Any, resource: Any, sid: str = "Grant", **extra: Any) -> Statement:
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource, **extra}


class Roles:
    """Create roles as root and get sessions of them as a service."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.iam = boto3.client("iam")

    def create(self, name: str, *statements: Statement, service: str = LAMBDA) -> str:
        arn: str = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
        if statements:
            self.put(name, *statements)
        return arn

    def put(self, name: str, *statements: Statement) -> None:
        document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        self.iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=document)

    def session(self, arn: str, service: str = LAMBDA) -> boto3.Session:
        credentials = self.cloud.control.service_credentials(arn, service)
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.cloud.region,
        )


@pytest.fixture
def roles(cloud: LocalCloud) -> Roles:
    return Roles(cloud)


def denied(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    error: dict[str, Any] = caught.value.response["Error"]
    error["status"] = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error


def queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def bodies(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages]


# --- per service family -------------------------------------------------------------------------


def test_s3_object_access_follows_the_role_policy(cloud: LocalCloud, roles: Roles) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="drop")
    s3.put_object(Bucket="drop", Key="in/a.png", Body=b"a")  # root: unrestricted
    objects = "arn:aws:s3:::drop/in/*"
    arn = roles.create(
        "reader",
        allow(["s3:GetObject", "s3:PutObject"], objects),
        allow("s3:ListBucket", "arn:aws:s3:::drop", "List"),
    )
    client = roles.session(arn).client("s3")

    assert client.get_object(Bucket="drop", Key="in/a.png")["Body"].read() == b"a"
    assert client.head_object(Bucket="drop", Key="in/a.png")["ContentLength"] == 1  # HeadObject: s3:GetObject
    client.put_object(Bucket="drop", Key="in/b.png", Body=b"b")
    assert [o["Key"] for o in client.list_objects_v2(Bucket="drop")["Contents"]] == ["in/a.png", "in/b.png"]
    client.copy_object(Bucket="drop", Key="in/c.png", CopySource={"Bucket": "drop", "Key": "in/a.png"})

    error = denied(lambda: client.get_object(Bucket="drop", Key="out/x.png"))
    assert (error["Code"], error["status"]) == ("AccessDenied", 403)
    assert (
        "not authorized to perform: s3:GetObject on resource: arn:aws:s3:::drop/out/x.png" in error["Message"]
    )
    # CopyObject needs s3:PutObject on the target too
    error = denied(lambda: client.copy_object(Bucket="drop", Key="out/c.png", CopySource="drop/in/a.png"))
    assert "s3:PutObject on resource: arn:aws:s3:::drop/out/c.png" in error["Message"]

    roles.put("reader", allow("s3:PutObject", objects))  # the GetObject statement removed
    error = denied(lambda: client.get_object(Bucket="drop", Key="in/a.png"))
    assert "because no identity-based policy allows the s3:GetObject action" in error["Message"]


def test_sqs_batch_calls_need_the_single_message_action(cloud: LocalCloud, roles: Roles) -> None:
    sqs = boto3.client("sqs")
    url, queue_arn = queue(sqs, "jobs")
    arn = roles.create("sender", allow("sqs:SendMessage", queue_arn))
    client = roles.session(arn).client("sqs")

    client.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "x"}])
    assert bodies(sqs, url) == ["x"]
    error = denied(lambda: client.receive_message(QueueUrl=url))
    assert (error["Code"], error["status"]) == ("AccessDenied", 403)
    assert f"sqs:ReceiveMessage on resource: {queue_arn}" in error["Message"]
    error = denied(lambda: client.list_queues())
    assert "sqs:ListQueues on resource: *" in error["Message"]


def test_explicit_deny_wins_over_an_allow(cloud: LocalCloud, roles: Roles) -> None:
    sqs = boto3.client("sqs")
    url, queue_arn = queue(sqs, "jobs")
    arn = roles.create(
        "sender",
        allow("sqs:*", queue_arn),
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"},
    )
    client = roles.session(arn).client("sqs")
    client.send_message(QueueUrl=url, MessageBody="x")
    error = denied(lambda: client.delete_queue(QueueUrl=url))
    assert (
        "sqs:DeleteQueue" in error["Message"]
        and "with an explicit deny in an identity-based policy" in error["Message"]
    )


def test_sns_publish_and_its_error_code(cloud: LocalCloud, roles: Roles) -> None:
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="notifications")["TopicArn"]
    other = sns.create_topic(Name="other")["TopicArn"]
    client = roles.session(roles.create("notifier", allow("sns:Publish", topic))).client("sns")
    client.publish(TopicArn=topic, Message="m")
    error = denied(lambda: client.publish(TopicArn=other, Message="m"))
    assert (error["Code"], error["status"]) == ("AuthorizationError", 403)
    assert f"sns:Publish on resource: {other}" in error["Message"]


def test_dynamodb_table_and_index_arns(cloud: LocalCloud, roles: Roles) -> None:
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "state", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-state",
                "KeySchema": [{"AttributeName": "state", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    table = f"arn:aws:dynamodb:{cloud.region}:{ACCOUNT}:table/ledger"
    client = roles.session(
        roles.create("ledger", allow(["dynamodb:PutItem", "dynamodb:Query"], table))
    ).client("dynamodb")
    client.put_item(TableName="ledger", Item={"pk": {"S": "a"}, "state": {"S": "PENDING"}})
    client.query(
        TableName="ledger", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}}
    )
    query_index = {
        "TableName": "ledger",
        "IndexName": "by-state",
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": "state"},
        "ExpressionAttributeValues": {":s": {"S": "PENDING"}},
    }
    error = denied(lambda: client.query(**query_index))
    assert (error["Code"], error["status"]) == ("AccessDeniedException", 400)
    assert f"dynamodb:Query on resource: {table}/index/by-state" in error["Message"]
    roles.put("ledger", allow(["dynamodb:PutItem", "dynamodb:Query"], [table, f"{table}/index/*"]))
    assert client.query(**query_index)["Count"] == 1


def test_create_labeling_job_needs_pass_role_to_sagemaker(cloud: LocalCloud, roles: Roles) -> None:
    job = f"arn:aws:sagemaker:{cloud.region}:{ACCOUNT}:labeling-job/cats-*"
    gt_role = roles.create("gt-execution", service="sagemaker.amazonaws.com")
    arn = roles.create("chainer", allow("sagemaker:CreateLabelingJob", job))
    client = roles.session(arn).client("sagemaker")
    request = {
        "LabelingJobName": "Cats-0001",
        "LabelAttributeName": "label",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://in/m.manifest"}}},
        "OutputConfig": {"S3OutputPath": "s3://out/"},
        "RoleArn": gt_role,
        "HumanTaskConfig": {
            "WorkteamArn": f"arn:aws:sagemaker:{cloud.region}:{ACCOUNT}:workteam/private-crowd/team",
            "UiConfig": {"UiTemplateS3Uri": "s3://in/template.liquid"},
            "PreHumanTaskLambdaArn": f"{GT_LAMBDAS}:PRE-ImageMultiClass",
            "TaskTitle": "t",
            "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 60,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"{GT_LAMBDAS}:ACS-ImageMultiClass"
            },
        },
    }
    error = denied(lambda: client.create_labeling_job(**request))
    assert f"iam:PassRole on resource: {gt_role}" in error["Message"]

    passed_to = {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    roles.put(
        "chainer",
        allow("sagemaker:CreateLabelingJob", job),
        allow("iam:PassRole", gt_role, "Pass", Condition=passed_to),
    )
    assert client.create_labeling_job(**request)["LabelingJobArn"].endswith("labeling-job/cats-0001")


def test_cloudwatch_put_metric_data_has_no_resource_but_a_namespace_condition(
    cloud: LocalCloud, roles: Roles
) -> None:
    metrics = allow(
        "cloudwatch:PutMetricData", "*", Condition={"StringEquals": {"cloudwatch:namespace": "GT/cats"}}
    )
    client = roles.session(roles.create("metrics", metrics)).client("cloudwatch")
    client.put_metric_data(Namespace="GT/cats", MetricData=[{"MetricName": "m", "Value": 1}])
    error = denied(
        lambda: client.put_metric_data(Namespace="GT/dogs", MetricData=[{"MetricName": "m", "Value": 1}])
    )
    assert error["Code"] == "AccessDenied" and "cloudwatch:PutMetricData on resource: *" in error["Message"]


def test_root_credentials_are_not_restricted(cloud: LocalCloud) -> None:
    boto3.client("s3").create_bucket(Bucket="anything")
    boto3.client("sqs").list_queues()
    assert boto3.client("sts").get_caller_identity()["Account"] == ACCOUNT


def test_unknown_operations_are_refused_to_restricted_principals(cloud: LocalCloud, roles: Roles) -> None:
    client = roles.session(roles.create("nothing", allow("s3:GetObject", "arn:aws:s3:::x/*"))).client(
        "codecommit"
    )
    error = denied(lambda: client.list_repositories())
    assert "codecommit:ListRepositories" in error["Message"] and "does not model" in error["Message"]
    assert cloud.control.iam_denials(role="nothing")[0]["reason"] == "unknown-operation"


def test_a_session_token_must_match_its_key(cloud: LocalCloud, roles: Roles) -> None:
    credentials = cloud.control.service_credentials(roles.create("r", allow("sqs:ListQueues", "*")), LAMBDA)
    forged = boto3.client(
        "sqs",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token="not-the-token",
    )
    assert denied(lambda: forged.list_queues())["Code"] == "InvalidClientTokenId"


# --- KMS: the key policy must allow too -----------------------------------------------------------


def key_with(statements: list[Statement]) -> str:
    key_id: str = boto3.client("kms").create_key(
        Policy=json.dumps({"Version": "2012-10-17", "Statement": statements})
    )["KeyMetadata"]["Arn"]
    return key_id


ROOT_DELEGATION = {
    "Sid": "EnableIamPolicies",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def test_sse_kms_object_needs_kms_decrypt_from_iam_and_the_key_policy(
    cloud: LocalCloud, roles: Roles
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="secure")
    delegating = key_with([ROOT_DELEGATION])
    s3.put_object(Bucket="secure", Key="a", Body=b"a", ServerSideEncryption="aws:kms", SSEKMSKeyId=delegating)
    arn = roles.create("reader", allow("s3:GetObject", "arn:aws:s3:::secure/*"))
    client = roles.session(arn).client("s3")

    error = denied(lambda: client.get_object(Bucket="secure", Key="a"))
    assert f"kms:Decrypt on resource: {delegating}" in error["Message"]
    roles.put(
        "reader", allow("s3:GetObject", "arn:aws:s3:::secure/*"), allow("kms:Decrypt", delegating, "Key")
    )
    assert client.get_object(Bucket="secure", Key="a")["Body"].read() == b"a"

    # A key policy that does not delegate to IAM: the IAM allow is not enough.
    closed = key_with([{**ROOT_DELEGATION, "Principal": {"AWS": "arn:aws:iam::111111111111:root"}}])
    s3.put_object(Bucket="secure", Key="b", Body=b"b", ServerSideEncryption="aws:kms", SSEKMSKeyId=closed)
    roles.put("reader", allow("s3:GetObject", "arn:aws:s3:::secure/*"), allow("kms:Decrypt", "*", "Key"))
    error = denied(lambda: client.get_object(Bucket="secure", Key="b"))
    assert "because no resource-based policy allows the kms:Decrypt action" in error["Message"]


def test_encrypted_queue_needs_generate_data_key_to_send(cloud: LocalCloud, roles: Roles) -> None:
    sqs = boto3.client("sqs")
    key = key_with([ROOT_DELEGATION])
    url, queue_arn = queue(sqs, "secure", KmsMasterKeyId=key)
    arn = roles.create("sender", allow("sqs:SendMessage", queue_arn))
    client = roles.session(arn).client("sqs")
    error = denied(lambda: client.send_message(QueueUrl=url, MessageBody="x"))
    assert (error["Code"], error["status"]) == ("KmsAccessDenied", 400)
    assert f"kms:GenerateDataKey on resource: {key}" in error["Message"]
    roles.put(
        "sender",
        allow("sqs:SendMessage", queue_arn),
        allow(["kms:GenerateDataKey", "kms:Decrypt"], key, "Key"),
    )
    client.send_message(QueueUrl=url, MessageBody="x")


def test_a_log_group_key_must_admit_cloudwatch_logs_even_for_root(cloud: LocalCloud) -> None:
    logs = boto3.client("logs")
    lambda_groups = f"arn:aws:logs:{cloud.region}:{ACCOUNT}:log-group:/aws/lambda/cats-*"
    logs_service = {
        "Sid": "Logs",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{cloud.region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": lambda_groups}},
    }
    key = key_with([ROOT_DELEGATION, logs_service])
    assert cloud.control.iam_settings()["log_group_keys"] is True  # on by default
    cloud.control.update_iam_settings(log_group_keys=False)
    logs.create_log_group(logGroupName="/aws/other", kmsKeyId=key)  # the check is off
    assert cloud.control.update_iam_settings(log_group_keys=True)["log_group_keys"] is True
    logs.create_log_group(logGroupName="/aws/lambda/cats-intake", kmsKeyId=key)
    error = denied(lambda: logs.create_log_group(logGroupName="/aws/codebuild/cats", kmsKeyId=key))
    assert (error["Code"], error["status"]) == ("AccessDeniedException", 400)
    assert error["Message"] == (
        "The specified KMS key does not exist or is not allowed to be used with Arn "
        f"'arn:aws:logs:{cloud.region}:{ACCOUNT}:log-group:/aws/codebuild/cats'"
    )
    logs.create_log_group(logGroupName="/aws/codebuild/cats")  # unencrypted: no key to check
    error = denied(lambda: logs.associate_kms_key(logGroupName="/aws/codebuild/cats", kmsKeyId=key))
    assert error["Code"] == "AccessDeniedException"


# --- trust policies --------------------------------------------------------------------------------


def test_the_trust_policy_decides_which_service_gets_credentials(cloud: LocalCloud, roles: Roles) -> None:
    arn = roles.create("fn", allow("sqs:ListQueues", "*"))
    assert cloud.control.service_credentials(arn, LAMBDA)["AssumedRoleArn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/fn/lambda"
    )
    with pytest.raises(ControlApiError) as refused:
        cloud.control.service_credentials(arn, "sagemaker.amazonaws.com")
    assert (
        refused.value.status == 403 and "sagemaker.amazonaws.com is not authorized" in refused.value.message
    )
    conditional = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ],
    }
    boto3.client("iam").update_assume_role_policy(RoleName="fn", PolicyDocument=json.dumps(conditional))
    with pytest.raises(ControlApiError):
        cloud.control.service_credentials(arn, "sagemaker.amazonaws.com")  # no aws:SourceAccount given
    cloud.control.service_credentials(arn, "sagemaker.amazonaws.com", source_account=ACCOUNT)


# --- service-principal deliveries ----------------------------------------------------------------


def queue_policy(queue_arn: str, service: str, source_arn: str) -> str:
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {
            "ArnEquals": {"aws:SourceArn": source_arn},
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
        },
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [grant]})


def service_key(service: str | None) -> str:
    statements: list[Statement] = [ROOT_DELEGATION]
    if service:
        statements.append(
            {
                "Sid": "Service",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
            }
        )
    return key_with(statements)


@pytest.mark.parametrize(
    ("grant", "key_service", "delivered"),
    [
        (False, None, False),
        (True, None, True),
        (True, "s3.amazonaws.com", True),
        (True, "sns.amazonaws.com", False),
    ],
    ids=["no-queue-grant", "granted", "granted-key-allows-s3", "granted-key-lacks-s3"],
)
def test_s3_notifications_reach_the_queue_only_when_allowed(
    cloud: LocalCloud, grant: bool, key_service: str | None, delivered: bool
) -> None:
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    attributes = {"KmsMasterKeyId": service_key(key_service)} if key_service else {}
    url, queue_arn = queue(sqs, "intake", **attributes)
    source = "arn:aws:s3:::drop" if grant else "arn:aws:s3:::another-bucket"
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": queue_policy(queue_arn, "s3.amazonaws.com", source)}
    )
    s3.create_bucket(Bucket="drop")

    def configure() -> None:
        s3.put_bucket_notification_configuration(
            Bucket="drop",
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )

    if not delivered:
        # S3 validates the destination when the configuration is put ("Unable to validate the
        # following destination configurations"); configured while it was allowed, each event's
        # delivery is checked again.
        with pytest.raises(ClientError) as caught:
            configure()
        assert caught.value.response["Error"]["Code"] == "InvalidArgument"
        allowed = {"Policy": queue_policy(queue_arn, "s3.amazonaws.com", "arn:aws:s3:::drop")}
        if key_service:
            allowed["KmsMasterKeyId"] = service_key("s3.amazonaws.com")
        sqs.set_queue_attributes(QueueUrl=url, Attributes=allowed)
        configure()
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={"Policy": queue_policy(queue_arn, "s3.amazonaws.com", source), **attributes},
        )
    else:
        configure()
    s3.put_object(Bucket="drop", Key="a.png", Body=b"a")

    records = [json.loads(b) for b in bodies(sqs, url)]
    created = [r for r in records if "Records" in r]
    assert len(created) == (1 if delivered else 0)
    deliveries = [
        c
        for c in cloud.control.iam_calls()
        if c["kind"] == "delivery" and c["principal"] == "s3.amazonaws.com"
    ]
    assert any(c["decision"] == ("allow" if delivered else "deny") for c in deliveries)


@pytest.mark.parametrize("grant", [True, False], ids=["granted", "not-granted"])
def test_eventbridge_delivers_to_a_queue_only_when_its_policy_allows(cloud: LocalCloud, grant: bool) -> None:
    events, sqs = boto3.client("events"), boto3.client("sqs")
    url, queue_arn = queue(sqs, "job-events")
    rule = events.put_rule(Name="jobs", EventPattern=json.dumps({"source": ["gt.test"]}))["RuleArn"]
    events.put_targets(Rule="jobs", Targets=[{"Id": "q", "Arn": queue_arn}])
    source = rule if grant else rule + "-other"
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": queue_policy(queue_arn, "events.amazonaws.com", source)}
    )
    events.put_events(Entries=[{"Source": "gt.test", "DetailType": "d", "Detail": "{}"}])
    assert len(bodies(sqs, url)) == (1 if grant else 0)


@pytest.mark.parametrize(
    ("key_service", "delivered"), [(None, True), ("sns.amazonaws.com", True), ("s3.amazonaws.com", False)]
)
def test_sns_delivers_to_an_encrypted_queue_only_when_the_key_allows_sns(
    cloud: LocalCloud, key_service: str | None, delivered: bool
) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="input")["TopicArn"]
    attributes = {"KmsMasterKeyId": service_key(key_service)} if key_service else {}
    url, queue_arn = queue(sqs, "GroundTruth-cats-0001", **attributes)
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": queue_policy(queue_arn, "sns.amazonaws.com", topic)}
    )
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(TopicArn=topic, Message=json.dumps({"source-ref": "s3://in/a.png"}))
    assert len(bodies(sqs, url)) == (1 if delivered else 0)


def alarm_topic(name: str, kms_key: str) -> tuple[str, str]:
    """A topic (policy allows CloudWatch) with a subscribed queue (policy allows SNS)."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=name, Attributes={"KmsMasterKeyId": kms_key})["TopicArn"]
    publish = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic,
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({"Statement": [publish]})
    )
    url, queue_arn = queue(sqs, f"{name}-inbox")
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": queue_policy(queue_arn, "sns.amazonaws.com", topic)}
    )
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, url


def test_alarm_reaches_a_topic_on_a_customer_key_and_not_one_on_alias_aws_sns(cloud: LocalCloud) -> None:
    cloudwatch, sqs = boto3.client("cloudwatch"), boto3.client("sqs")
    customer, customer_inbox = alarm_topic("alarms-cmk", service_key("cloudwatch.amazonaws.com"))
    managed, managed_inbox = alarm_topic("alarms-managed", "alias/aws/sns")
    cloudwatch.put_metric_alarm(
        AlarmName="dlq-not-empty",
        MetricName="ApproximateNumberOfMessagesVisible",
        Namespace="AWS/SQS",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[customer, managed],
    )
    cloudwatch.set_alarm_state(AlarmName="dlq-not-empty", StateValue="ALARM", StateReason="test")

    notes = [json.loads(json.loads(b)["Message"]) for b in bodies(sqs, customer_inbox)]
    assert [(n["AlarmName"], n["NewStateValue"]) for n in notes] == [("dlq-not-empty", "ALARM")]
    assert bodies(sqs, managed_inbox) == []
    refusal = [d for d in cloud.control.iam_denials() if d["principal"] == "cloudwatch.amazonaws.com"]
    assert refusal and "alias/aws/sns" in refusal[0]["message"] and refusal[0]["action"].startswith("kms:")


# --- the switch and the recorder ------------------------------------------------------------------


def test_iam_off_lets_everything_through(cloud: LocalCloud, roles: Roles) -> None:
    sqs = boto3.client("sqs")
    url, _ = queue(sqs, "open")
    client = roles.session(roles.create("nothing", allow("s3:GetObject", "arn:aws:s3:::x/*"))).client("sqs")
    denied(lambda: client.send_message(QueueUrl=url, MessageBody="x"))
    assert cloud.control.update_iam_settings(mode="off")["mode"] == "off"
    client.send_message(QueueUrl=url, MessageBody="x")
    events = boto3.client("events")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["gt.test"]}))
    _, queue_arn = queue(sqs, "no-policy")
    events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": queue_arn}])
    events.put_events(Entries=[{"Source": "gt.test", "DetailType": "d", "Detail": "{}"}])
    no_policy = sqs.get_queue_url(QueueName="no-policy")["QueueUrl"]
    assert len(bodies(sqs, no_policy)) == 1


def test_moto_reset_restores_the_default_settings(cloud: LocalCloud, tmp_path: Path) -> None:
    log = str(tmp_path / "x.jsonl")
    cloud.control.update_iam_settings(mode="off", log=log)
    reset_local_cloud(cloud)  # what the cloud fixture does before each test
    settings = cloud.control.iam_settings()
    assert settings["mode"] == settings["default_mode"] == "enforce" and settings["log"] != log
    assert settings["log_group_keys"] is True and settings["kms_source_context"] is True


@pytest.fixture
def iam_log(cloud: LocalCloud, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "iam.jsonl"
    cloud.control.update_iam_settings(log=str(path))
    yield path
    cloud.control.update_iam_settings(log=None)


def test_the_recorder_writes_one_line_per_authorization(
    cloud: LocalCloud, roles: Roles, iam_log: Path
) -> None:
    sqs = boto3.client("sqs")
    url, queue_arn = queue(sqs, "jobs")  # root calls are not recorded
    client = roles.session(roles.create("worker", allow("sqs:SendMessage", queue_arn, "Send"))).client("sqs")
    client.send_message(QueueUrl=url, MessageBody="a")
    client.send_message(QueueUrl=url, MessageBody="b")
    denied(lambda: client.delete_queue(QueueUrl=url))

    lines = [json.loads(line) for line in iam_log.read_text().splitlines()]
    assert [(line["action"], line["decision"]) for line in lines] == [
        ("sqs:SendMessage", "allow"),
        ("sqs:SendMessage", "allow"),
        ("sqs:DeleteQueue", "deny"),
    ]
    first = lines[0]
    assert first["principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/lambda"
    assert (first["role"], first["resource"], first["operation"]) == ("worker", queue_arn, "sqs:SendMessage")
    assert first["allowed_by"] == [{"policy": "inline", "sid": "Send", "effect": "Allow"}]
    assert first["context"]["aws:securetransport"] == ["true"]
    assert lines[2]["reason"] == "implicit-deny" and "sqs:DeleteQueue" in lines[2]["message"]
    assert len(cloud.control.iam_calls(role="worker")) == 3
    assert [d["action"] for d in cloud.control.iam_denials(role="worker")] == ["sqs:DeleteQueue"]
