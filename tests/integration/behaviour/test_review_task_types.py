"""Every review task type, end to end on the local cloud as a review stage: drop, label, review,
expire, chain.

Per review type one stage pair of SDK deployments (``rv``, and ``rv-review``: ``Stage.after(rv)``,
fed by rv's output topic, rejected objects relabeled in rv), made once for the module and cleaned
before each test. Both stages are published by the real publisher (``scripts/publish_instructions.py``,
each type's starter template). Then:
- two images (of different sizes) are dropped in stage 1 and labeled there; stage 2 gets both;
- stage 2's job is created with the review type's built-in Lambdas (``PRE-``/``ACS-`` of the region,
  HumanTaskConfig, docs.aws.amazon.com/sagemaker/latest/APIReference/API_HumanTaskConfig.html), its
  ``LabelAttributeName`` and its starter template, which rendered with stage 2's data object line
  holds the type's crowd element with its fields (an adjustment's ``initial-value`` shows the
  earlier label: sms-ui-template-crowd-bounding-box.html, sms-ui-template-crowd-semantic-segmentation.html);
- one image is reviewed; its output line has the shape and keys of the "Output Data" example of the
  type (docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html, ``tests/documented_outputs.py``:
  "Label Verification Job Output", "Adjustment job output"); adjusted boxes lie inside the image, an
  adjusted mask is a PNG of its size; the stage records the verdict its ``review`` rule gives;
- stage 2's job expires (the emulated clock, 30 days) with the other image unreviewed: stage 2
  chains exactly once, the chained job's input manifest keeps the earlier review as it was and
  re-offers the other image, which the chained job reviews.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.documented_outputs import label_shape_problems

from gtcontract import task_template
from gtcontract.project_config import TASK_TYPES
from gtlocal.deploy import Stage, deploy_project
from gtlocal.testing import LocalCloud, clean_project, reset_local_cloud

from .conftest import INITIALIZING_SECONDS, Project, image_bytes
from .test_task_types import ATTRIBUTES, SIZES, check_label, job_template, output_lines, publish, read_s3

HOUR = 3600
# (stage 1's task type, stage 2's review type, stage 2's label attribute, categories, review rule)
REVIEWS = {
    "bounding-box-verification": ("bounding-box", "verdict", ["good", "bad"], {"accept": ["good"]}),
    "bounding-box-adjustment": ("bounding-box", "adjusted", None, {"accept": ["unadjusted"]}),
    "semantic-segmentation-adjustment": (
        "semantic-segmentation",
        "adjusted-ref",
        None,
        {"accept": ["unadjusted"]},
    ),
}


@pytest.fixture(name="pair", scope="module")
def _pair(local_cloud: LocalCloud) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    reset_local_cloud(local_cloud)
    env = {"PENDING_STALE_SECONDS": "0"}
    label = deploy_project("rv", region=local_cloud.region, environment=env)
    review = deploy_project("rv-review", region=local_cloud.region, environment=env, stage=Stage.after(label))
    yield label, review
    reset_local_cloud(local_cloud)  # the next module deploys its own project on a clean cloud


def _manifest(stage: Project, index: int) -> list[dict[str, Any]]:
    bucket = stage.deployment["buckets"]["input"]
    body = read_s3(stage, f"s3://{bucket}/manifests/{stage.job_name(index)}/input.manifest")
    return [json.loads(line) for line in body.splitlines()]


def _check_review(
    stage: Project, review_type: str, attr: str, line: dict[str, Any], categories: list[str], reviewed: str
) -> None:
    """The review label of ``line`` is what the type documents, and fits the image it reviews."""
    assert label_shape_problems(review_type, line, attr) == []
    meta = line[f"{attr}-metadata"]
    assert meta["type"] == TASK_TYPES[review_type].output_type and meta["human-annotated"] == "yes"
    assert reviewed in line and f"{reviewed}-metadata" in line  # the reviewed label is kept beside it
    if review_type == "bounding-box-verification":
        assert meta["class-name"] == categories[line[attr]]
        return
    assert meta["adjustment-status"] in ("adjusted", "unadjusted")
    # an adjustment's label is the reviewed type's label (its shape checked above, with
    # "adjustment-status"): boxes inside the image, a mask of its size, the categories' class names
    reviewed_type = REVIEWS[review_type][0]
    as_labeled = {k: v for k, v in meta.items() if k != "adjustment-status"}
    name = ATTRIBUTES[reviewed_type]
    check_label(stage, reviewed_type, {**line, name: line[attr], f"{name}-metadata": as_labeled}, categories)


@pytest.mark.parametrize("review_type", list(REVIEWS))
def test_each_review_type_reviews_a_stage_expires_and_chains_with_its_reviews_kept(
    pair: tuple[dict[str, Any], dict[str, Any]], local_cloud: LocalCloud, tmp_path: Path, review_type: str
) -> None:
    for document in pair:
        clean_project(local_cloud, document)
    label, review = (Project(document, local_cloud) for document in pair)
    cloud = local_cloud
    cloud.control.update_settings(initializing_seconds=INITIALIZING_SECONDS)
    cloud.control.update_settings(verification_last_category_fraction=0.0)  # verifiers answer "good"
    labeled_type, attr, answers, rule = REVIEWS[review_type]
    reviewed = ATTRIBUTES[labeled_type]

    # Given stage 1 labeling the reviewed type, stage 2 reviewing its labels (rejected: relabeled)
    categories = publish(label, tmp_path, labeled_type)["categories"]
    config = publish(
        review,
        tmp_path,
        review_type,
        label_attribute_name=attr,
        categories=answers or categories,
        audit_label_attribute_name=reviewed,
        review={**rule, "on_reject": "relabel"},
        examples=[],
    )
    review_categories = config["categories"]
    # ... two images of different sizes dropped in stage 1 and labeled there
    for seed, size in enumerate(SIZES):
        label.drop(f"review/{seed}.png", image_bytes(seed, size, "PNG"))
    label.run()
    label.start_job_running(1)
    assert cloud.control.workforce(label.job_name(1), label=2)["labeled"] == 2
    label.run()  # stage 1 records its labels
    review.run()  # stage 2 takes stage 1's output lines (its intake queue, subscribed): its job is created
    review.start_job_running(1)

    # Then stage 2's job is the review type's: built-in Lambdas, its attribute, its template
    template = job_template(review, 1, review_type, attr)
    # (the data object lines stage 2 sent to its job: stage 1's output lines, their labels kept)
    sent = [json.loads(o["input_line"]) for o in review.objects() if o["state"] == "SENT"]
    assert len(sent) == 2 and all(reviewed in line for line in sent)
    data_object = sent[0]
    rendered = task_template.render_task(
        template, task_template.sample_task_input(data_object["source-ref"], review_categories, data_object)
    )
    assert task_template.crowd_element_problems(rendered, review_type, review_categories) == []
    if review_type == "bounding-box-adjustment":  # the worker starts from the earlier boxes
        for box in data_object[reviewed]["annotations"]:
            assert f"left: {box['left']}, top: {box['top']}" in rendered
    elif review_type == "semantic-segmentation-adjustment":  # ... from the earlier mask
        assert task_template.presigned_stand_in(data_object[reviewed]) in rendered

    # When one image is reviewed
    assert cloud.control.workforce(review.job_name(1), label=1)["labeled"] == 1
    [done] = [line for line in output_lines(review, 1) if attr in line]
    _check_review(review, review_type, attr, done, review_categories, reviewed)
    review.run()
    # Then stage 2 records the verdict of its rule
    answer = done[f"{attr}-metadata"].get("class-name") or done[f"{attr}-metadata"]["adjustment-status"]
    verdict = "accepted" if answer in rule["accept"] else "rejected"
    objects = {str(o["input_uri"]): o for o in review.objects()}
    assert objects[done["source-ref"]]["verdict"] == verdict

    # When stage 2's job expires with the other image unreviewed
    cloud.control.update_settings(idle_stop_seconds=90 * 86400)
    settings = cloud.control.settings()
    cloud.control.advance_clock(settings["job_expiry_seconds"] + HOUR)
    assert cloud.control.job(review.job_name(1))["status"] == settings["expiry_status"]
    review.run(reconcile=True)

    # Then stage 2 chains exactly once: the earlier review kept as it was, the other image re-offered
    assert [job for job in review.jobs() if job.startswith(f"{review.prefix}-")] == [
        review.job_name(1),
        review.job_name(2),
    ]
    lines = _manifest(review, 2)
    kept = [line for line in lines if attr in line]
    assert len(lines) == 2 and len(kept) == 1
    assert kept[0][attr] == done[attr] and kept[0][f"{attr}-metadata"] == done[f"{attr}-metadata"]
    review.start_job_running(2)
    assert review.label_all(2) == 1
    [again] = [
        line for line in output_lines(review, 2) if attr in line and line["source-ref"] != done["source-ref"]
    ]
    _check_review(review, review_type, attr, again, review_categories, reviewed)
