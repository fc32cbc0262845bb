"""The simulated workforce's answers: the "Output Data" shape of each image task type, boxes inside
the image and masks of its size (docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image
from tests.documented_outputs import label_shape_problems

from gtcontract.project_config import TASK_TYPES
from gtlocal.groundtruth import workforce

CATEGORIES = ["cat", "dog", "bird"]
PRIOR = {  # the earlier label a review task type reviews
    "boxes": {
        "image_size": [{"width": 50, "height": 40, "depth": 3}],
        "annotations": [{"class_id": 1, "left": 3, "top": 4, "width": 5, "height": 6}],
    },
    "boxes-metadata": {"class-map": {"1": "dog"}, "type": "groundtruth/object-detection"},
}


def task(attr: str, size: tuple[int, int, int], line: dict[str, object] | None = None) -> workforce.Task:
    return workforce.Task(
        line=line or {"source-ref": "s3://in/a.png"},
        attr=attr,
        categories=CATEGORIES,
        workers=1,
        audit_attr=None,
        region="us-east-1",
        annotation_prefix="s3://out/job/annotations/consolidated-annotation/output/0",
        image_size=size,
    )


@pytest.mark.parametrize("task_type", list(TASK_TYPES))
@pytest.mark.parametrize("size", [(1, 1, 3), (7, 300, 3), (640, 2, 1)])
def test_each_types_answer_has_the_documented_shape_and_fits_the_image(
    task_type: str, size: tuple[int, int, int]
) -> None:
    row = TASK_TYPES[task_type]
    simulated = workforce.BUILT_IN[row.builtin_suffix]
    assert simulated.output_type == row.output_type and simulated.ref_required == row.label_attribute_ref
    attr = "label-ref" if row.label_attribute_ref else "label"
    reviewed = {"source-ref": "s3://in/a.png", **PRIOR} if row.reviews else None
    for seed in range(20):
        t = task(attr, size, reviewed)
        t.audit_attr = "boxes" if row.reviews else None
        answer = workforce.answer(simulated, t, random.Random(seed))
        meta = {**workforce.metadata("Job-1", simulated, 0.0), **answer.metadata}
        line = {"source-ref": "s3://in/a.png", attr: answer.label, f"{attr}-metadata": meta}
        assert label_shape_problems(task_type, line, attr) == []
        width, height, depth = size
        if task_type == "bounding-box-adjustment":  # the reviewed box, maybe moved
            assert len(answer.label["annotations"]) == 1
        if task_type.startswith("bounding-box") and task_type != "bounding-box-verification":
            assert answer.label["image_size"] == [{"width": width, "height": height, "depth": depth}]
            for box in answer.label["annotations"]:
                assert box["left"] >= 0 and box["top"] >= 0 and box["width"] >= 1 and box["height"] >= 1
                assert box["left"] + box["width"] <= width and box["top"] + box["height"] <= height
        if task_type.startswith("semantic-segmentation"):
            assert list(answer.files) == [answer.label]
            with Image.open(io.BytesIO(answer.files[answer.label])) as mask:
                assert (mask.format, mask.size) == ("PNG", (width, height))
                colours = {f"#{r:02x}{g:02x}{b:02x}" for _, (r, g, b) in mask.getcolors(width * height)}
            documented = {v["hex-color"] for v in meta["internal-color-map"].values()}
            assert colours <= documented and len(colours) >= 1


def test_image_size_reads_the_header_and_refuses_what_is_no_image() -> None:
    out = io.BytesIO()
    Image.new("L", (33, 21)).save(out, format="PNG")
    assert workforce.image_size(out.getvalue()) == (33, 21, 1)
    with pytest.raises(ValueError, match="not an image the workers can load"):
        workforce.image_size(b"text")


def test_adjustments_report_their_status() -> None:
    line = {"source-ref": "s3://in/a.png", **PRIOR}
    for key, attr in (("AdjustmentBoundingBox", "adjusted"), ("AdjustmentSemanticSegmentation", "mask-ref")):
        t = task(attr, (50, 40, 3), line)
        t.audit_attr = "boxes"
        statuses = {
            workforce.answer(workforce.BUILT_IN[key], t, random.Random(seed)).metadata["adjustment-status"]
            for seed in range(20)
        }
        assert statuses == {"adjusted", "unadjusted"}
