"""Manifest input: carry-over of labeled lines, order, completion, failures, output formats."""

from __future__ import annotations

import json

from emulator_world import World


def put_manifest(world: World, key: str, lines: list[dict]) -> str:  # type: ignore[type-arg]
    body = "\n".join(json.dumps(line) for line in lines) + "\n"
    world.s3.put_object(Bucket="gt-input", Key=key, Body=body.encode())
    return f"s3://gt-input/{key}"


LABELED = {
    "source-ref": "s3://gt-input/old.jpg",
    "category": 1,
    "category-metadata": {"class-name": "dog", "job-name": "labeling-job/parent", "human-annotated": "yes"},
}


def test_manifest_only_job_completes_when_all_terminal(world: World) -> None:
    uri = put_manifest(world, "m1.manifest", [LABELED, {"source-ref": "s3://gt-input/new.jpg"}])
    world.start("manifest-job", streaming=False, manifest=uri)
    view = world.cloud.control.job("manifest-job")
    assert [(o["source"], o["state"], o["carried"]) for o in view["objects"]] == [
        ("s3://gt-input/old.jpg", "labeled", True),
        ("s3://gt-input/new.jpg", "available", False),
    ]
    assert world.sm.describe_labeling_job(LabelingJobName="manifest-job")["LabelCounters"]["Unlabeled"] == 1
    world.cloud.control.workforce("manifest-job", label=1)
    assert world.status("manifest-job") == "Completed"
    lines = world.output_manifest("manifest-job")
    assert lines[0] == LABELED  # carried over as it was
    assert lines[1]["category-metadata"]["job-name"] == "labeling-job/manifest-job"


def test_chained_streaming_job_sends_manifest_objects_first(world: World) -> None:
    uri = put_manifest(world, "chain.manifest", [LABELED, {"source-ref": "s3://gt-input/pending.jpg"}])
    world.start("child-0001", manifest=uri)
    world.publish({"source-ref": "s3://gt-input/streamed.jpg"})
    world.cloud.control.workforce("child-0001", label=1)
    view = world.cloud.control.job("child-0001")
    assert [(o["source"], o["state"]) for o in view["objects"]] == [
        ("s3://gt-input/old.jpg", "labeled"),
        ("s3://gt-input/pending.jpg", "labeled"),
        ("s3://gt-input/streamed.jpg", "available"),
    ]
    assert world.status("child-0001") == "InProgress"  # streaming jobs do not complete on their own


def test_missing_manifest_fails_the_job(world: World) -> None:
    world.create("no-manifest", streaming=False, manifest="s3://gt-input/absent.manifest")
    world.cloud.control.advance_clock(1)
    described = world.sm.describe_labeling_job(LabelingJobName="no-manifest")
    assert described["LabelingJobStatus"] == "Failed"
    assert "absent.manifest" in described["FailureReason"]


def test_bad_manifest_line_fails_the_job(world: World) -> None:
    world.s3.put_object(Bucket="gt-input", Key="bad.manifest", Body=b'{"source-ref": "s3://x/y"}\nnot json\n')
    world.create("bad-manifest", streaming=False, manifest="s3://gt-input/bad.manifest")
    world.cloud.control.advance_clock(1)
    described = world.sm.describe_labeling_job(LabelingJobName="bad-manifest")
    assert described["LabelingJobStatus"] == "Failed" and "Line 2" in described["FailureReason"]


def test_unreadable_categories_fail_the_job(world: World) -> None:
    request = world.request("no-categories")
    request["LabelCategoryConfigS3Uri"] = "s3://gt-config/missing.json"
    world.sm.create_labeling_job(**request)
    world.cloud.control.advance_clock(1)
    described = world.sm.describe_labeling_job(LabelingJobName="no-categories")
    assert described["LabelingJobStatus"] == "Failed" and "missing.json" in described["FailureReason"]


def test_bounding_box_and_multilabel_formats(world: World) -> None:
    image = world.put_image("a.png", (50, 40))
    uri = put_manifest(world, "formats.manifest", [{"source-ref": image}])
    bbox = "arn:aws:lambda:us-east-1:432418664414:function:PRE-BoundingBox"
    multi = "arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClassMultiLabel"
    world.create("boxes", streaming=False, manifest=uri, PreHumanTaskLambdaArn=bbox)
    world.create("multi", streaming=False, manifest=uri, PreHumanTaskLambdaArn=multi)
    world.cloud.control.advance_clock(1)
    world.cloud.control.workforce("boxes", label=1)
    world.cloud.control.workforce("multi", label=1)
    box = world.output_manifest("boxes")[0]
    assert box["category-metadata"]["type"] == "groundtruth/object-detection"
    annotation = box["category"]["annotations"][0]
    assert set(annotation) == {"class_id", "left", "top", "width", "height"}
    assert box["category-metadata"]["class-map"][str(annotation["class_id"])] in ("cat", "dog", "bird")
    # "Bounding Box Job Output": image_size is the image's; the boxes lie inside it
    assert box["category"]["image_size"] == [{"width": 50, "height": 40, "depth": 3}]
    for b in box["category"]["annotations"]:
        assert b["left"] >= 0 and b["top"] >= 0
        assert b["left"] + b["width"] <= 50 and b["top"] + b["height"] <= 40
    labels = world.output_manifest("multi")[0]
    assert labels["category-metadata"]["type"] == "groundtruth/image-classification-multilabel"
    assert isinstance(labels["category"], list) and labels["category"]


def test_a_box_or_mask_object_whose_image_does_not_load_fails_with_the_reason(world: World) -> None:
    """Boxes and masks are drawn on the image: workers cannot label one that does not load."""
    world.s3.put_object(Bucket="gt-input", Key="not-an-image.jpg", Body=b"text")
    lines = [{"source-ref": "s3://gt-input/missing.jpg"}, {"source-ref": "s3://gt-input/not-an-image.jpg"}]
    uri = put_manifest(world, "unloadable.manifest", lines)
    bbox = "arn:aws:lambda:us-east-1:432418664414:function:PRE-BoundingBox"
    world.create("unloadable", streaming=False, manifest=uri, PreHumanTaskLambdaArn=bbox)
    world.cloud.control.advance_clock(1)
    assert world.cloud.control.workforce("unloadable", label=2) == {"labeled": 0, "declined": 0, "failed": 2}
    out = world.output_manifest("unloadable")
    reasons = [line["category-metadata"]["failure-reason"] for line in out]
    assert all(r.startswith("ClientError: The image could not be loaded: ") for r in reasons)
    assert "NoSuchKey" in reasons[0] and "not an image" in reasons[1]
    assert not any("category" in line for line in out)
    # The setting for what the documentation leaves open: the workers decline it instead
    world.cloud.control.update_settings(unloadable_image="declined")
    again = put_manifest(world, "unloadable-again.manifest", lines[:1])
    world.create("declined", streaming=False, manifest=again, PreHumanTaskLambdaArn=bbox)
    world.cloud.control.advance_clock(1)
    assert world.cloud.control.workforce("declined", label=1) == {"labeled": 0, "declined": 1, "failed": 0}
    [declined] = world.output_manifest("declined")
    assert declined["category-metadata"]["failure-reason"].startswith(
        "ClientError: Every worker assigned to the task declined it. The image could not be loaded: "
    )
