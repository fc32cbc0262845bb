"""The emulator behaves as AWS documents Ground Truth (issue 8, "Why", differences 1-9).

Each test failed on the emulator before issue 8 and cites the AWS page or schema it follows.
Difference 10 (moto's SNS) is in tests/integration/localcloud/test_moto_shims.py.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_world import ACCOUNT, WORKTEAM, World
from PIL import Image

SCHEMA_KEYS = {"State", "labeling-job-arn", "workteam-team-arn"}


# 1 ---------------------------------------------------------------------------------------------
def test_1_state_change_events_only_for_completed_failed_stopped(world: World) -> None:
    """ "Monitor Labeling Job Status" (sagemaker/latest/dg/sms-monitor-cloud-watch.html): events
    "when a labeling job status changes to Completed, Failed, or Stopped"; "Valid values for Status
    are Completed, Failed, and Stopped"."""
    stopped = world.start("ends-stopped")
    failed = world.start("ends-failed")
    manifest = world.put_manifest("one.manifest", [{"source-ref": "s3://gt-input/a.jpg"}])
    completed = world.start("ends-completed", streaming=False, manifest=manifest)

    world.sm.stop_labeling_job(LabelingJobName="ends-stopped")
    world.cloud.control.fail_job("ends-failed", "ClientError: injected")
    world.cloud.control.workforce("ends-completed", label=1)

    assert sorted(world.state_events()) == sorted(
        [(stopped, "Stopped"), (failed, "Failed"), (completed, "Completed")]
    )


def test_1_every_status_change_is_an_event_only_when_set_to_all(world: World) -> None:
    """The undocumented statuses (Initializing, InProgress, Stopping) as a setting."""
    world.cloud.control.update_settings(state_change_events="all")
    arn = world.start("all-events")
    world.sm.stop_labeling_job(LabelingJobName="all-events")
    assert world.state_events() == [
        (arn, "Initializing"),
        (arn, "InProgress"),
        (arn, "Stopping"),
        (arn, "Stopped"),
    ]


# 2 ---------------------------------------------------------------------------------------------
def test_2_worker_task_events_have_the_schema_detail(world: World) -> None:
    """EventBridge schema registry, ``aws.sagemaker@SageMakerGroundTruthLabelingJobTaskStatusChange``:
    detail-type "SageMaker Ground Truth Labeling Job Task Status Change", detail ``State``,
    ``labeling-job-arn``, ``workteam-team-arn``; events "when a worker accepts, declines, submits,
    or returns a task" (Monitor Labeling Job Status)."""
    arn = world.start("task-events")
    world.publish({"source-ref": "s3://gt-input/a.jpg"}, {"source-ref": "s3://gt-input/b.jpg"})
    world.cloud.control.workforce("task-events", label=1, decline=1)

    events = world.task_events()

    assert [set(e["detail"]) for e in events] == [SCHEMA_KEYS, SCHEMA_KEYS]
    assert [e["detail"]["State"] for e in events] == ["Submitted", "Declined"]
    assert {e["detail"]["labeling-job-arn"] for e in events} == {arn}
    assert {e["detail"]["workteam-team-arn"] for e in events} == {WORKTEAM}
    assert {e["source"] for e in events} == {"aws.sagemaker"}


# 3 ---------------------------------------------------------------------------------------------
def test_3_job_names_are_not_case_sensitive(world: World) -> None:
    """CreateLabelingJob, LabelingJobName: "LabelingJobName is not case sensitive. For example,
    Example-job and example-job are considered the same labeling job name by Ground Truth."."""
    arn = world.create("Job-A")
    with pytest.raises(ClientError) as err:
        world.create("job-a")
    assert err.value.response["Error"]["Code"] == "ResourceInUse"

    described = world.sm.describe_labeling_job(LabelingJobName="JOB-a")
    assert (described["LabelingJobName"], described["LabelingJobArn"]) == ("Job-A", arn)
    assert arn.endswith(":labeling-job/job-a")
    world.sm.stop_labeling_job(LabelingJobName="job-A")
    assert world.status("job-a") == "Stopped"
    assert [s["LabelingJobName"] for s in world.sm.list_labeling_jobs()["LabelingJobSummaryList"]] == [
        "Job-A"
    ]


