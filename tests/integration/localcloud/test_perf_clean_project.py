"""``gtlocal.testing.clean_project``: a cleaned project behaves as a freshly deployed one.

The same scenario (images, a quarantined file, a job that is labeled in part, stopped and
chained, notifications) runs on a fresh SDK deployment, then again on the same deployment after
``clean_project``; everything observable must be the same, and the resources must still be there.
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from typing import Any

import boto3
from PIL import Image

from gtlocal.deploy import deploy_project, publish_project_config
from gtlocal.runner import run_until_idle
from gtlocal.testing import (
    KeptDeployment,
    LocalCloud,
    allow_delivery,
    clean_project,
    reset_local_cloud,
)

PREFIX = "cl"


def _image(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (seed * 50 % 256, 90, 10)).save(out, format="JPEG")
    return out.getvalue()


def _keys(s3: Any, bucket: str) -> list[str]:
    versions = s3.list_object_versions(Bucket=bucket)
    return sorted(v["Key"] for v in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])])


def _depths(sqs: Any, deployment: dict[str, Any]) -> dict[str, str]:
    depths = {}
    for kind, queue in deployment["queues"].items():
        for place, url in (("queue", queue["url"]), ("dlq", queue["dlq_url"])):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            depths[f"{kind}.{place}"] = "/".join(
                attributes[n]
                for n in (
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                )
            )
    return depths


def observe(cloud: LocalCloud, deployment: dict[str, Any], notifications: str) -> dict[str, Any]:
    s3, sqs, sm = boto3.client("s3"), boto3.client("sqs"), boto3.client("sagemaker")
    items = boto3.resource("dynamodb").Table(deployment["ledger_table"]).scan()["Items"]
    received = sqs.receive_message(QueueUrl=notifications, MaxNumberOfMessages=10).get("Messages", [])
    for message in received:
        sqs.delete_message(QueueUrl=notifications, ReceiptHandle=message["ReceiptHandle"])
    return {
        "jobs": sorted(
            (j["LabelingJobName"], j["LabelingJobStatus"])
            for j in sm.list_labeling_jobs(MaxResults=100)["LabelingJobSummaryList"]
        ),
        "objects": Counter(str(i.get("state")) for i in items if str(i["pk"]).startswith("OBJ#")),
        "items": sorted(str(i["pk"]).split("#")[0] for i in items),
        "decisions": sorted(str(i.get("decision")) for i in items if str(i["pk"]).startswith("JOB#")),
        "buckets": {
            role: len(_keys(s3, deployment["buckets"][role])) for role in ("drop", "input", "output")
        },
        "queues": _depths(sqs, deployment),
        "ground_truth_queues": sorted(
            url.rsplit("/", 1)[1]
            for url in sqs.list_queues(QueueNamePrefix="GroundTruth-").get("QueueUrls", [])
        ),
        "notifications": sorted(json.loads(json.loads(m["Body"])["Message"])["event"] for m in received),
    }


def scenario(cloud: LocalCloud, deployment: dict[str, Any]) -> dict[str, Any]:
    """Three images and a broken file; job 1 starts, one image is labeled, job 1 is stopped and
    chained into job 2; a message waits in the intake DLQ; the emulator's clock has moved."""
    s3, sqs, sns = boto3.client("s3"), boto3.client("sqs"), boto3.client("sns")
    notifications = sqs.create_queue(QueueName=f"{PREFIX}-test-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=notifications, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    allow_delivery(sqs, notifications, "sns.amazonaws.com", deployment["topics"]["notifications"])
    sns.subscribe(TopicArn=deployment["topics"]["notifications"], Protocol="sqs", Endpoint=arn)
    publish_project_config(deployment)
    cloud.control.update_settings(initializing_seconds=600)
    drop = deployment["buckets"]["drop"]
    for seed in range(3):
        s3.put_object(Bucket=drop, Key=f"batch/{seed}.jpg", Body=_image(seed))
    s3.put_object(Bucket=drop, Key="batch/notes.jpg", Body=b"not an image")
    run_until_idle(deployment)
    cloud.control.advance_clock(605)
    run_until_idle(deployment)
    job = f"{PREFIX}-0001"
    assert cloud.control.workforce(job, label=1)["labeled"] == 1
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=job)
    cloud.control.advance_clock(5)
    run_until_idle(deployment, reconcile=True)
    sqs.send_message(QueueUrl=deployment["queues"]["intake"]["dlq_url"], MessageBody="{}")
    return observe(cloud, deployment, notifications)


