"""Proofs that two deployed stages are wired as docs/interfaces.md "Stages" says, under the strict
local cloud (IAM, resource and key policies enforced), shared by the Terraform and CloudFormation
tests: the first stage's labels, published as its Ground Truth role publishes them, reach the review
stage's intake queue; the review stage's deciding roles (labels, intake, job_events, reconcile) may
send to the first stage's intake queue, worker_events may not; its Ground Truth role reads the
first stage's ``images/`` and nothing else there. And a first stage (no ``stage`` settings) has none of it.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

import boto3

from gtlocal.testing import LocalCloud

sys.path.insert(0, str(Path(__file__).parent / "integration" / "iam"))
from iam_world import LAMBDA, SAGEMAKER, refusal, role_name, session_of  # isort: skip

STAGE_SIDS = {"UpstreamImages", "UpstreamKey", "RejectedQueue", "RejectedQueueKey", "LedgerReadObject"}
# The functions that may decide on a review stage's label and send a rejected object back.
DECIDING_FUNCTIONS = ("labels", "intake", "job_events", "reconcile")
STAGE_VARIABLES = {"UPSTREAM_OUTPUT_TOPIC_ARN", "REJECTED_QUEUE_URL", "MAX_REVIEW_ROUNDS"}
PROBE = "stage-probe"


def _statement_sids(role_arn: str) -> set[str]:
    iam = boto3.client("iam")
    name = role_name(role_arn)
    return {
        statement.get("Sid", "")
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
        for statement in iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]["Statement"]
    }


def _roles(document: dict[str, Any]) -> dict[str, str]:
    return {"groundtruth": document["groundtruth_role_arn"], **document["lambda_roles"]}


def _queue_allows(url: str) -> list[str]:
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])[
        "Attributes"
    ]
    return [s["Sid"] for s in json.loads(attributes["Policy"])["Statement"] if s["Effect"] == "Allow"]


def _subscriptions_to(queue_arn: str) -> list[dict[str, Any]]:
    sns = boto3.client("sns")
    return [
        s
        for page in sns.get_paginator("list_subscriptions").paginate()
        for s in page["Subscriptions"]
        if s["Endpoint"] == queue_arn and s["SubscriptionArn"].startswith("arn:")
    ]


def _drain(url: str) -> list[str]:
    """Receive and delete every visible message of a queue (as the caller); their bodies."""
    sqs = boto3.client("sqs")
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    ):
        bodies.extend(m["Body"] for m in messages)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return bodies


def assert_first_stage_has_no_stage_wiring(first: dict[str, Any]) -> None:
    """Without stage settings nothing of a stage exists: no subscription to its intake queue, no
    policy statement, no grant, no environment variable, a null ``stage``."""
    assert first["stage"] == {"upstream_output_topic_arn": None, "rejected_queue_url": None}
    assert not STAGE_VARIABLES & set(first["lambda_environment"])
    assert _queue_allows(first["queues"]["intake"]["url"]) == ["AllowProjectSender"]
    assert _subscriptions_to(first["queues"]["intake"]["arn"]) == []
    for kind, arn in _roles(first).items():
        assert not STAGE_SIDS & _statement_sids(arn), kind


def prove_review_stage_wiring(cloud: LocalCloud, first: dict[str, Any], review: dict[str, Any]) -> None:
    """The review stage's wiring to the first stage, each part acting as the role AWS would use."""
    account = first["account_id"]
    intake = review["queues"]["intake"]
    upstream_topic, rejected = first["topics"]["output"], first["queues"]["intake"]

    # Given the review stage's settings, as its document and its functions have them
    assert review["stage"] == {
        "upstream_output_topic_arn": upstream_topic,
        "rejected_queue_url": rejected["url"],
    }
    environment = review["lambda_environment"]
    assert environment["UPSTREAM_OUTPUT_TOPIC_ARN"] == upstream_topic
    assert environment["REJECTED_QUEUE_URL"] == rejected["url"]
    # and its intake queue subscribed to the first stage's output topic, raw, admitting that topic
    (subscription,) = _subscriptions_to(intake["arn"])
    assert subscription["TopicArn"] == upstream_topic and subscription["Protocol"] == "sqs"
    attributes = boto3.client("sns").get_subscription_attributes(
        SubscriptionArn=subscription["SubscriptionArn"]
    )
    assert attributes["Attributes"]["RawMessageDelivery"] == "true"
    assert _queue_allows(intake["url"]) == ["AllowProjectSender", "AllowUpstreamOutputTopic"]

    # When the first stage's Ground Truth role publishes a label on its output topic
    _drain(intake["url"])
    image = f"s3://{first['buckets']['input']}/images/{PROBE}.jpg"
    line = json.dumps({"source-ref": image, "category": 1, "category-metadata": {"class-name": "dog"}})
    groundtruth = session_of(cloud, first["groundtruth_role_arn"], SAGEMAKER, account)
    groundtruth.client("sns").publish(TopicArn=upstream_topic, Message=line)
    # Then the review stage's intake queue has that output line, as it is (SNS, SQS and the key
    # policies allowed the delivery: a refused one is dropped)
    assert _drain(intake["url"]) == [line]

    # Each review stage function that decides on a label (labels live; intake, job_events and
    # reconcile at a job end: gtstream.stages.decide) sends a rejected object to the first stage's
    # intake queue, and to no other queue of it; worker_events may not send there
    for kind in DECIDING_FUNCTIONS:
        sender = session_of(cloud, review["lambda_roles"][kind], LAMBDA).client("sqs")
        sender.send_message(QueueUrl=rejected["url"], MessageBody=json.dumps({"probe": kind}))
        assert json.dumps({"probe": kind}) in _drain(rejected["url"])
        refusal(partial(sender.send_message, QueueUrl=first["queues"]["labels"]["url"], MessageBody="x"))
    other = session_of(cloud, review["lambda_roles"]["worker_events"], LAMBDA).client("sqs")
    refusal(partial(other.send_message, QueueUrl=rejected["url"], MessageBody="x"))

    # The review stage's Ground Truth role reads the first stage's images/ (objects that exist, so
    # that a refusal is IAM's and not a missing key's 403) and nothing else of its buckets
    s3 = boto3.client("s3")
    bucket = first["buckets"]["input"]
    s3.put_object(Bucket=bucket, Key=f"images/{PROBE}.jpg", Body=b"an image")
    s3.put_object(Bucket=bucket, Key=f"manifests/{PROBE}.manifest", Body=b"{}")
    s3.put_object(Bucket=first["buckets"]["output"], Key=f"jobs/{PROBE}.json", Body=b"{}")
    reviewer = session_of(cloud, review["groundtruth_role_arn"], SAGEMAKER, account).client("s3")
    assert reviewer.get_object(Bucket=bucket, Key=f"images/{PROBE}.jpg")["Body"].read() == b"an image"
    refusal(lambda: reviewer.get_object(Bucket=bucket, Key=f"manifests/{PROBE}.manifest"))
    refusal(lambda: reviewer.get_object(Bucket=first["buckets"]["output"], Key=f"jobs/{PROBE}.json"))
    # The first stage's own roles got nothing of the review stage
    assert_first_stage_has_no_stage_wiring(first)