# 4 ---------------------------------------------------------------------------------------------
def _stopped_with_two_unlabeled(world: World, name: str) -> list[dict[str, Any]]:
    world.start(name, TaskAvailabilityLifetimeInSeconds=864_000)
    world.publish(*({"source-ref": f"s3://gt-input/{i}.jpg"} for i in range(3)))
    world.cloud.control.workforce(name, label=1)
    world.sm.stop_labeling_job(LabelingJobName=name)
    assert world.status(name) == "Stopped"
    return world.output_manifest(name)


def test_4_unlabeled_objects_of_a_stopped_job_are_in_its_output_manifest(world: World) -> None:
    """ "Chaining labeling jobs" (sms-reusing-data.html): chain from the output manifest to
    "continue a labeling job that was manually stopped"; objects without the label attribute are
    labeled by the chained job. "Output Data": an object not labeled "is written to the intermediate
    output file identically to the manifest file"."""
    lines = _stopped_with_two_unlabeled(world, "stopped-unlabeled")
    assert [line["source-ref"] for line in lines] == [f"s3://gt-input/{i}.jpg" for i in range(3)]
    assert "category" in lines[0]
    assert lines[1:] == [{"source-ref": "s3://gt-input/1.jpg"}, {"source-ref": "s3://gt-input/2.jpg"}]


def test_4_unlabeled_objects_of_an_expired_job_are_in_its_output_manifest(world: World) -> None:
    """Same page; the job expires after 30 days ("Labeling jobs fail after 30 days")."""
    world.start("expired-unlabeled", TaskAvailabilityLifetimeInSeconds=2_592_000)
    world.publish({"source-ref": "s3://gt-input/late.jpg"})
    world.cloud.control.tick()
    world.cloud.control.advance_clock(30 * 86_400)
    assert world.status("expired-unlabeled") == "Failed"
    assert world.output_manifest("expired-unlabeled") == [{"source-ref": "s3://gt-input/late.jpg"}]


@pytest.mark.parametrize("mode", ["failure-metadata", "omitted"])
def test_4_the_unlabeled_lines_shape_is_a_setting(world: World, mode: str) -> None:
    """Their exact shape is not documented: ``unlabeled_in_output``."""
    world.cloud.control.update_settings(unlabeled_in_output=mode)
    lines = _stopped_with_two_unlabeled(world, f"unlabeled-{mode}")
    if mode == "omitted":
        assert [line["source-ref"] for line in lines] == ["s3://gt-input/0.jpg"]
        return
    assert [line["source-ref"] for line in lines] == [f"s3://gt-input/{i}.jpg" for i in range(3)]
    for line in lines[1:]:
        assert "category" not in line
        assert "Stopped" in line["category-metadata"]["failure-reason"]


# 5 ---------------------------------------------------------------------------------------------
def test_5_the_idle_timer_starts_when_everything_fed_is_labeled(world: World) -> None:
    """ "Stop a Streaming Labeling Job": "if no data objects are fed to the Amazon SNS input topic and
    all the objects fed to the labeling job are already labeled, Ground Truth starts a timer. After
    the timer starts, if no items are received within a 10 day period, the labeling job is
    stopped"; the idle job "is automatically stopped"."""
    world.start("idle-rule", TaskAvailabilityLifetimeInSeconds=2_592_000)
    world.publish({"source-ref": "s3://gt-input/waiting.jpg"})
    world.cloud.control.tick()
    world.cloud.control.advance_clock(15 * 86_400)
    assert world.status("idle-rule") == "InProgress"  # an object still waits for a worker

    world.cloud.control.workforce("idle-rule", label=1)  # the timer starts now
    world.cloud.control.advance_clock(10 * 86_400 - 60)
    assert world.status("idle-rule") == "InProgress"
    world.cloud.control.advance_clock(60)
    assert world.status("idle-rule") == "Stopped"


