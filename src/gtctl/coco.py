"""COCO instances JSON from Ground Truth's bounding-box and semantic-segmentation labels.

The input is a label as Ground Truth writes it in the output manifest ("Labeling job output data",
docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html), kept by the ledger:

- bounding box: ``{"<attr>": {"image_size": [{"width", "height", "depth"}], "annotations":
  [{"class_id", "left", "top", "width", "height"}]}, "<attr>-metadata": {"class-map": {"0": "dog"},
  "type": "groundtruth/object-detection", ...}}``;
- semantic segmentation: ``{"<attr>-ref": "s3://.../mask.png", "<attr>-ref-metadata":
  {"internal-color-map": {"0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"}, ...},
  "type": "groundtruth/semantic-segmentation", ...}}``: the mask is a PNG of the image's size in
  which each class is painted in its ``hex-color``.

The output is COCO's object-detection format (cocodataset.org/#format-data): ``images``,
``annotations`` (``bbox`` ``[x, y, width, height]`` in pixels, ``area``; a segmentation as
uncompressed RLE ``{"size": [height, width], "counts": [...]}``, column-major runs starting with
background, the form COCO's own files use) and ``categories``. A category id is Ground Truth's
class id; a segmentation's ``BACKGROUND`` class (Ground Truth's class 0) is not exported.

Streamed: images are written as they come; annotations go to a spill file next to the output and
are copied in at the end, so memory holds one image's records and the categories, not the dataset.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

BOX_TYPE = "groundtruth/object-detection"
SEGMENTATION_TYPE = "groundtruth/semantic-segmentation"
BACKGROUND = "BACKGROUND"
COMPACT = (",", ":")

# An s3:// URI -> the object's bytes; raises Unusable(why) when it cannot (e.g. "NoSuchKey").
ReadObject = Callable[[str], bytes]


class Unusable(ValueError):
    """A label that cannot become COCO records; the message is the reason it is left out (counted
    per reason: a kind of problem, not one object's values, so the counts stay few)."""


@dataclass
class Records:
    """One image's COCO records (ids not yet assigned)."""

    width: int
    height: int
    annotations: list[dict[str, Any]] = field(default_factory=list)
    categories: dict[int, str] = field(default_factory=dict)


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise Unusable(f"{what} is not a whole number")
    return int(value)


def box_records(value: Any, meta: dict[str, Any]) -> Records:
    """The records of one bounding-box label (``value``: the attribute's object)."""
    if not isinstance(value, dict):
        raise Unusable("bounding-box label is not an object")
    sizes = value.get("image_size")
    if not isinstance(sizes, list) or not sizes or not isinstance(sizes[0], dict):
        raise Unusable("bounding-box label has no image_size")
    records = Records(
        _int(sizes[0].get("width"), "image width"), _int(sizes[0].get("height"), "image height")
    )
    class_map = meta.get("class-map")
    if not isinstance(class_map, dict):
        raise Unusable("bounding-box metadata has no class-map")
    annotations = value.get("annotations")
    if not isinstance(annotations, list):
        raise Unusable("bounding-box label has no annotations list")
    for box in annotations:
        if not isinstance(box, dict):
            raise Unusable("a bounding box is not an object")
        class_id = _int(box.get("class_id"), "class_id")
        name = class_map.get(str(class_id))
        if not isinstance(name, str):
            raise Unusable(f"class_id {class_id} is not in the class-map")
        left, top = _int(box.get("left"), "left"), _int(box.get("top"), "top")
        width, height = _int(box.get("width"), "width"), _int(box.get("height"), "height")
        if width <= 0 or height <= 0:
            raise Unusable("a bounding box without width or height")
        records.categories[class_id] = name
        records.annotations.append(
            {
                "category_id": class_id,
                "bbox": [left, top, width, height],
                "area": width * height,
                "iscrowd": 0,
            }
        )
    return records


def _rgb(hex_color: Any) -> tuple[int, int, int]:
    if not isinstance(hex_color, str) or len(hex_color) != 7 or not hex_color.startswith("#"):
        raise Unusable(f"hex-color {hex_color!r} is not #rrggbb")
    try:
        return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)
    except ValueError:
        raise Unusable(f"hex-color {hex_color!r} is not #rrggbb") from None


def rle(mask: Any) -> list[int]:
    """COCO's uncompressed RLE counts of a boolean ``(height, width)`` array: run lengths in
    column-major order, the first run being of zeros (possibly empty)."""
    import numpy as np

    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)
    return [int(c) for c in counts]


