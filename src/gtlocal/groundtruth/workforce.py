"""The simulated workforce: task types and the answer a worker gives for each.

Ground Truth names the task type of a job by its pre-annotation Lambda (``PRE-<TaskType>``,
CreateLabelingJob / HumanTaskConfig.PreHumanTaskLambdaArn). Each answer has the shape of the
"Output Data" page for that type; a custom workflow (a Lambda of yours, ``PRE-PassThrough`` or
none) gets the answer documented in ``src/gtlocal/README.md``. Nothing here calls AWS or knows
the jobs: the backend (``models``) asks for an answer and writes it.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# "Output Data" page, "Confidence Score": one worker per object -> the confidence is 0.00.
SINGLE_WORKER_CONFIDENCE = 0.0


@dataclass(frozen=True)
class TaskType:
    """A task type: ``key`` picks the answer, ``output_type`` is the metadata ``type``."""

    key: str
    output_type: str
    simulated: bool = True
    min_labels: int = 1  # categories the label category file must hold
    # LabelAttributeName must end with "-ref" (else it must not): CreateLabelingJob, LabelAttributeName.
    ref_required: bool = False
    max_task_seconds: int = 28_800  # TaskTimeLimitInSeconds maximum
    categories_required: bool = True
    # The answer depends on the image's size (boxes inside it, a mask of its size): the workers must
    # load the image, and an object whose image does not load fails.
    needs_image: bool = False


CUSTOM = TaskType("custom", "groundTruth/custom", categories_required=False)
_THIRTY_DAYS = 30 * 86_400

# PRE-<suffix> of the built-in pre-annotation Lambdas (HumanTaskConfig.PreHumanTaskLambdaArn).
BUILT_IN: dict[str, TaskType] = {
    "ImageMultiClass": TaskType("classification", "groundtruth/image-classification", min_labels=2),
    "TextMultiClass": TaskType("classification", "groundtruth/text-classification", min_labels=2),
    "ImageMultiClassMultiLabel": TaskType(
        "multilabel", "groundtruth/image-classification-multilabel", min_labels=2
    ),
    "TextMultiClassMultiLabel": TaskType(
        "multilabel", "groundtruth/text-classification-multilabel", min_labels=2
    ),
    "BoundingBox": TaskType("bounding-box", "groundtruth/object-detection", needs_image=True),
    "SemanticSegmentation": TaskType(
        "semantic-segmentation", "groundtruth/semantic-segmentation", ref_required=True, needs_image=True
    ),
    "AdjustmentBoundingBox": TaskType(
        "adjust-bounding-box", "groundtruth/object-detection", needs_image=True
    ),
    "AdjustmentSemanticSegmentation": TaskType(
        "adjust-semantic-segmentation",
        "groundtruth/semantic-segmentation",
        ref_required=True,
        needs_image=True,
    ),
    "VerificationBoundingBox": TaskType("verification", "groundtruth/label-verification"),
    # "verification (VerificationSemanticSegmentation) must not end with -ref"
    "VerificationSemanticSegmentation": TaskType("verification", "groundtruth/label-verification"),
    "PassThrough": CUSTOM,
    # Built-in types the simulated workforce does not label: such a job fails at start.
    "NamedEntityRecognition": TaskType("ner", "groundtruth/text-span", simulated=False),
    "VideoMultiClass": TaskType("video", "groundtruth/video-classification", simulated=False),
    **{
        name: TaskType(
            "video",
            "groundtruth/video",
            simulated=False,
            ref_required=True,
            max_task_seconds=_THIRTY_DAYS,
        )
        for name in (
            "VideoObjectDetection",
            "VideoObjectTracking",
            "AdjustmentVideoObjectDetection",
            "AdjustmentVideoObjectTracking",
        )
    },
    **{
        name: TaskType(
            "point-cloud",
            "groundtruth/point-cloud",
            simulated=False,
            ref_required=not name.endswith("ObjectDetection"),
            max_task_seconds=_THIRTY_DAYS,
        )
        for name in (
            "3DPointCloudObjectDetection",
            "3DPointCloudObjectTracking",
            "3DPointCloudSemanticSegmentation",
            "Adjustment3DPointCloudObjectDetection",
            "Adjustment3DPointCloudObjectTracking",
            "Adjustment3DPointCloudSemanticSegmentation",
        )
    },
}


def task_type_of(pre_lambda_arn: str | None) -> TaskType:
    """The task type named by the pre-annotation Lambda; any other Lambda (or none) is custom."""
    arn = pre_lambda_arn or ""
    _, _, function = arn.rpartition(":function:")
    if function.startswith("PRE-") and function[4:] in BUILT_IN:
        return BUILT_IN[function[4:]]
    return CUSTOM


def iso(ts: float) -> str:
    """``creation-date`` as in the "Output Data" examples (2018-10-18T22:18:13.527256)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclass
class Task:
    """What a worker sees of one data object, and where the answer goes."""

    line: dict[str, Any]  # the data object line (manifest line, SNS message, S3 event object)
    attr: str  # LabelAttributeName
    categories: list[str]
    workers: int  # NumberOfHumanWorkersPerDataObject
    audit_attr: str | None  # the label under review (adjustment / verification)
    region: str
    annotation_prefix: str  # s3://<output>/<job>/annotations/consolidated-annotation/output/<seq>
    # (width, height, depth) of the image, for the task types that need it (``TaskType.needs_image``)
    image_size: tuple[int, int, int] = (1024, 768, 3)
    # The emulator setting verification_last_category_fraction (None: uniform answers).
    last_category_fraction: float | None = None


def image_size(data: bytes) -> tuple[int, int, int]:
    """(width, height, depth) of an image, from its header; ``ValueError`` when it is no image.

    Depth is the number of channels, as ``image_size`` of the bounding-box output
    ("Bounding Box Job Output": ``{"width": 500, "height": 400, "depth": 3}``)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return width, height, len(image.getbands())
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"not an image the workers can load ({exc})") from None


@dataclass
class Answer:
    """The consolidated answer: the label value, its task-specific metadata, files to write."""

    label: Any
    metadata: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def metadata(job_name: str, task: TaskType, at: float) -> dict[str, Any]:
    """The metadata every label carries ("Output Data", "Output Metadata")."""
    return {
        "job-name": f"labeling-job/{job_name.lower()}",
        "type": task.output_type,
        "human-annotated": "yes",
        "creation-date": iso(at),
    }


def answer(task_type: TaskType, task: Task, rng: random.Random) -> Answer:
    """The simulated workers' consolidated answer for one object, as the task type documents it."""
    simulate = _ANSWERS[task_type.key]
    return simulate(task, rng)


def _confidence(task: Task, rng: random.Random) -> float:
    if task.workers <= 1:
        return SINGLE_WORKER_CONFIDENCE
    return round(rng.uniform(0.5, 0.99), 2)


def _classification(task: Task, rng: random.Random) -> Answer:
    index = rng.randrange(len(task.categories))
    return Answer(index, {"class-name": task.categories[index], "confidence": _confidence(task, rng)})


def _multilabel(task: Task, rng: random.Random) -> Answer:
    picks = sorted(rng.sample(range(len(task.categories)), rng.randint(1, min(3, len(task.categories)))))
    return Answer(
        picks,
        {
            "class-map": {str(i): task.categories[i] for i in picks},
            "confidence-map": {str(i): _confidence(task, rng) for i in picks},
        },
    )


def _box(rng: random.Random, width: int, height: int) -> dict[str, int]:
    """A box inside a ``width`` x ``height`` image (pixels, from its top left corner)."""
    left, top = rng.randrange(width), rng.randrange(height)
    return {
        "left": left,
        "top": top,
        "width": rng.randint(1, width - left),
        "height": rng.randint(1, height - top),
    }


def _boxes(task: Task, rng: random.Random) -> list[dict[str, int]]:
    width, height, _ = task.image_size
    return [
        {"class_id": rng.randrange(len(task.categories)), **_box(rng, width, height)}
        for _ in range(rng.randint(1, 3))
    ]


def _box_answer(
    task: Task, rng: random.Random, boxes: list[dict[str, int]], class_map: dict[str, str]
) -> Answer:
    width, height, depth = task.image_size
    return Answer(
        {"image_size": [{"width": width, "height": height, "depth": depth}], "annotations": boxes},
        {
            "objects": [{"confidence": _confidence(task, rng)} for _ in boxes],
            "class-map": {str(b["class_id"]): class_map[str(b["class_id"])] for b in boxes},
        },
    )


def _category_map(task: Task) -> dict[str, str]:
    return {str(i): name for i, name in enumerate(task.categories)}


def _bounding_box(task: Task, rng: random.Random) -> Answer:
    return _box_answer(task, rng, _boxes(task, rng), _category_map(task))


def _adjust_bounding_box(task: Task, rng: random.Random) -> Answer:
    """A worker moves the first box of the label under review, or leaves it ("adjustment-status")."""
    prior = task.line.get(task.audit_attr or "")
    prior_meta = task.line.get(f"{task.audit_attr}-metadata")
    class_map = _category_map(task)
    if isinstance(prior_meta, dict) and isinstance(prior_meta.get("class-map"), dict):
        class_map = {**{str(k): str(v) for k, v in prior_meta["class-map"].items()}, **class_map}
    if isinstance(prior, dict) and isinstance(prior.get("annotations"), list) and prior["annotations"]:
        boxes = [dict(box) for box in prior["annotations"]]
        adjusted = rng.random() < 0.5
        if adjusted:
            boxes[0]["left"] = max(0, int(boxes[0].get("left", 0)) + rng.choice((-5, -1, 1, 5)))
        for box in boxes:
            class_map.setdefault(str(box.get("class_id")), str(box.get("class_id")))
        # The worker sees the image: a box reaching past its edges is pulled inside them.
        width, height, _ = task.image_size
        fitted = [_fit(box, width, height) for box in boxes]
        adjusted = adjusted or fitted != boxes
        boxes = fitted
    else:  # nothing to review: the worker draws the boxes
        boxes, adjusted = _boxes(task, rng), True
    result = _box_answer(task, rng, boxes, class_map)
    result.metadata["adjustment-status"] = "adjusted" if adjusted else "unadjusted"
    return result