# 6 ---------------------------------------------------------------------------------------------
def test_6_s3_event_notifications_through_the_input_topic_are_data_objects(world: World) -> None:
    """Streaming labeling jobs, "Send Data Objects using Amazon S3" and "Duplicate Message
    Handling": an S3 object-creation event sent to the input topic is a data object; the dedupe ID
    combines "the Amazon S3 URI of the object with the sequencer token"."""
    world.start("s3-events")
    world.s3.create_bucket(Bucket="gt-drop")
    world.s3.put_bucket_notification_configuration(
        Bucket="gt-drop",
        NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": world.input_topic, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    world.s3.put_object(Bucket="gt-drop", Key="cats/tom 1.jpg", Body=b"1")
    world.cloud.control.tick()
    [obj] = world.cloud.control.job("s3-events")["objects"]
    assert obj["source"] == "s3://gt-drop/cats/tom 1.jpg"

    # The same notification delivered twice is one object; the same key written again is a new one.
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "gt-drop"},
                    "object": {"key": "cats/tom+1.jpg", "sequencer": obj["dedupe_id"].rpartition(":")[2]},
                },
            }
        ]
    }
    world.sns.publish(TopicArn=world.input_topic, Message=json.dumps(event))
    world.s3.put_object(Bucket="gt-drop", Key="cats/tom 1.jpg", Body=b"2")
    world.cloud.control.workforce("s3-events", label=2)
    objects = world.cloud.control.job("s3-events")["objects"]
    assert [o["source"] for o in objects] == ["s3://gt-drop/cats/tom 1.jpg"] * 2
    assert objects[0]["dedupe_id"] != objects[1]["dedupe_id"]

    lines = world.output_manifest("s3-events")
    assert lines[0]["dataset-objectid-attribute-name"] == "$category-object-id"
    assert lines[0]["$category-object-id"] == objects[0]["dedupe_id"]
    assert lines[0]["$sequencer"] == objects[0]["dedupe_id"].rpartition(":")[2]


# 7 ---------------------------------------------------------------------------------------------
def test_7_output_lines_carry_the_documented_streaming_fields(world: World) -> None:
    """Streaming, "Find Deduplication Key and ID in Your Output Data": without your own key the
    line has ``"dataset-objectid-attribute-name": "$<label attribute>-object-id"`` and that key set
    to the SNS message ID; with your own key, your key and ID. "Output Data": metadata
    ``job-name`` ``labeling-job/<name>`` (the job's name lower-case, as in its ARN)."""
    world.start("Mixed-Case")
    message_id = world.sns.publish(
        TopicArn=world.input_topic, Message=json.dumps({"source-ref": "s3://gt-input/a.jpg"})
    )["MessageId"]
    world.publish(
        {"source-ref": "s3://gt-input/b.jpg", "dataset-objectid-attribute-name": "byo-key", "byo-key": "id-b"}
    )
    world.cloud.control.workforce("Mixed-Case", label=2)

    first, second = world.output_manifest("Mixed-Case")

    assert first["dataset-objectid-attribute-name"] == "$category-object-id"
    assert first["$category-object-id"] == message_id
    assert second["dataset-objectid-attribute-name"] == "byo-key" and second["byo-key"] == "id-b"
    assert "$category-object-id" not in second
    assert {first["category-metadata"]["job-name"], second["category-metadata"]["job-name"]} == {
        "labeling-job/mixed-case"
    }


# 8 ---------------------------------------------------------------------------------------------
CUSTOM_PRE = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-pre-annotation"
CUSTOM_ACS = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-consolidation"


def test_8_a_custom_workflow_without_categories_starts_and_is_answered(world: World) -> None:
    """CreateLabelingJob: ``LabelCategoryConfigS3Uri`` is optional; custom workflows name their own
    pre- and post-annotation Lambdas ("Custom labeling workflows", "Using pre-annotation and
    post-annotation Lambda functions"). The output line is ``<attr>`` = the post-annotation
    Lambda's content and ``<attr>-metadata`` with ``"type": "groundTruth/custom"``; the simulated
    answer is documented in src/gtlocal/README.md."""
    request = world.request(
        "custom-job",
        PreHumanTaskLambdaArn=CUSTOM_PRE,
        AnnotationConsolidationConfig={"AnnotationConsolidationLambdaArn": CUSTOM_ACS},
        NumberOfHumanWorkersPerDataObject=2,
    )
    del request["LabelCategoryConfigS3Uri"]
    world.sm.create_labeling_job(**request)
    world.cloud.control.advance_clock(1)
    assert world.status("custom-job") == "InProgress"

    line = {"source-ref": "s3://gt-input/a.jpg", "dataset-objectid-attribute-name": "source-ref"}
    world.publish(line)
    world.cloud.control.workforce("custom-job", label=1)

    [out] = world.output_manifest("custom-job")
    workers = out["category"]["annotationsFromAllWorkers"]
    assert len(workers) == 2  # NumberOfHumanWorkersPerDataObject
    assert all(json.loads(w["annotationData"]["content"]) == line for w in workers)
    assert all(w["workerId"].startswith("private.us-east-1.") for w in workers)
    assert out["category-metadata"]["type"] == "groundTruth/custom"
    assert out["category-metadata"]["job-name"] == "labeling-job/custom-job"


