"""Every built-in image task type, end to end on the local cloud: drop, label, expire, chain.

Per task type the project is published by the real publisher (``scripts/publish_instructions.py``:
the starter template of the type, ``instructions/templates/<type>.liquid.html``), then:
- the job is created with the type's built-in Lambdas (``PRE-``/``ACS-`` of the region,
  HumanTaskConfig, docs.aws.amazon.com/sagemaker/latest/APIReference/API_HumanTaskConfig.html),
  its ``LabelAttributeName`` and the published template, which holds the type's crowd element;
- one of two images is labeled; its output line has the shape and keys of the "Output Data"
  example of the type (docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html,
  ``tests/documented_outputs.py``); boxes lie inside the image, a mask is a PNG of its size;
- the job expires; the chained job's input manifest keeps the earlier label as it was, and
  re-offers the other image, which the chained job labels.

And the export of the emulator's own labels (bounding boxes, segmentation masks): ``gtctl export``
through its click entry point, the COCO file loaded by ``pycocotools`` and checked against the
ledger's labels (boxes) and the masks read back from S3 (pixel for pixel per class), the augmented
manifest one line per selected ledger object with its drop keys. In this module to share its
deployment.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools.coco import COCO
from tests.documented_outputs import label_shape_problems

from gtcontract import task_template
from gtcontract.project_config import TASK_TYPES
from gtctl.__main__ import cli

from .conftest import Project, image_bytes

ROOT = Path(__file__).resolve().parents[3]
HOUR = 3600
ATTRIBUTES = {
    "image-classification": "animal",
    "image-multilabel-classification": "animals",
    "bounding-box": "boxes",
    "semantic-segmentation": "mask-ref",
}
SIZES = [(96, 64), (40, 72)]  # distinct image sizes: boxes and masks follow each image's own


def publish(project: Project, tmp_path: Path, task_type: str, **fields: Any) -> dict[str, Any]:
    """The instructions repository set to ``task_type`` (and ``fields`` of its project.json: a
    review type's ``label_attribute_name``, ``categories``, ``audit_label_attribute_name``,
    ``review``), published by the pipeline's publisher."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import publish_instructions as pub

    source = tmp_path / f"instructions-{project.prefix}"
    shutil.copytree(ROOT / "instructions", source)
    spec = json.loads((source / "project.json").read_text())
    spec.update({"task_type": task_type, "label_attribute_name": ATTRIBUTES.get(task_type), **fields})
    (source / "project.json").write_text(json.dumps(spec))
    document = project.deployment
    team = f"arn:aws:sagemaker:{document['region']}:{document['account_id']}:workteam/private-crowd/test-team"
    loaded = pub.load_project(source, {"GT_DEFAULT_WORKTEAM_ARN": team})
    uploads, config = pub.render(
        source,
        loaded,
        bucket=document["buckets"]["instructions"],
        region=document["region"],
        version=f"v-{task_type}",
        public=True,
    )
    pub.publish(uploads, document["buckets"]["instructions"], project.s3())
    return config


def read_s3(project: Project, uri: str) -> bytes:
    bucket, _, key = uri[5:].partition("/")
    body: bytes = project.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def output_lines(project: Project, index: int) -> list[dict[str, Any]]:
    sm = boto3.client("sagemaker", region_name=project.deployment["region"])
    desc = sm.describe_labeling_job(LabelingJobName=project.job_name(index))
    body = read_s3(project, desc["LabelingJobOutput"]["OutputDatasetS3Uri"])
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def job_template(project: Project, index: int, task_type: str, attr: str) -> str:
    """The template of the project's job ``index``, once its request is checked to be the task
    type's: the built-in Lambdas of the region and the label attribute ``attr``."""
    sm = boto3.client("sagemaker", region_name=project.deployment["region"])
    desc = sm.describe_labeling_job(LabelingJobName=project.job_name(index))
    human = desc["HumanTaskConfig"]
    suffix = TASK_TYPES[task_type].builtin_suffix
    assert human["PreHumanTaskLambdaArn"].endswith(f":function:PRE-{suffix}")
    assert human["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"].endswith(
        f":function:ACS-{suffix}"
    )
    assert desc["LabelAttributeName"] == attr
    return read_s3(project, human["UiConfig"]["UiTemplateS3Uri"]).decode()


