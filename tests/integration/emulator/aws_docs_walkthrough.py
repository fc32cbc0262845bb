"""A Ground Truth streaming labeling job, end to end, written from the AWS documentation only.

It uses plain boto3 and the standard AWS configuration (credentials, region, endpoint from the
environment); nothing in it knows about an emulator, so it runs unchanged on real AWS
(given a private work team and a Ground Truth execution role, passed as arguments).

Steps (SageMaker developer guide, "Create a Streaming Labeling Job with the SageMaker API"
(sms-streaming-create-labeling-job-api), "Subscribe an Endpoint to Your Amazon SNS Output Topic",
"Stop a Streaming Labeling Job" and "Monitor Labeling Job Status"): create buckets, label
categories, template, an input manifest, a KMS key for the output, input/output SNS topics (the
output topic with an SQS subscriber), an EventBridge rule with an SQS target; create the job with
the page's request (S3DataSource and SnsDataSource, DataAttributes, KmsKeyId, TaskKeywords, Tags);
wait for InProgress (no objects while Initializing); publish three objects; wait until two are
labeled; stop the job; read the Stopped state-change event; read the output topic and the output
manifest.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

import boto3

# Built-in pre-annotation and consolidation Lambdas for image classification in us-east-1
# (developer guide, "PreHumanTaskLambdaArn" / "AnnotationConsolidationLambdaArn").
PRE_LAMBDA = "arn:aws:lambda:{region}:432418664414:function:PRE-ImageMultiClass"
ACS_LAMBDA = "arn:aws:lambda:{region}:432418664414:function:ACS-ImageMultiClass"
TEMPLATE = """<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-image-classifier name="crowd-image-classifier" src="{{ task.input.taskObject | grant_read_access }}"
    header="Which animal is this?" categories="{{ task.input.labels | to_json | escape }}">
  </crowd-image-classifier>