def _built_in(task: str) -> str:
    return f"arn:aws:lambda:us-east-1:432418664414:function:PRE-{task}"


PRIOR_BOXES = {
    "source-ref": "s3://gt-input/dog.jpg",
    "boxes": {
        "image_size": [{"width": 500, "height": 400, "depth": 3}],
        "annotations": [{"class_id": 0, "left": 111, "top": 134, "width": 61, "height": 128}],
    },
    "boxes-metadata": {"class-map": {"0": "cat"}, "type": "groundtruth/object-detection", "job-name": "x"},
}


def test_8_adjustment_verification_and_segmentation_have_their_output_formats(world: World) -> None:
    """ "Output Data": bounding box adjustment keeps the reviewed label and adds the adjusted one with
    ``adjustment-status``; label verification is ``groundtruth/label-verification`` with a class;
    semantic segmentation is a ``-ref`` to a PNG mask with an ``internal-color-map``."""
    world.put_image("dog.jpg", (500, 400))
    manifest = world.put_manifest("review.manifest", [PRIOR_BOXES])
    jobs = {
        "adjust": ("AdjustmentBoundingBox", "adjusted-boxes"),
        "verify": ("VerificationBoundingBox", "verify-boxes"),
        "segment": ("SemanticSegmentation", "mask-ref"),
    }
    for name, (task, attr) in jobs.items():
        request = world.request(
            name, streaming=False, manifest=manifest, PreHumanTaskLambdaArn=_built_in(task)
        )
        request["LabelAttributeName"] = attr
        world.sm.create_labeling_job(**request)
    world.cloud.control.advance_clock(1)
    for name in jobs:
        assert world.cloud.control.workforce(name, label=1)["labeled"] == 1

    [adjusted] = world.output_manifest("adjust")
    assert adjusted["boxes"] == PRIOR_BOXES["boxes"]  # the reviewed label is kept
    assert adjusted["adjusted-boxes-metadata"]["type"] == "groundtruth/object-detection"
    assert adjusted["adjusted-boxes-metadata"]["adjustment-status"] in ("adjusted", "unadjusted")
    assert len(adjusted["adjusted-boxes"]["annotations"]) == 1

    [verified] = world.output_manifest("verify")
    meta = verified["verify-boxes-metadata"]
    assert meta["type"] == "groundtruth/label-verification"
    assert meta["class-name"] == ["cat", "dog", "bird"][verified["verify-boxes"]]

    [segmented] = world.output_manifest("segment")
    meta = segmented["mask-ref-metadata"]
    assert meta["type"] == "groundtruth/semantic-segmentation"
    assert meta["internal-color-map"]["0"]["class-name"] == "BACKGROUND"
    assert [meta["internal-color-map"][str(i)]["class-name"] for i in (1, 2, 3)] == ["cat", "dog", "bird"]
    bucket, _, key = segmented["mask-ref"].removeprefix("s3://").partition("/")
    mask = world.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert mask.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(mask)) as image:  # a mask of the image's size
        assert image.size == (500, 400)


# 9 ---------------------------------------------------------------------------------------------
def test_9_a_message_that_is_not_json_is_counted_and_shown_failed(world: World) -> None:
    """Streaming, "Send Data Objects Using Amazon SNS": "The format of these messages is the same
    as a single line from an input manifest file" (JSON Lines). AWS's streaming notebook publishes
    ``str(dict)``, a Python repr: the job counts it as failed (DescribeLabelingJob LabelCounters)."""
    world.start("python-repr")
    world.sns.publish(TopicArn=world.input_topic, Message=str({"source-ref": "s3://gt-input/a.jpg"}))
    world.cloud.control.tick()

    counters = world.sm.describe_labeling_job(LabelingJobName="python-repr")["LabelCounters"]
    assert counters["FailedNonRetryableError"] == 1 and counters["Unlabeled"] == 0
    [rejected] = world.cloud.control.job("python-repr")["rejected"]
    assert rejected["state"] == "failed" and "not JSON" in rejected["reason"]
    assert rejected["body"] == "{'source-ref': 's3://gt-input/a.jpg'}"