def segmentation_records(uri: Any, meta: dict[str, Any], read_object: ReadObject) -> Records:
    """The records of one semantic-segmentation label: one RLE annotation per class in the mask."""
    import numpy as np
    from PIL import Image

    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise Unusable("semantic-segmentation label is not an s3:// mask reference")
    color_map = meta.get("internal-color-map")
    if not isinstance(color_map, dict):
        raise Unusable("semantic-segmentation metadata has no internal-color-map")
    data = _read(read_object, uri, "mask")
    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise Unusable(f"mask is not a readable image ({type(exc).__name__})") from None
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    records = Records(width, height)
    packed = (
        (pixels[..., 0].astype(np.uint32) << 16) | (pixels[..., 1].astype(np.uint32) << 8) | pixels[..., 2]
    )
    for key, entry in sorted(color_map.items(), key=lambda kv: str(kv[0])):
        if not isinstance(entry, dict) or not isinstance(entry.get("class-name"), str):
            raise Unusable(f"internal-color-map entry {key!r} has no class-name")
        if not str(key).isdigit():
            raise Unusable(f"internal-color-map key {key!r} is not a class id")
        class_id = int(key)
        if entry["class-name"] == BACKGROUND:
            continue
        r, g, b = _rgb(entry.get("hex-color"))
        mask = packed == ((r << 16) | (g << 8) | b)
        records.categories[class_id] = entry["class-name"]
        area = int(mask.sum())
        if not area:
            continue  # the class is in the job's map but not in this image
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        records.annotations.append(
            {
                "category_id": class_id,
                "segmentation": {"size": [height, width], "counts": rle(mask)},
                "area": area,
                "bbox": [
                    int(cols[0]),
                    int(rows[0]),
                    int(cols[-1] - cols[0] + 1),
                    int(rows[-1] - rows[0] + 1),
                ],
                "iscrowd": 0,
            }
        )
    return records


def _read(read_object: ReadObject, uri: str, what: str) -> bytes:
    try:
        return read_object(uri)
    except Unusable as exc:
        raise Unusable(f"{what} could not be read: {exc}") from None


def image_size(uri: str, read_object: ReadObject) -> tuple[int, int]:
    """``(width, height)`` of the image at ``uri`` (an unlabeled object's: no label gives it)."""
    from PIL import Image

    data = _read(read_object, uri, "image")
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header, not the pixels
            width, height = image.size
    except (OSError, ValueError) as exc:
        raise Unusable(f"image is not readable ({type(exc).__name__})") from None
    return int(width), int(height)


def records_of(label: dict[str, Any], read_object: ReadObject) -> Records:
    """The COCO records of every bounding-box and semantic-segmentation attribute of a label."""
    found: Records | None = None
    for key, value in label.items():
        meta = label.get(f"{key}-metadata")
        if key.endswith("-metadata") or not isinstance(meta, dict):
            continue
        if meta.get("type") == BOX_TYPE:
            records = box_records(value, meta)
        elif meta.get("type") == SEGMENTATION_TYPE:
            records = segmentation_records(value, meta, read_object)
        else:
            continue
        if found is None:
            found = records
            continue
        if (found.width, found.height) != (records.width, records.height):
            raise Unusable("two labels of the object give different image sizes")
        found.annotations += records.annotations
        found.categories.update(records.categories)  # a clash is caught by CocoWriter.add
    if found is None:
        raise Unusable("no bounding-box or semantic-segmentation label")
    return found


class CocoWriter:
    """Writes one COCO file incrementally: ``add`` per image, ``finish`` once."""

    def __init__(self, out: IO[str], spill: IO[str]) -> None:
        self._out, self._spill = out, spill
        self.categories: dict[int, str] = {}
        self.images = 0
        self.annotations = 0
        out.write('{"info":{"description":"gtctl export --format coco"},"images":[')

    def add(self, image: dict[str, Any], records: Records) -> None:
        for class_id, name in records.categories.items():
            earlier = self.categories.get(class_id, name)
            if earlier != name:
                raise Unusable(f"class id {class_id} is {name!r} here but {earlier!r} in earlier labels")
        self.categories.update(records.categories)
        self.images += 1
        image = {"id": self.images, "width": records.width, "height": records.height, **image}
        self._out.write(("," if self.images > 1 else "") + json.dumps(image, separators=COMPACT))
        for annotation in records.annotations:
            self.annotations += 1
            self._spill.write(
                ("," if self.annotations > 1 else "")
                + json.dumps(
                    {"id": self.annotations, "image_id": self.images, **annotation}, separators=COMPACT
                )
            )

    def finish(self) -> None:
        self._out.write('],"annotations":[')
        self._spill.seek(0)
        shutil.copyfileobj(self._spill, self._out, 1 << 20)
        categories = [{"id": i, "name": n, "supercategory": ""} for i, n in sorted(self.categories.items())]
        self._out.write('],"categories":' + json.dumps(categories, separators=COMPACT) + "}\n")
