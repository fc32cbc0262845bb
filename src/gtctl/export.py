"""``gtctl export``: the labeled dataset as a SageMaker augmented manifest.

One JSON line per LABELED object, in the format SageMaker training reads ("Use an augmented
manifest file", docs.aws.amazon.com/sagemaker/latest/dg/augmented-manifest.html): ``source-ref``
(the object's image in the input bucket), the label attribute and its ``-metadata`` exactly as
Ground Truth wrote them in the output manifest (the ledger keeps them: docs/interfaces.md section
4), and ``drop-keys``, the keys the image was dropped under (the link back to the user's files).

Streamed: the ledger's ``by-state`` index is read page by page and each line is written as it
comes, so memory does not grow with the project. An optional deterministic train/validation split
assigns each object by its id (the sha256 of its bytes): the same object lands in the same split
on every export, whatever else was labeled meanwhile.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gtcontract.states import LABELED
from gtctl.errors import GtctlError

DROP_KEYS_ATTRIBUTE = "drop-keys"
SPLIT_RESOLUTION = 1 << 32  # the first 8 hex digits of the object id, as a fraction of 2**32


@dataclass
class ExportResult:
    written: Counter[str] = field(default_factory=Counter)  # lines per output file
    skipped: Counter[str] = field(default_factory=Counter)  # objects left out, per reason

    @property
    def total(self) -> int:
        return sum(self.written.values())


def split_of(object_id: str, validation_fraction: float) -> str:
    """``"validation"`` for a stable ``validation_fraction`` of object ids, else ``"train"``."""
    try:
        position = int(object_id[:8], 16) / SPLIT_RESOLUTION
    except ValueError:
        raise GtctlError(f"object id {object_id!r} is not a sha256 hex digest") from None
    return "validation" if position < validation_fraction else "train"


def manifest_line(item: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The augmented-manifest line of a ledger object item, or ``None`` and why it is left out."""
    uri = item.get("input_uri")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None, "no input image recorded"
    raw = item.get("label")
    try:
        label = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        label = None
    if not isinstance(label, dict) or not label:
        return None, "label is not a JSON object of label attributes"
    if "source-ref" in label or DROP_KEYS_ATTRIBUTE in label:
        return None, "label holds a reserved attribute (source-ref or drop-keys)"
    keys = item.get("drop_keys") or []
    return {"source-ref": uri, **label, DROP_KEYS_ATTRIBUTE: sorted(keys)}, ""


def write_manifests(
    items: Iterable[dict[str, Any]], outputs: Mapping[str, IO[str]], validation_fraction: float
) -> ExportResult:
    """Write each item's line to ``outputs["all"]``, or to ``outputs["train"]`` /
    ``outputs["validation"]`` when splitting; count what was left out and why."""
    result = ExportResult()
    for item in items:
        line, reason = manifest_line(item)
        if line is None:
            result.skipped[reason] += 1
            continue
        target = "all" if "all" in outputs else split_of(str(item.get("object_id", "")), validation_fraction)
        outputs[target].write(json.dumps(line, separators=(",", ":"), sort_keys=False) + "\n")
        result.written[target] += 1
    return result


def output_paths(output: Path, validation_fraction: float) -> dict[str, Path]:
    """``{"all": output}``, or with a split ``<stem>.train<suffix>`` and ``<stem>.validation<suffix>``."""
    if not 0 <= validation_fraction < 1:
        raise GtctlError(f"--validation-fraction {validation_fraction} must be at least 0 and below 1")
    if validation_fraction == 0:
        return {"all": output}
    return {
        split: output.with_name(f"{output.stem}.{split}{output.suffix or '.manifest'}")
        for split in ("train", "validation")
    }


def labeled_items(ledger: Any) -> Iterator[dict[str, Any]]:
    """The LABELED objects of the ledger (``gtstream.ledger.Ledger``), a page at a time."""
    yield from ledger.iter_state(LABELED, page_size=500)


def export(
    ledger: Any, output: Path, validation_fraction: float = 0.0
) -> tuple[dict[str, Path], ExportResult]:
    paths = output_paths(output, validation_fraction)
    for path in paths.values():
        if path.parent and not path.parent.is_dir():
            raise GtctlError(f"output folder {path.parent} does not exist")
    partial = {kind: path.with_name(path.name + ".partial") for kind, path in paths.items()}
    handles = {kind: path.open("w", encoding="utf-8") for kind, path in partial.items()}
    try:
        result = write_manifests(labeled_items(ledger), handles, validation_fraction)
    except BaseException:
        for kind, handle in handles.items():
            handle.close()
            partial[kind].unlink(missing_ok=True)
        raise
    for kind, handle in handles.items():
        handle.close()
        partial[kind].replace(paths[kind])  # complete files only: a failed export leaves none
    return paths, result