def _fit(box: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    """``box`` inside a ``width`` x ``height`` image (at least one pixel)."""
    left = min(max(0, int(box.get("left", 0))), width - 1)
    top = min(max(0, int(box.get("top", 0))), height - 1)
    return {
        **box,
        "left": left,
        "top": top,
        "width": min(max(1, int(box.get("width", 1))), width - left),
        "height": min(max(1, int(box.get("height", 1))), height - top),
    }


_PALETTE = ("#2acf59", "#f28333", "#1f77b4", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22")
BACKGROUND_HEX = "#ffffff"


def mask_png(width: int, height: int, regions: list[tuple[str, dict[str, int]]]) -> bytes:
    """An RGB PNG mask of ``width`` x ``height``: background white, each (hex colour, box) painted."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), BACKGROUND_HEX)
    draw = ImageDraw.Draw(image)
    for color, box in regions:
        right, bottom = box["left"] + box["width"] - 1, box["top"] + box["height"] - 1
        draw.rectangle((box["left"], box["top"], right, bottom), fill=color)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _semantic_segmentation(task: Task, rng: random.Random) -> Answer:
    """A PNG mask of the image's size (S3 URI as the label) and its ``internal-color-map``
    ("Semantic Segmentation Job Output": class 0 is ``BACKGROUND``, ``#ffffff``)."""
    confidence = _confidence(task, rng)  # "Confidence scores are the same across all classes"
    color_map: dict[str, dict[str, Any]] = {
        "0": {"class-name": "BACKGROUND", "confidence": confidence, "hex-color": BACKGROUND_HEX}
    }
    for i, name in enumerate(task.categories, start=1):
        color_map[str(i)] = {
            "class-name": name,
            "confidence": confidence,
            "hex-color": _PALETTE[(i - 1) % len(_PALETTE)],
        }
    width, height, _ = task.image_size
    painted = [
        (color_map[str(rng.randint(1, len(task.categories)))]["hex-color"], _box(rng, width, height))
        for _ in range(rng.randint(1, 3))
    ]
    mask = f"{task.annotation_prefix}/{task.attr}.png"
    return Answer(mask, {"internal-color-map": color_map}, {mask: mask_png(width, height, painted)})


def _adjust_semantic_segmentation(task: Task, rng: random.Random) -> Answer:
    """The worker repaints the reviewed mask, or leaves it ("adjustment-status")."""
    result = _semantic_segmentation(task, rng)
    result.metadata["adjustment-status"] = "adjusted" if rng.random() < 0.5 else "unadjusted"
    return result


def _verification(task: Task, rng: random.Random) -> Answer:
    index = rng.randrange(len(task.categories))
    last = len(task.categories) - 1
    if task.last_category_fraction is not None and last > 0:
        index = last if rng.random() < task.last_category_fraction else rng.randrange(last)
    return Answer(index, {"class-name": task.categories[index], "confidence": _confidence(task, rng)})


def _custom(task: Task, rng: random.Random) -> Answer:
    """Custom workflow, answered as PRE-PassThrough and ACS-PassThrough would carry it.

    ``taskInput`` is the data object line (the documented basic pre-annotation Lambda returns
    ``{"taskInput": event["dataObject"]}``); each worker submits that ``taskInput`` back as the
    ``content`` of its annotation, and the consolidated label lists every worker's annotation under
    ``annotationsFromAllWorkers`` (the post-annotation Lambda of aws-sagemaker-ground-truth-recipe).
    """
    annotations = [
        {
            "workerId": f"private.{task.region}.{rng.getrandbits(64):016x}",
            "annotationData": {"content": json.dumps(task.line, sort_keys=True)},
        }
        for _ in range(max(1, task.workers))
    ]
    return Answer({"annotationsFromAllWorkers": annotations}, {})


_ANSWERS = {
    "classification": _classification,
    "multilabel": _multilabel,
    "bounding-box": _bounding_box,
    "semantic-segmentation": _semantic_segmentation,
    "adjust-bounding-box": _adjust_bounding_box,
    "adjust-semantic-segmentation": _adjust_semantic_segmentation,
    "verification": _verification,
    "custom": _custom,
}


def audit_attribute(line: dict[str, Any], attr: str, declared: str | None) -> str | None:
    """The label an adjustment/verification worker reviews: the label category file's
    ``auditLabelAttributeName``, else the first ``<x>`` of the line with an ``<x>-metadata``."""
    if declared:
        return declared
    for key in line:
        if key not in (attr, "source", "source-ref") and f"{key}-metadata" in line:
            return key
    return None
