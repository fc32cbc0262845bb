"""gtctl export --format coco: bounding boxes and semantic segmentation, loaded back with pycocotools.

The labels are built in the shapes of "Labeling job output data"
(https://docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html): the bounding-box job
output (``image_size``, ``annotations`` of ``class_id, left, top, width, height``, ``class-map``
in the metadata, ``type`` ``groundtruth/object-detection``) and the semantic-segmentation job
output (the ``-ref`` attribute: the S3 URI of a PNG mask; ``internal-color-map`` of ``class-name``
and ``hex-color``, ``type`` ``groundtruth/semantic-segmentation``). moto in process.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools.coco import COCO
from tests.documents import deployment_document
from tests.inprocess import in_process_aws

from gtctl.__main__ import cli
from gtctl.coco import CocoWriter, Records, Unusable, rle
from gtstream.aws import Clients
from gtstream.ledger import Ledger, table_definition

REGION = "eu-west-1"
DOC = deployment_document("demo", region=REGION)
INPUT, OUTPUT = DOC["buckets"]["input"], DOC["buckets"]["output"]
CLASS_MAP = {"0": "dog", "1": "bone", "5": "ball"}
COLOR_MAP = {
    "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.9},
    "1": {"class-name": "buildings", "hex-color": "#2acf59", "confidence": 0.9},
    "2": {"class-name": "road", "hex-color": "#f28333", "confidence": 0.9},
}


def oid(n: int) -> str:
    return hashlib.sha256(f"image {n}".encode()).hexdigest()


def uri_of(n: int) -> str:
    return f"s3://{INPUT}/images/{oid(n)}.jpg"


def metadata(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"groundtruth/{kind}",
        "human-annotated": "yes",
        "creation-date": "2026-11-22T10:00:00.000000",
        "job-name": "labeling-job/demo-0001",
        **extra,
    }


def boxes_of(n: int) -> list[dict[str, int]]:
    """n % 4 boxes (0 to 3) inside a 500x400 image, classes from the class map."""
    return [
        {"class_id": [0, 1, 5][k % 3], "left": 10 * k + n, "top": 20 + k, "width": 30 + n, "height": 40 + k}
        for k in range(n % 4)
    ]


def box_label(n: int, attribute: str = "boxes") -> dict[str, Any]:
    return {
        attribute: {"image_size": [{"width": 500, "height": 400, "depth": 3}], "annotations": boxes_of(n)},
        f"{attribute}-metadata": metadata(
            "object-detection", objects=[{"confidence": 0.8}] * (n % 4), **{"class-map": CLASS_MAP}
        ),
    }


def mask_of(n: int) -> np.ndarray:
    """An 8x6 class-id mask: road in the bottom rows, a building whose place depends on n."""
    ids = np.zeros((6, 8), dtype=np.uint8)
    ids[4:, :] = 2
    ids[1:3, n % 5 : n % 5 + 3] = 1
    return ids


def mask_png(ids: np.ndarray) -> bytes:
    palette = {int(k): v["hex-color"] for k, v in COLOR_MAP.items()}
    rgb = np.zeros((*ids.shape, 3), dtype=np.uint8)
    for class_id, color in palette.items():
        rgb[ids == class_id] = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="PNG")
    return out.getvalue()


def segmentation_label(n: int) -> dict[str, Any]:
    return {
        "city-streets-ref": f"s3://{OUTPUT}/demo-0001/annotations/consolidated-annotation/output/{n}.png",
        "city-streets-ref-metadata": metadata("semantic-segmentation", **{"internal-color-map": COLOR_MAP}),
    }


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    with in_process_aws(monkeypatch, REGION):
        boto3.client("dynamodb", region_name=REGION).create_table(**table_definition(DOC["ledger_table"]))
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=OUTPUT, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield Ledger(DOC["ledger_table"], Clients(REGION))


def labeled(ledger: Ledger, n: int, label: dict[str, Any]) -> None:
    ledger.add_object(oid(n), uri_of(n), f"batch/{n}.jpg")
    ledger.mark_labeled(oid(n), "demo-0001", uri_of(n), json.dumps(label))


def run(tmp_path: Path, *args: str) -> Any:
    document = tmp_path / "deployment.json"
    document.write_text(json.dumps(DOC))
    return CliRunner().invoke(cli, ["--deployment", str(document), "export", "--format", "coco", *args])


def by_source(coco: COCO) -> dict[str, list[dict[str, Any]]]:
    return {
        image["source-ref"]: coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        for image in coco.dataset["images"]
    }


def test_bounding_boxes_round_trip_through_pycocotools(ledger: Ledger, tmp_path: Path) -> None:
    for n in range(12):
        labeled(ledger, n, box_label(n))
    labeled(ledger, 20, {"cls": 1, "cls-metadata": metadata("image-classification", **{"class-name": "x"})})
    bad = box_label(21)
    bad["boxes"]["annotations"] = [{"class_id": 7, "left": 0, "top": 0, "width": 5, "height": 5}]
    labeled(ledger, 21, bad)
    ledger.add_object(oid(30), uri_of(30), "waiting.jpg")  # never labeled: not exported

    result = run(tmp_path, "--output", str(tmp_path / "boxes.json"))

    assert result.exit_code == 0, result.output
    assert (
        "wrote" in result.stdout
        and f"(12 labeled objects, {sum(n % 4 for n in range(12))} annotations)" in result.stdout
    )
    assert "left out 1: no bounding-box or semantic-segmentation label" in result.stderr
    assert "left out 1: class_id 7 is not in the class-map" in result.stderr
    coco = COCO(str(tmp_path / "boxes.json"))
    assert len(coco.getImgIds()) == 12
    assert len(coco.getAnnIds()) == sum(n % 4 for n in range(12))
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {0: "dog", 1: "bone", 5: "ball"}
    found = by_source(coco)
    images = {image["source-ref"]: image for image in coco.dataset["images"]}
    assert set(found) == set(images) == {uri_of(n) for n in range(12)}
    for n in range(12):
        expected = [(b["class_id"], [b["left"], b["top"], b["width"], b["height"]]) for b in boxes_of(n)]
        assert [(a["category_id"], a["bbox"]) for a in found[uri_of(n)]] == expected
        assert all(a["area"] == a["bbox"][2] * a["bbox"][3] for a in found[uri_of(n)])
        image = images[uri_of(n)]
        assert (image["width"], image["height"]) == (500, 400)
        assert image["drop-keys"] == [f"batch/{n}.jpg"] and image["file_name"] == f"images/{oid(n)}.jpg"
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("tmp*"))


def test_segmentation_masks_become_rle_that_pycocotools_decodes_to_the_mask(
    ledger: Ledger, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for n in range(5):
        key = segmentation_label(n)["city-streets-ref"].split("/", 3)[3]
        s3.put_object(Bucket=OUTPUT, Key=key, Body=mask_png(mask_of(n)))
        labeled(ledger, n, segmentation_label(n))
    labeled(ledger, 9, segmentation_label(9))  # its mask is not in S3

    result = run(tmp_path, "--output", str(tmp_path / "seg.json"), "--validation-fraction", "0.4")

    assert result.exit_code == 0, result.output
    assert "left out 1: mask could not be read: NoSuchKey" in result.stderr
    found: dict[str, list[dict[str, Any]]] = {}
    cocos = [COCO(str(tmp_path / f"seg.{split}.json")) for split in ("train", "validation")]
    for coco in cocos:
        assert {c["name"] for c in coco.dataset["categories"]} == {"buildings", "road"}  # no BACKGROUND
        found.update(
            {uri: [{**a, "mask": coco.annToMask(a)} for a in anns] for uri, anns in by_source(coco).items()}
        )
    assert set(found) == {uri_of(n) for n in range(5)}
    assert sum(len(c.getImgIds()) for c in cocos) == 5
    for n in range(5):
        ids = mask_of(n)
        assert {a["category_id"] for a in found[uri_of(n)]} == {1, 2}
        for annotation in found[uri_of(n)]:
            expected = ids == annotation["category_id"]
            assert np.array_equal(annotation["mask"], expected)
            assert annotation["area"] == int(expected.sum())
            rows, cols = np.flatnonzero(expected.any(axis=1)), np.flatnonzero(expected.any(axis=0))
            assert annotation["bbox"] == [cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1]


def test_rle_counts_start_with_background_and_cover_every_pixel() -> None:
    mask = np.array([[1, 0], [1, 1], [0, 0]], dtype=bool)  # column-major: 1 1 0 | 0 1 0
    assert rle(mask) == [0, 2, 2, 1, 1]
    assert rle(np.zeros((2, 2), dtype=bool)) == [4]
    assert sum(rle(mask)) == mask.size


def test_a_label_whose_class_ids_changed_meaning_is_left_out_with_the_reason(tmp_path: Path) -> None:
    with (tmp_path / "out.json").open("w") as out, (tmp_path / "spill").open("w+") as spill:
        writer = CocoWriter(out, spill)
        writer.add({"file_name": "a.jpg"}, Records(5, 5, categories={0: "dog"}))
        with pytest.raises(Unusable, match="class id 0 is 'cat' here but 'dog' in earlier labels"):
            writer.add({"file_name": "b.jpg"}, Records(5, 5, categories={0: "cat"}))
        writer.finish()
    assert json.loads((tmp_path / "out.json").read_text())["categories"] == [
        {"id": 0, "name": "dog", "supercategory": ""}
    ]


def test_objects_all_adds_unlabeled_images_without_annotations_at_their_own_size(
    ledger: Ledger, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=INPUT, CreateBucketConfiguration={"LocationConstraint": REGION})
    for n in range(3):
        labeled(ledger, n, box_label(n + 1))
    for n, size in ((10, (33, 21)), (11, (8, 50))):
        out = io.BytesIO()
        Image.new("RGB", size, (1, 2, 3)).save(out, format="PNG")
        s3.put_object(Bucket=INPUT, Key=uri_of(n).split("/", 3)[3], Body=out.getvalue())
        ledger.add_object(oid(n), uri_of(n), f"waiting/{n}.png")
    ledger.add_object(oid(12), uri_of(12), "gone.png")  # its image is not in S3

    result = run(tmp_path, "--output", str(tmp_path / "all.json"), "--objects", "all")

    assert result.exit_code == 0, result.output
    assert "(5 objects: 3 accepted, 0 not-accepted, 2 unlabeled, 6 annotations)" in result.stdout
    assert "left out 1: image could not be read: NoSuchKey" in result.stderr
    coco = COCO(str(tmp_path / "all.json"))
    found = by_source(coco)
    images = {image["source-ref"]: image for image in coco.dataset["images"]}
    assert set(found) == {uri_of(n) for n in (0, 1, 2, 10, 11)}
    for n in range(3):
        assert [a["bbox"] for a in found[uri_of(n)]] == [
            [b["left"], b["top"], b["width"], b["height"]] for b in boxes_of(n + 1)
        ]
        assert images[uri_of(n)]["export-status"] == "accepted"
    for n, size in ((10, (33, 21)), (11, (8, 50))):
        assert found[uri_of(n)] == []
        image = images[uri_of(n)]
        assert (image["width"], image["height"]) == size and image["export-status"] == "unlabeled"
        assert image["drop-keys"] == [f"waiting/{n}.png"]
