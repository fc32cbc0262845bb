"""Ground Truth's documented output lines per task type, and the shape they are compared by.

The examples are those of the "Output Data" page of the SageMaker developer guide
(https://docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html): "Classification Job
Output", "Multi-label Classification Job Output", "Bounding Box Job Output", "Semantic Segmentation
Job Output", "Label Verification Job Output" (``worker-feedback`` left out: only when workers give
feedback) and "Adjustment job output" (``adjustment-status``),
with each example's label attribute renamed to ``LABEL`` (the page names it after each job).

``shape`` reduces a line to its keys and value types, so that an output line of the emulator (or
of AWS) is compared with the documentation's example by structure, not by values: a dict whose keys
are all class indexes ("0", "5") is a map, compared by the shape of its values.
"""

from __future__ import annotations

from typing import Any

LABEL = "LABEL"

_META = {
    "human-annotated": "yes",
    "creation-date": "2018-10-18T22:18:13.527256",
    "job-name": "labeling-job/x",
}

DOCUMENTED: dict[str, dict[str, Any]] = {
    "image-classification": {
        "source-ref": "s3://AWSDOC-EXAMPLE-BUCKET/example_image.jpg",
        LABEL: 0,
        f"{LABEL}-metadata": {
            **_META,
            "confidence": 0.78,
            "class-name": "dog",
            "type": "groundtruth/image-classification",
        },
    },
    "image-multilabel-classification": {
        "source-ref": "s3://AWSDOC-EXAMPLE-BUCKET/example_image.jpg",
        LABEL: [1, 5],
        f"{LABEL}-metadata": {
            **_META,
            "class-map": {"1": "Bicycle", "5": "Street"},
            "confidence-map": {"1": 0.95, "5": 0.77},
            "type": "groundtruth/image-classification-multilabel",
        },
    },
    "bounding-box": {
        "source-ref": "s3://AWSDOC-EXAMPLE-BUCKET/example_image.png",
        LABEL: {
            "image_size": [{"width": 500, "height": 400, "depth": 3}],
            "annotations": [
                {"class_id": 0, "left": 111, "top": 134, "width": 61, "height": 128},
                {"class_id": 5, "left": 161, "top": 250, "width": 30, "height": 30},
            ],
        },
        f"{LABEL}-metadata": {
            **_META,
            "objects": [{"confidence": 0.8}, {"confidence": 0.9}],
            "class-map": {"0": "dog", "5": "bone"},
            "type": "groundtruth/object-detection",
        },
    },
    "semantic-segmentation": {
        "source-ref": "s3://AWSDOC-EXAMPLE-BUCKET/example_city_image.png",
        f"{LABEL}-ref": "s3://AWSDOC-EXAMPLE-BUCKET/output/labeling-job/annotations/mask.png",
        f"{LABEL}-ref-metadata": {
            **_META,
            "internal-color-map": {
                "0": {"class-name": "BACKGROUND", "confidence": 0.9, "hex-color": "#ffffff"},
                "1": {"class-name": "buildings", "confidence": 0.9, "hex-color": "#2acf59"},
            },
            "type": "groundtruth/semantic-segmentation",
        },
    },
    "bounding-box-verification": {
        "source-ref": "s3://AWSDOC-EXAMPLE-BUCKET/example_image.png",
        LABEL: 1,
        f"{LABEL}-metadata": {
            **_META,
            "class-name": "bad",
            "confidence": 0.93,
            "type": "groundtruth/label-verification",
        },
    },
}
# Adjustment jobs: the reviewed type's label, and "adjustment-status" in the metadata ("Adjustment
# job output": "adjusted" or "unadjusted").
for _reviewed in ("bounding-box", "semantic-segmentation"):
    _example = {k: v for k, v in DOCUMENTED[_reviewed].items()}
    _meta_key = next(k for k in _example if k.endswith("-metadata"))
    _example[_meta_key] = {**_example[_meta_key], "adjustment-status": "adjusted"}
    DOCUMENTED[f"{_reviewed}-adjustment"] = _example


def label_keys(task_type: str) -> tuple[str, str]:
    """The label attribute of the documented example of ``task_type`` and its metadata key."""
    attr = f"{LABEL}-ref" if task_type.startswith("semantic-segmentation") else LABEL
    return attr, f"{attr}-metadata"


def shape(value: Any) -> Any:
    """Keys and value types of ``value``: dicts by key (index-keyed dicts as one ``<index>`` entry),
    lists by the shapes of their items, numbers as "number", strings as "string"."""
    if isinstance(value, dict):
        if value and all(isinstance(k, str) and k.isdigit() for k in value):
            return {"<index>": _union(shape(v) for v in value.values())}
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_union(shape(v) for v in value)] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _union(shapes: Any) -> Any:
    distinct = []
    for item in shapes:
        if item not in distinct:
            distinct.append(item)
    return distinct[0] if len(distinct) == 1 else distinct


def label_shape_problems(task_type: str, line: dict[str, Any], attr: str) -> list[str]:
    """How the label ``attr`` of an output line differs in shape from the documented example."""
    doc_attr, doc_meta = label_keys(task_type)
    example = DOCUMENTED[task_type]
    problems = []
    if "source-ref" not in line:
        problems.append("no source-ref")
    for ours, theirs in ((attr, doc_attr), (f"{attr}-metadata", doc_meta)):
        if ours not in line:
            problems.append(f"no {ours}")
        elif shape(line[ours]) != shape(example[theirs]):
            problems.append(f"{ours}: {shape(line[ours])} is not the documented {shape(example[theirs])}")
    return problems