</crowd-form>
"""


def wait_for(what: str, check: Any, timeout: float, interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def allow_sends(sqs: Any, queue_url: str, service: str, source_arn: str) -> str:
    """Let ``service`` send to the queue for ``source_arn`` only; return the queue's ARN."""
    queue_arn: str = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    return queue_arn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default=f"docs-walkthrough-{uuid.uuid4().hex[:8]}")
    parser.add_argument(
        "--role-arn", help="Ground Truth execution role (default: <account>:role/GroundTruthExecution)"
    )
    parser.add_argument(
        "--workteam-arn", help="private work team (default: <account>:workteam/private-crowd/default)"
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for each step")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between DescribeLabelingJob calls")
    args = parser.parse_args()

    session = boto3.session.Session()
    region = session.region_name or "us-east-1"
    account = session.client("sts").get_caller_identity()["Account"]
    s3, sns, sqs = session.client("s3"), session.client("sns"), session.client("sqs")
    events, sagemaker, kms = session.client("events"), session.client("sagemaker"), session.client("kms")
    name = args.name
    role_arn = args.role_arn or f"arn:aws:iam::{account}:role/GroundTruthExecution"
    workteam_arn = args.workteam_arn or f"arn:aws:sagemaker:{region}:{account}:workteam/private-crowd/default"

    # Buckets: input (with the CORS rule Ground Truth needs) and output.
    input_bucket, output_bucket = f"{name}-input", f"{name}-output"
    for bucket in (input_bucket, output_bucket):
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_cors(
        Bucket=input_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["GET"],
                    "AllowedOrigins": ["*"],
                    "AllowedHeaders": [],
                    "ExposeHeaders": ["Access-Control-Allow-Origin"],
                }
            ]
        },
    )
    categories = {"document-version": "2018-11-28", "labels": [{"label": "cat"}, {"label": "dog"}]}
    s3.put_object(Bucket=input_bucket, Key="config/categories.json", Body=json.dumps(categories).encode())
    s3.put_object(Bucket=input_bucket, Key="config/template.liquid.html", Body=TEMPLATE.encode())
    # The input manifest: objects labeled as soon as the job starts.
    s3.put_object(Bucket=input_bucket, Key="images/first.jpg", Body=b"\xff\xd8\xff\xe0 not a real jpeg")
    first = {"source-ref": f"s3://{input_bucket}/images/first.jpg"}
    s3.put_object(
        Bucket=input_bucket, Key="manifests/manifest-with-input-data.json", Body=json.dumps(first).encode()
    )
    # A customer managed key for the output data (OutputConfig.KmsKeyId).
    kms_key = kms.create_key(Description=f"{name} labeling output")["KeyMetadata"]["Arn"]

    # Input and output topics of the streaming job; a queue subscribed to the output topic.
    input_topic = sns.create_topic(Name=f"{name}-input")["TopicArn"]
    output_topic = sns.create_topic(Name=f"{name}-output")["TopicArn"]
    output_queue = sqs.create_queue(QueueName=f"{name}-output")["QueueUrl"]
    output_queue_arn = allow_sends(sqs, output_queue, "sns.amazonaws.com", output_topic)
    sns.subscribe(TopicArn=output_topic, Protocol="sqs", Endpoint=output_queue_arn)

    # EventBridge rule for the job's state changes, with an SQS target.
    queue_url = sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
    rule_arn = events.put_rule(
        Name=f"{name}-state",
        EventPattern=json.dumps(
            {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Ground Truth Labeling Job State Change"]}
        ),
    )["RuleArn"]
    queue_arn = allow_sends(sqs, queue_url, "events.amazonaws.com", rule_arn)
    events.put_targets(Rule=f"{name}-state", Targets=[{"Id": "events-queue", "Arn": queue_arn}])

    job_arn = sagemaker.create_labeling_job(
        LabelingJobName=name,
        LabelAttributeName="animal",
        InputConfig={
            "DataSource": {
                "S3DataSource": {
                    "ManifestS3Uri": f"s3://{input_bucket}/manifests/manifest-with-input-data.json"
                },
                "SnsDataSource": {"SnsTopicArn": input_topic},
            },
            "DataAttributes": {"ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]},
        },
        OutputConfig={
            "S3OutputPath": f"s3://{output_bucket}/output/",
            "KmsKeyId": kms_key,
            "SnsTopicArn": output_topic,
        },
        RoleArn=role_arn,
        LabelCategoryConfigS3Uri=f"s3://{input_bucket}/config/categories.json",
        HumanTaskConfig={
            "WorkteamArn": workteam_arn,
            "UiConfig": {"UiTemplateS3Uri": f"s3://{input_bucket}/config/template.liquid.html"},
            "PreHumanTaskLambdaArn": PRE_LAMBDA.format(region=region),
            "TaskKeywords": ["Image classification"],
            "TaskTitle": "Which animal?",
            "TaskDescription": "Choose the animal in the picture",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
            "TaskAvailabilityLifetimeInSeconds": 21600,
            "MaxConcurrentTaskCount": 100,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": ACS_LAMBDA.format(region=region)
            },
        },
        Tags=[{"Key": "project", "Value": name}],
    )["LabelingJobArn"]
    print(f"created {job_arn}", flush=True)

    def describe() -> dict[str, Any]:
        answer: dict[str, Any] = sagemaker.describe_labeling_job(LabelingJobName=name)
        return answer

    # Do not send data objects while the job is Initializing.
    wait_for("InProgress", lambda: describe()["LabelingJobStatus"] == "InProgress", args.timeout, args.poll)
    print("status InProgress", flush=True)

    for i in range(3):
        key = f"images/{i}.jpg"
        s3.put_object(Bucket=input_bucket, Key=key, Body=b"\xff\xd8\xff\xe0 not a real jpeg " + bytes([i]))
        sns.publish(TopicArn=input_topic, Message=json.dumps({"source-ref": f"s3://{input_bucket}/{key}"}))
    print("published 3", flush=True)

    def two_labeled() -> dict[str, Any] | None:
        label_counters: dict[str, Any] = describe()["LabelCounters"]
        return label_counters if label_counters.get("TotalLabeled", 0) >= 2 else None

    counters = wait_for("two labeled objects", two_labeled, args.timeout, args.poll)
    print(f"labeled {counters['TotalLabeled']}", flush=True)

    sagemaker.stop_labeling_job(LabelingJobName=name)

    def stopped() -> dict[str, Any] | None:
        job = describe()
        return job if job["LabelingJobStatus"] == "Stopped" else None

    final = wait_for("Stopped", stopped, args.timeout, args.poll)
    print(f"status {final['LabelingJobStatus']}", flush=True)

    seen: list[str] = []

    def stopped_event() -> bool:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5).get(
            "Messages", []
        ):
            event = json.loads(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if event.get("resources") == [job_arn]:
                seen.append(event["detail"]["LabelingJobStatus"])
        return "Stopped" in seen

    wait_for("the Stopped state-change event", stopped_event, args.timeout, 0)
    print(f"events {' '.join(seen)}", flush=True)

    # "Each time a worker submits a labeled object, a notification with the output data is sent."
    notified: list[dict[str, Any]] = []

    def two_notifications() -> bool:
        for message in sqs.receive_message(QueueUrl=output_queue, MaxNumberOfMessages=10).get("Messages", []):
            notified.append(json.loads(json.loads(message["Body"])["Message"]))
            sqs.delete_message(QueueUrl=output_queue, ReceiptHandle=message["ReceiptHandle"])
        return len(notified) >= 2

    wait_for("two output-topic notifications", two_notifications, args.timeout, args.poll)
    print(f"output-topic {len(notified)} labeled {sum(1 for n in notified if 'animal' in n)}", flush=True)

    manifest_uri = final["LabelingJobOutput"]["OutputDatasetS3Uri"]
    bucket, _, key = manifest_uri.removeprefix("s3://").partition("/")
    lines = [
        json.loads(line)
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        if line
    ]
    labeled = [line for line in lines if "animal" in line]
    print(f"manifest {manifest_uri} lines {len(lines)} labeled {len(labeled)}", flush=True)
    for line in labeled:
        print(f"label {line['source-ref']} {line['animal-metadata']['class-name']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