def test_a_cleaned_project_behaves_as_a_fresh_one(local_cloud: LocalCloud) -> None:
    reset_local_cloud(local_cloud)
    deployment = deploy_project(PREFIX, region=local_cloud.region, environment={"PENDING_STALE_SECONDS": "0"})
    fresh = scenario(local_cloud, deployment)

    clean_project(local_cloud, deployment)
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    emptied = {
        "ledger": boto3.resource("dynamodb").Table(deployment["ledger_table"]).scan()["Items"],
        "objects": [_keys(s3, deployment["buckets"][role]) for role in ("drop", "input", "output")],
        "config": s3.list_objects_v2(Bucket=deployment["buckets"]["instructions"]).get("KeyCount"),
        "queues": set(_depths(sqs, deployment).values()),
        "ground_truth": sqs.list_queues(QueueNamePrefix="GroundTruth-").get("QueueUrls", []),
        "jobs": local_cloud.control.jobs(),
    }
    again = scenario(local_cloud, deployment)

    assert emptied == {
        "ledger": [],
        "objects": [[], [], []],
        "config": 0,
        "queues": {"0/0/0"},
        "ground_truth": [],
        "jobs": [],
    }
    assert again == fresh
    # The scenario reached what it means to (so the comparison compares something).
    assert fresh["jobs"] == [(f"{PREFIX}-0001", "Stopped"), (f"{PREFIX}-0002", "Initializing")]
    assert (
        fresh["objects"] == Counter({"LABELED": 1, "SENT": 2, "QUARANTINED": 1})
        or fresh["objects"]["LABELED"] == 1
    )
    assert fresh["queues"]["intake.dlq"] == "1/0/0"
    assert fresh["ground_truth_queues"] == [f"GroundTruth-{PREFIX}-0002"]  # reconcile removed 0001's
    assert "job-ended" in fresh["notifications"]


def test_messages_in_flight_or_delayed_are_removed_by_passing_time_never_purged(
    local_cloud: LocalCloud,
) -> None:
    reset_local_cloud(local_cloud)
    deployment = deploy_project(PREFIX, region=local_cloud.region)
    sqs = boto3.client("sqs")
    intake, job_events = (deployment["queues"][k]["url"] for k in ("intake", "job_events"))
    sqs.send_message(QueueUrl=intake, MessageBody="{}")
    local_cloud.control.advance_clock(3 * 86_400)  # a test that reached day 3...
    # ...left messages in flight (for the visibility timeout) and one behind a timer
    assert sqs.receive_message(QueueUrl=intake, MaxNumberOfMessages=10)["Messages"]
    sqs.send_message(QueueUrl=job_events, MessageBody="{}", DelaySeconds=900)
    sqs.send_message(QueueUrl=job_events, MessageBody="{}")
    before = _depths(sqs, deployment)

    left = clean_project(local_cloud, deployment)

    assert before["intake.queue"].startswith("0/") and before["job_events.queue"] == "1/0/1"
    assert left == [] and set(_depths(sqs, deployment).values()) == {"0/0/0"}
    assert abs(local_cloud.control.now() - time.time()) < 3_600  # the clock is back to now
    sqs.purge_queue(QueueUrl=intake)  # no purge happened: a test may still purge


def test_a_kept_deployment_cleans_and_deploys_again_only_when_it_must(local_cloud: LocalCloud) -> None:
    sqs = boto3.client("sqs")
    deploys: list[str] = []

    def deploy(cloud: LocalCloud) -> dict[str, Any]:
        deploys.append(PREFIX)
        return deploy_project(PREFIX, region=cloud.region)

    kept = KeptDeployment(local_cloud, deploy)
    document = kept.clean()  # first use: reset, deploy
    fresh = _depths(sqs, document)  # S3's test event waits in the intake queue of a new deployment
    marker = sqs.create_queue(QueueName=f"{PREFIX}-marker")["QueueUrl"]  # gone only with a reset
    kept.clean()  # clean: the marker stays
    kept_marker = sqs.list_queues(QueueNamePrefix=f"{PREFIX}-marker").get("QueueUrls", [])
    sqs.send_message(QueueUrl=document["queues"]["intake"]["url"], MessageBody="{}")
    sqs.receive_message(QueueUrl=document["queues"]["intake"]["url"])  # in flight: time passes it
    kept.clean()
    deploys_before_reset = len(deploys)
    reset_local_cloud(local_cloud)  # the deployment is gone: deployed again
    again = kept.clean()

    assert kept_marker == [marker] and (deploys_before_reset, len(deploys)) == (1, 2)
    assert sqs.list_queues(QueueNamePrefix=f"{PREFIX}-marker").get("QueueUrls", []) == []
    assert _depths(sqs, again) == fresh
