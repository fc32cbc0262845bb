"""Streaming labeling jobs: life cycle, queue, dedupe, workforce, output, events."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from emulator_world import ACCOUNT, World

from gtlocal.testing import allow_delivery


def test_create_initializing_then_in_progress(world: World) -> None:
    arn = world.create("Stream-One")
    assert arn == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:labeling-job/stream-one"
    described = world.sm.describe_labeling_job(LabelingJobName="Stream-One")
    assert described["LabelingJobStatus"] == "Initializing"
    assert described["LabelAttributeName"] == "category"
    assert described["LabelCounters"]["Unlabeled"] == 0
    world.cloud.control.advance_clock(1)
    assert world.status("Stream-One") == "InProgress"
    assert world.state_events() == []  # AWS documents events for Completed, Failed, Stopped only


def test_queue_named_after_job_is_subscribed_then_unsubscribed_at_stop_and_kept(world: World) -> None:
    """ "Stop a Streaming Labeling Job": Ground Truth "unsubscribes your Amazon SNS topic from your
    Amazon SQS queue. The Amazon SQS is *not* deleted"."""
    world.start("Stream-Q")
    url = world.sqs.get_queue_url(QueueName="GroundTruth-stream-q")["QueueUrl"]
    subs = world.sns.list_subscriptions_by_topic(TopicArn=world.input_topic)["Subscriptions"]
    assert [s["Protocol"] for s in subs] == ["sqs"]
    assert subs[0]["Endpoint"].endswith(":GroundTruth-stream-q")
    retention = world.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])
    assert retention["Attributes"]["MessageRetentionPeriod"] == "1209600"  # objects expire after 14 days
    world.sm.stop_labeling_job(LabelingJobName="Stream-Q")
    assert world.status("Stream-Q") == "Stopped"
    assert world.sns.list_subscriptions_by_topic(TopicArn=world.input_topic)["Subscriptions"] == []
    assert world.sqs.get_queue_url(QueueName="GroundTruth-stream-q")["QueueUrl"] == url


def test_messages_while_initializing_are_discarded(world: World) -> None:
    world.create("early")
    world.publish({"source-ref": "s3://gt-input/a.jpg"})
    world.cloud.control.tick()
    world.cloud.control.advance_clock(1)
    view = world.cloud.control.job("early")
    assert view["objects"] == []
    assert [json.loads(d["body"]) for d in view["discarded"]] == [{"source-ref": "s3://gt-input/a.jpg"}]


def test_dedupe_by_message_id_and_by_object_id_attribute(world: World) -> None:
    world.start("dedupe")
    # Same line twice without an object id: two SNS messages -> two tasks.
    world.publish({"source-ref": "s3://gt-input/a.jpg"}, {"source-ref": "s3://gt-input/a.jpg"})
    keyed = {"source-ref": "s3://gt-input/b.jpg", "dataset-objectid-attribute-name": "source-ref"}
    world.publish(keyed, keyed, {"source": "some text"})
    view = world.cloud.control.job("dedupe")
    assert [o["source"] for o in view["objects"]] == [
        "s3://gt-input/a.jpg",
        "s3://gt-input/a.jpg",
        "s3://gt-input/b.jpg",
        "some text",
    ]
    assert view["objects"][2]["dedupe_id"] == "s3://gt-input/b.jpg"
    assert all(o["state"] == "available" for o in view["objects"])
    assert world.sm.describe_labeling_job(LabelingJobName="dedupe")["LabelCounters"]["Unlabeled"] == 4


def test_malformed_lines_are_counted_and_shown_failed(world: World) -> None:
    world.start("malformed")
    world.sns.publish(TopicArn=world.input_topic, Message="not json")
    world.publish({"other": 1}, {"source-ref": "s3://gt-input/ok.jpg"})
    world.publish({"source-ref": "s3://gt-input/k.jpg", "dataset-objectid-attribute-name": "missing"})
    view = world.cloud.control.job("malformed")
    assert [o["source"] for o in view["objects"]] == ["s3://gt-input/ok.jpg"]
    assert [r["body"] for r in view["rejected"]][:2] == ["not json", '{"other": 1}']
    assert [r["state"] for r in view["rejected"]] == ["failed"] * 3
    assert "missing" in view["rejected"][2]["reason"]
    assert view["counters"]["FailedNonRetryableError"] == 3