def check_label(project: Project, task_type: str, line: dict[str, Any], categories: list[str]) -> None:
    """The label of ``line`` is what the task type documents, and fits the image it labels."""
    attr = ATTRIBUTES[task_type]
    assert label_shape_problems(task_type, line, attr) == []
    meta = line[f"{attr}-metadata"]
    assert meta["type"] == TASK_TYPES[task_type].output_type and meta["human-annotated"] == "yes"
    label = line[attr]
    width, height = Image.open(io.BytesIO(read_s3(project, line["source-ref"]))).size
    if task_type == "image-classification":
        assert meta["class-name"] == categories[label]
    elif task_type == "image-multilabel-classification":
        assert meta["class-map"] == {str(i): categories[i] for i in label}
    elif task_type == "bounding-box":
        assert label["image_size"] == [{"width": width, "height": height, "depth": 3}]
        for box in label["annotations"]:
            assert box["left"] >= 0 and box["left"] + box["width"] <= width
            assert box["top"] >= 0 and box["top"] + box["height"] <= height
            assert meta["class-map"][str(box["class_id"])] == categories[box["class_id"]]
    else:
        names = {k: v["class-name"] for k, v in meta["internal-color-map"].items()}
        assert names == {"0": "BACKGROUND", **{str(i + 1): c for i, c in enumerate(categories)}}
        with Image.open(io.BytesIO(read_s3(project, label))) as mask:
            assert (mask.format, mask.size) == ("PNG", (width, height))


@pytest.mark.parametrize("task_type", list(ATTRIBUTES))
def test_each_task_type_is_labeled_expired_and_chained_with_its_labels_kept(
    project: Project, tmp_path: Path, task_type: str
) -> None:
    # Given the project published for the task type, and two images of different sizes dropped
    config = publish(project, tmp_path, task_type)
    categories, attr = config["categories"], ATTRIBUTES[task_type]
    for seed, size in enumerate(SIZES):
        project.drop(f"types/{seed}.png", image_bytes(seed, size, "PNG"))
    project.run()
    project.start_job_running(1)

    # Then the job is the type's: built-in Lambdas of the region, its attribute, its template
    sm = boto3.client("sagemaker", region_name=project.deployment["region"])
    template = job_template(project, 1, task_type, attr)
    rendered = task_template.render_task(
        template, task_template.sample_task_input("s3://b/a.png", categories)
    )
    assert task_template.crowd_element_problems(rendered, task_type, categories) == []

    # When one image is labeled, then the job expires with the other unlabeled
    assert project.cloud.control.workforce(project.job_name(1), label=1)["labeled"] == 1
    [labeled] = [line for line in output_lines(project, 1) if attr in line]
    check_label(project, task_type, labeled, categories)
    project.cloud.control.update_settings(idle_stop_seconds=90 * 86400)
    project.advance(project.emulator["job_expiry_seconds"] + HOUR)
    assert project.cloud.control.job(project.job_name(1))["status"] == project.emulator["expiry_status"]
    project.run(reconcile=True)

    # Then one chained job gets the earlier label as it was, and the other image to label
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    manifest = read_s3(
        project,
        f"s3://{project.deployment['buckets']['input']}/manifests/{project.job_name(2)}/input.manifest",
    )
    lines = [json.loads(line) for line in manifest.splitlines()]
    kept = [line for line in lines if attr in line]
    assert len(lines) == 2 and len(kept) == 1
    assert kept[0][attr] == labeled[attr] and kept[0][f"{attr}-metadata"] == labeled[f"{attr}-metadata"]
    project.start_job_running(2)
    assert sm.describe_labeling_job(LabelingJobName=project.job_name(2))["LabelAttributeName"] == attr
    assert project.label_all(2) == 1
    [relabeled] = [
        line
        for line in output_lines(project, 2)
        if attr in line and line["source-ref"] != labeled["source-ref"]
    ]
    check_label(project, task_type, relabeled, categories)

    # And when it stops, both images are LABELED in the ledger with their task type's label
    sm.stop_labeling_job(LabelingJobName=project.job_name(2))
    project.advance(5)
    project.run(reconcile=True)
    objects = project.objects()
    assert Counter(o["state"] for o in objects) == {"LABELED": 2} and project.lost() == []
    assert all(attr in json.loads(o["label"]) for o in objects)


def export(project: Project, tmp_path: Path, output: str, *args: str) -> Path:
    """``gtctl --deployment <document> export --output <output> ARGS``, as a user runs it."""
    document = tmp_path / "deployment.json"
    document.write_text(json.dumps(project.deployment))
    path = tmp_path / output
    result = CliRunner().invoke(cli, ["--deployment", str(document), "export", "--output", str(path), *args])
    assert result.exit_code == 0, result.output
    assert "left out" not in result.stderr, result.stderr  # every selected object was written
    return path


