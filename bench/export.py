"""`gtctl export` of 10^6 labeled objects: time and peak memory, COCO and manifest, vs a bare copy.

The ledger is a stand-in for DynamoDB that answers the ``by-state`` query with pages of 500 items
in DynamoDB JSON, made on the fly (network time excluded; the Lambdas' own ``Ledger`` and its
deserialisation are real). Each object has a bounding-box label in the documented output shape
(0 to 3 boxes, 1.5 on average). Each run is a fresh interpreter, so its peak RSS (``VmHWM``) is
its own. The bare reference reads the same pages through the same ``Ledger`` and writes each
label as a line: the floor any export pays.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import register
from bench.lambdas import figures_in_subprocess, own_peak_rss_mb

PAGE = 500
MODES = ("coco", "manifest", "bare")


def _label(boxes: int) -> str:
    return json.dumps(
        {
            "boxes": {
                "image_size": [{"width": 640, "height": 480, "depth": 3}],
                "annotations": [
                    {"class_id": k % 3, "left": 10 + 50 * k, "top": 20 + 30 * k, "width": 40, "height": 60}
                    for k in range(boxes)
                ],
            },
            "boxes-metadata": {
                "objects": [{"confidence": 0.9}] * boxes,
                "class-map": {"0": "cat", "1": "dog", "2": "bird"},
                "type": "groundtruth/object-detection",
                "human-annotated": "yes",
                "creation-date": "2026-11-22T10:00:00.000000",
                "job-name": "labeling-job/bench-0001",
            },
        }
    )


class StandInTable:
    """``query`` on the ``by-state`` index: ``objects`` LABELED items, a page at a time."""

    def __init__(self, objects: int) -> None:
        self.objects = objects
        self._labels = [_label(k) for k in range(4)]

    def _item(self, n: int) -> dict[str, Any]:
        object_id = f"{n:064x}"
        return {
            "pk": {"S": f"OBJ#{object_id}"},
            "sk": {"S": "OBJ"},
            "object_id": {"S": object_id},
            "state": {"S": "LABELED"},
            "state_key": {"S": "LABELED"},
            "input_uri": {"S": f"s3://bench-input/images/{object_id}.jpg"},
            "drop_keys": {"SS": [f"drops/{n}.jpg"]},
            "failure_count": {"N": "0"},
            "job": {"S": "bench-0001"},
            "label": {"S": self._labels[n % 4]},
            "created_at": {"S": "2026-11-22T09:00:00.000000+00:00"},
            "updated_at": {"S": "2026-11-22T10:00:01.000000+00:00"},
        }

    def query(self, **kwargs: Any) -> dict[str, Any]:
        start = int(kwargs.get("ExclusiveStartKey", {}).get("n", {}).get("N", "0"))
        end = min(start + int(kwargs.get("Limit", PAGE)), self.objects)
        items = [self._item(n) for n in range(start, end)]
        if "ProjectionExpression" in kwargs:  # only the asked attributes, as DynamoDB returns them
            wanted = set(kwargs["ExpressionAttributeNames"].values())
            items = [{k: v for k, v in item.items() if k in wanted} for item in items]
        page: dict[str, Any] = {"Items": items}
        if end < self.objects:
            page["LastEvaluatedKey"] = {"n": {"N": str(end)}}
        return page


class StandInClients:
    def __init__(self, table: StandInTable) -> None:
        self._table = table

    def client(self, service: str) -> Any:
        return self._table


def _ledger(objects: int) -> Any:
    from gtstream.ledger import Ledger

    return Ledger("bench-ledger", StandInClients(StandInTable(objects)))  # type: ignore[arg-type]


def run_mode(mode: str, objects: int, folder: Path) -> dict[str, Any]:
    from gtctl import export as exports

    ledger = _ledger(objects)
    annotations = None
    started, cpu = time.perf_counter(), time.process_time()
    if mode == "bare":
        path = folder / "bare.jsonl"
        with path.open("w", encoding="utf-8") as out:
            written = 0
            for item in exports.ledger_items(ledger):
                out.write(item["label"] + "\n")
                written += 1  # noqa: SIM113 - the count is what the bare loop reports
    else:
        path = folder / ("dataset.coco.json" if mode == "coco" else "dataset.manifest")
        _, result = exports.export(ledger, path, fmt=mode)
        written = result.total
        annotations = result.annotations["all"] if mode == "coco" else None
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    figures: dict[str, Any] = {
        "objects": written,
        "seconds": round(elapsed, 1),
        "cpu_seconds": round(cpu, 1),  # this process's own: the machine is shared
        "objects_per_second": int(written / elapsed) if elapsed else 0,
        "output_mb": round(path.stat().st_size / 1e6, 1),
    }
    if annotations is not None:
        figures["annotations"] = annotations
    return figures


@register("export")
def export_bench() -> dict[str, Any]:
    """BENCH_EXPORT_OBJECTS (default 1,000,000) labeled objects exported as COCO and as a manifest."""
    objects = int(os.environ.get("BENCH_EXPORT_OBJECTS", "1000000"))
    figures: dict[str, Any] = {"objects": objects}
    for mode in MODES:
        for key, value in figures_in_subprocess("bench.export", mode, str(objects)).items():
            if key != "objects":
                figures[f"{mode}_{key}"] = value
    for mode in ("coco", "manifest"):
        figures[f"{mode}_vs_bare_cpu"] = round(
            figures[f"{mode}_cpu_seconds"] / max(figures["bare_cpu_seconds"], 0.1), 2
        )
    return figures


def _child(mode: str, objects: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        figures = run_mode(mode, objects, Path(folder))
    figures["peak_rss_mb"] = own_peak_rss_mb()
    print(json.dumps(figures))


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] in MODES:
    _child(sys.argv[1], int(sys.argv[2]))