def test_workforce_labels_oldest_first_and_writes_output(world: World) -> None:
    world.start("work")
    queue = world.sqs.create_queue(QueueName="out")["QueueUrl"]
    qarn = world.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    allow_delivery(world.sqs, queue, "sns.amazonaws.com", world.output_topic)
    world.sns.subscribe(
        TopicArn=world.output_topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"}
    )
    world.publish(*({"source-ref": f"s3://gt-input/{i}.jpg"} for i in range(5)))
    done = world.cloud.control.workforce("work", label=2, decline=1, fail=1)
    assert done == {"labeled": 2, "declined": 1, "failed": 1}
    view = world.cloud.control.job("work")
    assert [o["state"] for o in view["objects"]] == ["labeled", "labeled", "expired", "failed", "available"]
    counters = world.sm.describe_labeling_job(LabelingJobName="work")["LabelCounters"]
    assert counters == {
        "TotalLabeled": 2,
        "HumanLabeled": 2,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 2,
        "Unlabeled": 1,
    }
    lines = world.output_manifest("work")
    assert [line["source-ref"] for line in lines] == [f"s3://gt-input/{i}.jpg" for i in range(4)]
    first = lines[0]
    assert isinstance(first["category"], int)
    meta = first["category-metadata"]
    assert meta["job-name"] == "labeling-job/work"
    assert meta["human-annotated"] == "yes"
    assert meta["type"] == "groundtruth/image-classification"
    assert meta["class-name"] in ("cat", "dog", "bird")
    assert ["cat", "dog", "bird"][first["category"]] == meta["class-name"]
    assert meta["confidence"] == 0.0  # "Output Data": one worker per object -> confidence 0.00
    assert "creation-date" in meta
    assert "category" not in lines[2] and "failure-reason" in lines[2]["category-metadata"]
    assert "failure-reason" in lines[3]["category-metadata"]
    published = [json.loads(b["Message"]) if "Message" in b else b for b in world.drain(queue)]
    assert [p["source-ref"] for p in published] == ["s3://gt-input/0.jpg", "s3://gt-input/1.jpg"]
    # Asking for more than is available does what it can.
    assert world.cloud.control.workforce("work", label=5) == {"labeled": 1, "declined": 0, "failed": 0}


def test_labels_are_deterministic_for_a_seed(world: World) -> None:
    world.start("seeded")
    world.publish(*({"source-ref": f"s3://gt-input/{i}.jpg"} for i in range(6)))
    world.cloud.control.workforce("seeded", label=6)
    first = [o["label"] for o in world.cloud.control.job("seeded")["objects"]]
    world.sm.stop_labeling_job(LabelingJobName="seeded")
    world.start("seeded2")
    world.cloud.control.reset()
    world.start("seeded")  # same name, same seed after reset -> same labels
    world.publish(*({"source-ref": f"s3://gt-input/{i}.jpg"} for i in range(6)))
    world.cloud.control.workforce("seeded", label=6)
    assert [o["label"] for o in world.cloud.control.job("seeded")["objects"]] == first


def test_task_events_for_worker_actions(world: World) -> None:
    arn = world.start("tasks", NumberOfHumanWorkersPerDataObject=2)
    world.publish({"source-ref": "s3://gt-input/a.jpg"}, {"source-ref": "s3://gt-input/b.jpg"})
    assert world.cloud.control.workforce("tasks", return_=1, label=1, decline=1)["returned"] == 1
    events = world.task_events()
    # one event per worker and action: a return, two submissions, two declines
    assert [e["detail"]["State"] for e in events] == [
        "Returned",
        "Submitted",
        "Submitted",
        "Declined",
        "Declined",
    ]
    assert all(e["detail"]["labeling-job-arn"] == arn and e["resources"] == [arn] for e in events)
    assert [o["state"] for o in world.cloud.control.job("tasks")["objects"]] == ["labeled", "expired"]