def check_coco_image(
    project: Project, task_type: str, annotations: list[dict[str, Any]], label: Any, coco: COCO
) -> None:
    """The COCO annotations of one image are its ledger label: the same boxes, or the mask read
    back from S3 pixel for pixel per class."""
    attr = ATTRIBUTES[task_type]
    meta = label[f"{attr}-metadata"]
    if task_type == "bounding-box":
        boxes = label[attr]["annotations"]
        assert [(a["category_id"], a["bbox"]) for a in annotations] == [
            (b["class_id"], [b["left"], b["top"], b["width"], b["height"]]) for b in boxes
        ]
        return
    with Image.open(io.BytesIO(read_s3(project, label[attr]))) as mask:
        pixels = np.asarray(mask.convert("RGB"))
    colors = {
        int(k): tuple(int(v["hex-color"][i : i + 2], 16) for i in (1, 3, 5))
        for k, v in meta["internal-color-map"].items()
    }
    painted = {class_id: np.all(pixels == color, axis=-1) for class_id, color in colors.items()}
    assert np.logical_or.reduce(list(painted.values())).all()  # every pixel is a class of the map
    expected = {class_id: m for class_id, m in painted.items() if class_id != 0 and m.any()}
    decoded = {a["category_id"]: coco.annToMask(a).astype(bool) for a in annotations}
    assert set(decoded) == set(expected) and len(annotations) == len(expected)
    for class_id, m in expected.items():
        assert np.array_equal(decoded[class_id], m), f"class {class_id} differs from the mask"


@pytest.mark.parametrize("task_type", ["bounding-box", "semantic-segmentation"])
def test_export_of_the_emulators_labels_loads_in_pycocotools_and_matches_the_ledger(
    project: Project, tmp_path: Path, task_type: str
) -> None:
    # Given three images (one dropped under two keys), two labeled by the simulated workforce
    publish(project, tmp_path, task_type)
    sizes = [(96, 64), (40, 72), (57, 33)]
    for seed, size in enumerate(sizes):
        project.drop(f"export/{seed}.png", image_bytes(seed, size, "PNG"))
    project.drop("again/0.png", image_bytes(0, sizes[0], "PNG"))
    project.run()
    project.start_job_running(1)
    assert project.cloud.control.workforce(project.job_name(1), label=2)["labeled"] == 2
    sm = boto3.client("sagemaker", region_name=project.deployment["region"])
    sm.stop_labeling_job(LabelingJobName=project.job_name(1))
    project.advance(5)
    project.run(reconcile=True)
    objects = {str(o["input_uri"]): o for o in project.objects()}
    labels = {uri: json.loads(o["label"]) for uri, o in objects.items() if o["state"] == "LABELED"}
    assert len(objects) == 3 and len(labels) == 2

    # When the dataset is exported as COCO and as augmented manifests (accepted, then all)
    coco = COCO(str(export(project, tmp_path, "d.coco.json", "--format", "coco")))
    every = COCO(str(export(project, tmp_path, "all.coco.json", "--format", "coco", "--objects", "all")))
    accepted = [json.loads(line) for line in export(project, tmp_path, "d.manifest").read_text().splitlines()]
    everything = [
        json.loads(line)
        for line in export(project, tmp_path, "all.manifest", "--objects", "all").read_text().splitlines()
    ]

    # Then COCO has one image per labeled object, at its size, with its label's annotations
    images = {image["source-ref"]: image for image in coco.dataset["images"]}
    assert set(images) == set(labels)
    for uri, label in labels.items():
        image = images[uri]
        with Image.open(io.BytesIO(read_s3(project, uri))) as original:
            assert (image["width"], image["height"]) == original.size
        assert image["drop-keys"] == sorted(objects[uri]["drop_keys"])
        check_coco_image(project, task_type, coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]])), label, coco)
    assert coco.getAnnIds()  # the workforce drew something: the comparison above was not empty
    # ... and with --objects all, the unlabeled image too, without annotations, at its own size
    [unlabeled] = [image for image in every.dataset["images"] if image["source-ref"] not in labels]
    with Image.open(io.BytesIO(read_s3(project, unlabeled["source-ref"]))) as original:
        assert (unlabeled["width"], unlabeled["height"]) == original.size
    assert unlabeled["export-status"] == "unlabeled" and every.getAnnIds(imgIds=[unlabeled["id"]]) == []
    assert len(every.getAnnIds()) == len(coco.getAnnIds())

    # And each manifest has one line per selected ledger object: its label as the ledger keeps it
    # and its drop keys
    assert len(accepted) == len({line["source-ref"] for line in accepted}) == 2
    assert {line["source-ref"]: line for line in accepted} == {
        uri: {"source-ref": uri, **label, "drop-keys": sorted(objects[uri]["drop_keys"])}
        for uri, label in labels.items()
    }
    assert len(everything) == len({line["source-ref"] for line in everything}) == 3
    for line in everything:
        uri = line["source-ref"]
        status = "accepted" if uri in labels else "unlabeled"
        expected = {"source-ref": uri, **labels.get(uri, {}), "drop-keys": sorted(objects[uri]["drop_keys"])}
        assert line == {**expected, "export-status": status}
    assert sorted(key for line in everything for key in line["drop-keys"]) == sorted(
        ["again/0.png", *(f"export/{seed}.png" for seed in range(3))]
    )
