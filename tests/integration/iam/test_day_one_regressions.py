"""One regression test per day-one defect of issue 9 ("Why"), on the strict local cloud: each shows
the call the old policy let AWS refuse - principal, action, resource - refused here too, and the
deployed policy allowing it. (The CodeBuild log group's key policy is shown on the applied
Terraform example: tests/integration/terraform/test_local_apply.py.)

Where the emulator makes the call (Unsubscribe, InvokeFunction of a custom Lambda) the job shows
it; where it never does (PutMetricData, SendMessage to the job's queue), the local cloud's policy
engine decides the request against the deployed policy, as IAM would.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from iam_world import (
    LAMBDA,
    deploy,
    inline_policy,
    project_of,
    refusal,
    replace_statements,
    session_of,
    statement,
)

from gtlocal.iam.policy import AuthzRequest, Caller, evaluate, parse_policy
from gtlocal.testing import LocalCloud

ACCOUNT = "123456789012"
REGION = "us-east-1"


def role_caller(role_arn: str) -> Caller:
    name = role_arn.rsplit("/", 1)[-1]
    return Caller("role", f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s", ACCOUNT, role_arn, name)


def identity_allows(role_arn: str, action: str, resource: str, **context: str) -> bool:
    """IAM's answer for the role as deployed (its inline policy), from the local cloud's engine."""
    name, document = inline_policy(role_arn)
    request = AuthzRequest(action, resource, {k.lower(): (v,) for k, v in context.items()})
    return evaluate(request, role_caller(role_arn), [parse_policy(document, name)]).allowed


def old_allows(
    role_arn: str, statements: list[dict[str, Any]], action: str, resource: str, **context: str
) -> bool:
    request = AuthzRequest(action, resource, {k.lower(): (v,) for k, v in context.items()})
    old = parse_policy({"Version": "2012-10-17", "Statement": statements}, "old")
    return evaluate(request, role_caller(role_arn), [old]).allowed


# --- reconcile: sqs:DeleteQueue on GroundTruth-<p>-NNNN ----------------------------------------------


def test_reconcile_deletes_an_ended_jobs_queue_and_was_refused_it_before(cloud: LocalCloud) -> None:
    document = deploy(cloud, "rec")
    project = project_of(cloud, document)
    project.drop_images(0, 1)
    project.run()
    project.start_job_running(1)
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName="rec-0001")
    project.advance(5)
    project.run()
    reconcile_role = document["lambda_roles"]["reconcile"]
    # Before the fix the reconcile role had no grant on the GroundTruth-* queues at all.
    kept = statement(reconcile_role, "GroundTruthQueues")
    replace_statements(reconcile_role, remove=("GroundTruthQueues",))

    project.run(reconcile=True)

    assert (
        "reconcile: handler raised ClientError: An error occurred (AccessDenied) when calling the "
        f"GetQueueUrl operation: User: arn:aws:sts::{ACCOUNT}:assumed-role/rec-reconcile-lambda/"
        "rec-reconcile is not authorized to perform: sqs:GetQueueUrl on resource: "
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:GroundTruth-rec-0001"
    ) in project.reported()

    replace_statements(reconcile_role, add=(kept,))
    project.run(reconcile=True)
    queues = boto3.client("sqs").list_queues(QueueNamePrefix="GroundTruth-").get("QueueUrls", [])
    assert not [q for q in queues if q.endswith("GroundTruth-rec-0001")]
    assert "sqs:DeleteQueue" in kept["Action"]


# --- the Ground Truth role as AWS documents it for streaming jobs -----------------------------------


def test_a_stopped_jobs_queue_is_unsubscribed_and_the_topic_scoped_grant_could_not(cloud: LocalCloud) -> None:
    document = deploy(cloud, "uns")
    role = document["groundtruth_role_arn"]
    input_topic = document["topics"]["input"]

    def subscribed() -> list[str]:
        subscriptions = boto3.client("sns").list_subscriptions_by_topic(TopicArn=input_topic)["Subscriptions"]
        return sorted(s["Endpoint"].rsplit(":", 1)[-1] for s in subscriptions)

    project = project_of(cloud, document)
    # Before: sns:Unsubscribe on the two topics (Unsubscribe has no resource type: that allows nothing).
    old = {
        **statement(role, "StreamingTopicUnsubscribe"),
        "Resource": [input_topic, document["topics"]["output"]],
    }
    kept = statement(role, "StreamingTopicUnsubscribe")
    replace_statements(role, remove=("StreamingTopicUnsubscribe",), add=(old,))

    def a_job_runs_and_stops(index: int) -> None:
        project.drop_images(index - 1, 1)
        project.run()
        project.start_job_running(index)
        boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(index))
        project.advance(5)

    a_job_runs_and_stops(1)
    assert subscribed() == ["GroundTruth-uns-0001"]  # left subscribed
    denied = cloud.control.iam_denials(role="uns-groundtruth")
    assert [(d["action"], d["resource"]) for d in denied] == [("sns:Unsubscribe", "*")]

    # With the deployed statement, the next stopped job's queue is unsubscribed (and kept).
    replace_statements(role, remove=("StreamingTopicUnsubscribe",), add=(kept,))
    a_job_runs_and_stops(2)
    assert subscribed() == ["GroundTruth-uns-0001"]
    assert cloud.control.iam_denials(role="uns-groundtruth") == denied


def test_the_groundtruth_role_may_put_its_metrics_and_send_to_its_queues(cloud: LocalCloud) -> None:
    document = deploy(cloud, "gtr")
    role = document["groundtruth_role_arn"]
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:GroundTruth-gtr-0001"
    # cloudwatch:PutMetricData (no resource type: "*") in Ground Truth's namespaces only.
    assert identity_allows(
        role, "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": "AWS/Sagemaker/LabelingJobs"}
    )
    assert not identity_allows(role, "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": "Other"})
    assert not old_allows(
        role, [], "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": "AWS/Sagemaker/LabelingJobs"}
    )
    # SendMessageBatch is authorized by sqs:SendMessage; Terraform granted "sqs:SendMessageBatch",
    # which is no IAM action, so the role could send neither.
    assert identity_allows(role, "sqs:SendMessage", queue)
    old_queue = {
        "Effect": "Allow",
        "Action": ["sqs:SendMessageBatch"],
        "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:GroundTruth-gtr-*",
    }
    assert not old_allows(role, [old_queue], "sqs:SendMessage", queue)


def test_a_custom_workflow_lambda_is_invoked_as_the_role_only_with_its_grant(cloud: LocalCloud) -> None:
    pre = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:lam-pre-annotation"
    acs = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:lam-consolidation"
    document = deploy(cloud, "lam", custom_task_lambda_arns=[pre, acs])
    assert statement(document["groundtruth_role_arn"], "LambdaFunctions")["Resource"] == [pre, acs]
    sm, s3 = boto3.client("sagemaker"), boto3.client("s3")
    s3.put_object(Bucket=document["buckets"]["input"], Key="images/a.jpg", Body=b"a")
    manifest = f"s3://{document['buckets']['input']}/manifests/custom/input.manifest"
    s3.put_object(
        Bucket=document["buckets"]["input"],
        Key="manifests/custom/input.manifest",
        Body=json.dumps({"source-ref": f"s3://{document['buckets']['input']}/images/a.jpg"}).encode(),
    )

    def create(name: str) -> None:
        sm.create_labeling_job(
            LabelingJobName=name,
            LabelAttributeName="label",
            InputConfig={"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest}}},
            OutputConfig={"S3OutputPath": f"s3://{document['buckets']['output']}/jobs/"},
            RoleArn=document["groundtruth_role_arn"],
            HumanTaskConfig={
                "WorkteamArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/team",
                "UiConfig": {"UiTemplateS3Uri": f"s3://{document['buckets']['instructions']}/config/t.html"},
                "PreHumanTaskLambdaArn": pre,
                "TaskTitle": "t",
                "TaskDescription": "d",
                "NumberOfHumanWorkersPerDataObject": 1,
                "TaskTimeLimitInSeconds": 300,
                "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": acs},
            },
        )
        cloud.control.advance_clock(5)
        cloud.control.workforce(name, label=1)

    create("lam-0001")
    assert cloud.control.job("lam-0001")["counters"]["TotalLabeled"] == 1
    # Before: no lambda:InvokeFunction for the custom Lambdas the project config accepts.
    replace_statements(document["groundtruth_role_arn"], remove=("LambdaFunctions",))
    create("lam-0002")
    view = cloud.control.job("lam-0002")
    assert view["status"] == "Failed"
    assert f"is not authorized to perform: lambda:InvokeFunction on resource: {pre}" in view["failure_reason"]


# --- intake: the output bucket; ListBucket where a missing key must be a 404 ------------------------


def test_intake_reads_output_manifests_and_a_missing_one_is_not_found(cloud: LocalCloud) -> None:
    document = deploy(cloud, "out")
    project = project_of(cloud, document)
    project.drop_images(0, 1)
    project.run()
    project.start_job_running(1)  # the emulator writes the output manifest
    intake = session_of(cloud, document["lambda_roles"]["intake"], LAMBDA).client("s3")
    output = document["buckets"]["output"]
    written = "jobs/out-0001/manifests/output/output.manifest"
    intake.get_object(Bucket=output, Key=written)
    missing = "jobs/out-0002/manifests/output/output.manifest"
    with pytest.raises(ClientError) as caught:  # 404: "not there yet", which the merge reads as an answer
        intake.get_object(Bucket=output, Key=missing)
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"

    # Before: the intake role had neither statement on the output bucket.
    replace_statements(document["lambda_roles"]["intake"], remove=("OutputManifests", "OutputList"))
    intake = session_of(cloud, document["lambda_roles"]["intake"], LAMBDA).client("s3")
    assert "s3:GetObject" in refusal(lambda: intake.get_object(Bucket=output, Key=written))["Message"]
    refused = refusal(lambda: intake.get_object(Bucket=output, Key=missing))
    assert refused["Code"] == "AccessDenied"


def test_an_unpublished_config_is_a_404_to_the_lambdas_and_was_a_403(cloud: LocalCloud) -> None:
    document = deploy(cloud, "cfg", publish=False)
    project = project_of(cloud, document)
    project.drop_images(0, 1)
    project.run()
    assert project.project_item()["last_decision"] == "waiting"  # "waiting for project config"
    assert "AccessDenied" not in project.reported()

    replace_statements(document["lambda_roles"]["intake"], remove=("InstructionsList",))
    project.drop_images(1, 1)
    project.run()
    bucket = document["buckets"]["instructions"]
    assert (
        f"is not authorized to perform: s3:ListBucket on resource: arn:aws:s3:::{bucket}"
        in project.reported()
    )


# --- job and queue names that cannot reach another project ------------------------------------------


def test_the_old_prefix_patterns_reached_another_project_and_the_deployed_ones_do_not(
    cloud: LocalCloud,
) -> None:
    document = deploy(cloud, "cats")
    other_job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/cats-v2-0001"
    other_queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:GroundTruth-cats-v2-0001"
    reconcile = document["lambda_roles"]["reconcile"]
    old = [
        {
            "Effect": "Allow",
            "Action": "sagemaker:StopLabelingJob",
            "Resource": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/cats-*",
        },
        {
            "Effect": "Allow",
            "Action": "sqs:DeleteQueue",
            "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:GroundTruth-cats-*",
        },
    ]
    assert old_allows(reconcile, old, "sagemaker:StopLabelingJob", other_job)
    assert old_allows(reconcile, old, "sqs:DeleteQueue", other_queue)
    assert identity_allows(
        reconcile, "sqs:DeleteQueue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:GroundTruth-cats-0001"
    )
    assert not identity_allows(reconcile, "sqs:DeleteQueue", other_queue)
    assert identity_allows(reconcile, "sagemaker:DescribeLabelingJob", other_job.replace("cats-v2-", "cats-"))
    assert not identity_allows(reconcile, "sagemaker:DescribeLabelingJob", other_job)
    assert not identity_allows(reconcile, "sagemaker:StopLabelingJob", other_job)


# --- CloudWatch alarms -> the notifications topic ---------------------------------------------------


def test_an_alarm_reaches_the_notifications_topic_but_not_one_on_alias_aws_sns(cloud: LocalCloud) -> None:
    document = deploy(cloud, "alm")
    project = project_of(cloud, document)
    topic = document["topics"]["notifications"]
    cloudwatch, sns = boto3.client("cloudwatch"), boto3.client("sns")

    def alarm(name: str) -> None:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[topic],
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")

    alarm("alm-intake-errors")
    assert [n.get("AlarmName") for n in project.notifications()] == ["alm-intake-errors"]
    # Before: without a customer key, Terraform put every topic on alias/aws/sns.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue="alias/aws/sns")
    alarm("alm-intake-errors-2")
    assert [n.get("AlarmName") for n in project.notifications()] == ["alm-intake-errors"]


# --- TLS only on every queue, the dead-letter queues included ----------------------------------------


def test_every_queue_refuses_plain_http_for_every_action(cloud: LocalCloud) -> None:
    document = deploy(cloud, "tls")
    sqs = boto3.client("sqs")
    caller = role_caller(document["lambda_roles"]["intake"])
    for kind, queue in sorted(document["queues"].items()):
        for url in (queue["url"], queue["dlq_url"]):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy", "QueueArn"])[
                "Attributes"
            ]
            policy = parse_policy(attributes["Policy"], f"queue policy of {url}")
            for action in (
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:PurgeQueue",
                "sqs:SetQueueAttributes",
            ):
                plain = AuthzRequest(action, attributes["QueueArn"], {"aws:securetransport": ("false",)})
                decision = evaluate(plain, caller, [], policy)
                assert decision.reason == "explicit-deny", (kind, url, action)
                tls = AuthzRequest(action, attributes["QueueArn"], {"aws:securetransport": ("true",)})
                assert evaluate(tls, caller, [], policy).reason != "explicit-deny"
    # Before: the dead-letter queues had no policy, so nothing refused plain HTTP there.
    assert (
        evaluate(
            AuthzRequest(
                "sqs:ReceiveMessage",
                "arn:aws:sqs:us-east-1:123456789012:tls-intake-dlq",
                {"aws:securetransport": ("false",)},
            ),
            caller,
            [],
            None,
        ).reason
        != "explicit-deny"
    )