def test_stop_goes_through_stopping(world: World) -> None:
    world.cloud.control.update_settings(stopping_seconds=60, state_change_events="all")
    arn = world.start("stopper")
    world.sm.stop_labeling_job(LabelingJobName="stopper")
    assert world.status("stopper") == "Stopping"
    world.cloud.control.advance_clock(60)
    assert world.status("stopper") == "Stopped"
    assert [s for a, s in world.state_events() if a == arn] == [
        "Initializing",
        "InProgress",
        "Stopping",
        "Stopped",
    ]
    with pytest.raises(ClientError) as err:
        world.sm.stop_labeling_job(LabelingJobName="stopper")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_duplicate_events_setting(world: World) -> None:
    world.cloud.control.update_settings(duplicate_events=3)
    arn = world.start("dup")
    world.sm.stop_labeling_job(LabelingJobName="dup")
    assert world.state_events() == [(arn, "Stopped")] * 3


def test_idle_stop_after_ten_days_without_arrivals(world: World) -> None:
    world.start("idle")
    world.publish({"source-ref": "s3://gt-input/a.jpg"})
    world.cloud.control.workforce("idle", label=1)
    world.cloud.control.advance_clock(9 * 86_400)
    world.publish({"source-ref": "s3://gt-input/b.jpg"})  # an arrival stops the idle timer
    world.cloud.control.workforce("idle", label=1)  # ... which starts again once it is labeled
    world.cloud.control.advance_clock(9 * 86_400)
    assert world.status("idle") == "InProgress"
    world.cloud.control.advance_clock(86_400)
    assert world.status("idle") == "Stopped"


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped"])
def test_idle_stop_status_is_configurable(world: World, status: str) -> None:
    world.cloud.control.update_settings(idle_stop_status=status)
    world.start("idle2")
    world.cloud.control.advance_clock(10 * 86_400)
    assert world.status("idle2") == status


def test_job_expiry_after_thirty_days(world: World) -> None:
    world.start("expiry")
    for _ in range(4):  # keep it busy so the idle stop does not end it first
        world.publish({"source-ref": "s3://gt-input/a.jpg"})
        world.cloud.control.tick()
        world.cloud.control.advance_clock(8 * 86_400)
    described = world.sm.describe_labeling_job(LabelingJobName="expiry")
    assert described["LabelingJobStatus"] == "Failed"
    assert "30 days" in described["FailureReason"]


def test_task_availability_lifetime_expires_objects(world: World) -> None:
    world.start("lifetime", TaskAvailabilityLifetimeInSeconds=600)
    world.publish({"source-ref": "s3://gt-input/a.jpg"})
    world.cloud.control.tick()
    world.cloud.control.advance_clock(599)
    assert world.cloud.control.job("lifetime")["objects"][0]["state"] == "available"
    world.cloud.control.advance_clock(1)
    obj = world.cloud.control.job("lifetime")["objects"][0]
    assert obj["state"] == "expired" and "lifetime" in obj["failure_reason"]
    assert "failure-reason" in world.output_manifest("lifetime")[0]["category-metadata"]


def test_fail_through_control_api(world: World) -> None:
    arn = world.start("doomed")
    world.cloud.control.fail_job("doomed", "ClientError: simulated")
    described = world.sm.describe_labeling_job(LabelingJobName="doomed")
    assert (described["LabelingJobStatus"], described["FailureReason"]) == (
        "Failed",
        "ClientError: simulated",
    )
    assert world.state_events()[-1] == (arn, "Failed")


def test_other_region_and_account(world: World) -> None:
    sm = boto3.client("sagemaker", region_name="eu-west-1")
    request = world.request("elsewhere", streaming=False, manifest="s3://gt-input/m.manifest")
    request["RoleArn"] = "arn:aws:iam::111122223333:role/x"
    arn = sm.create_labeling_job(**request)["LabelingJobArn"]
    assert arn == "arn:aws:sagemaker:eu-west-1:111122223333:labeling-job/elsewhere"
    with pytest.raises(ClientError) as err:
        world.sm.describe_labeling_job(LabelingJobName="elsewhere")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
