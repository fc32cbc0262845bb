"""Why the SNS shim exists: moto alone stops delivering at a deleted subscribed queue.

Each scenario runs in a fresh interpreter (moto in process), so the shim installed in one
cannot leak into the other or into this test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCENARIO = """
import json, sys
import boto3
from moto import mock_aws

if sys.argv[1] == "shim":
    from gtlocal import shims
    shims._patch_sns_dead_subscriptions()

with mock_aws():
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="t")["TopicArn"]
    urls = []
    for name in ("gone", "live"):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        urls.append(url)
    sqs.delete_queue(QueueUrl=urls[0])
    try:
        sns.publish(TopicArn=topic, Message="one")
        published = True
    except Exception:
        published = False
    batch = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "1", "Message": "two"}])
    received = sqs.receive_message(QueueUrl=urls[1], MaxNumberOfMessages=10).get("Messages", [])
    print(json.dumps({
        "published": published,
        "batch_answered": len(batch["Successful"]) + len(batch["Failed"]),
        "delivered": sorted(json.loads(m["Body"])["Message"] for m in received),
    }))
"""


def run(mode: str) -> dict[str, object]:
    # No AWS_ENDPOINT_URL (an integration session may have set it): moto in process answers.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_plain_moto_drops_the_message_for_every_subscriber() -> None:
    # If this starts failing, moto delivers like AWS now: remove the shim (gtlocal.shims).
    assert run("plain") == {"published": False, "batch_answered": 0, "delivered": []}


def test_with_the_shim_the_remaining_subscriber_gets_every_message() -> None:
    assert run("shim") == {"published": True, "batch_answered": 1, "delivered": ["one", "two"]}
