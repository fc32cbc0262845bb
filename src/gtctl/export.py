"""``gtctl export``: the labeled dataset as a SageMaker augmented manifest, or as COCO.

Which objects (``SELECTIONS``, ``--objects``): ``accepted`` (the default) exports only the objects
the project's final stage accepted (``final_stage_accepted``: a LABELED object whose review
``verdict``, if any, is not rejected; a review stage's line also carries the labels it reviewed);
``labeled`` also the labeled objects it did not accept, with their label; ``all`` also the objects
without a label (PENDING, SENT, FAILED: a line without label attributes, a COCO image without
annotations). QUARANTINED objects are never exported: intake refused them, so the input bucket has
no image of theirs. Outside ``accepted`` every line (COCO image) says what it is in
``export-status``: ``accepted``, ``not-accepted`` or ``unlabeled``.
``--format manifest``: one JSON line per object, in the format SageMaker training reads ("Use an augmented
manifest file", docs.aws.amazon.com/sagemaker/latest/dg/augmented-manifest.html): ``source-ref``
(the object's image in the input bucket), the label attribute and its ``-metadata`` exactly as
Ground Truth wrote them in the output manifest (the ledger keeps them: docs/interfaces.md section
4), and ``drop-keys``, the keys the image was dropped under (the link back to the user's files).

``--format coco``: bounding boxes and semantic segmentation as COCO instances JSON (``gtctl.coco``).

Streamed: the ledger's ``by-state`` index is read page by page and each line is written as it
comes, so memory does not grow with the project. An optional deterministic train/validation split
assigns each object by its id (the sha256 of its bytes): the same object lands in the same split
on every export, whatever else was labeled meanwhile.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from gtcontract.states import LABELED, QUARANTINED, VERDICT_REJECTED
from gtctl import coco
from gtctl.errors import GtctlError

DROP_KEYS_ATTRIBUTE = "drop-keys"
STATUS_ATTRIBUTE = "export-status"  # outside --objects accepted: what each line is
ACCEPTED, NOT_ACCEPTED, UNLABELED = "accepted", "not-accepted", "unlabeled"
# --objects: which kinds of object each selection exports (QUARANTINED objects: never).
SELECTIONS: dict[str, tuple[str, ...]] = {
    "accepted": (ACCEPTED,),
    "labeled": (ACCEPTED, NOT_ACCEPTED),
    "all": (ACCEPTED, NOT_ACCEPTED, UNLABELED),
}
RESERVED_ATTRIBUTES = ("source-ref", DROP_KEYS_ATTRIBUTE, STATUS_ATTRIBUTE)
# What an export reads of each ledger object (docs/interfaces.md section 4): less to transfer and parse.
EXPORTED_ATTRIBUTES = ("object_id", "state", "input_uri", "drop_keys", "label", "verdict", "input_line")
# Keys of an upstream stage's line that route it, not label it (docs/interfaces.md, stages).
ROUTING_KEYS = frozenset({"source-ref", "dataset-objectid-attribute-name"})
ROUTING_PREFIX = "gtstream-"
SPLIT_RESOLUTION = 1 << 32  # the first 8 hex digits of the object id, as a fraction of 2**32


@dataclass
class ExportResult:
    written: Counter[str] = field(default_factory=Counter)  # lines per output file
    kinds: Counter[tuple[str, str]] = field(default_factory=Counter)  # (output, kind of object): lines
    skipped: Counter[str] = field(default_factory=Counter)  # objects left out, per reason
    annotations: Counter[str] = field(default_factory=Counter)  # COCO annotations per output file

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


def manifest_line(item: dict[str, Any], kind: str = ACCEPTED) -> tuple[dict[str, Any] | None, str]:
    """The augmented-manifest line of a ledger object item of ``kind`` (an ``unlabeled`` one has no
    label attributes), or ``None`` and why it is left out."""
    uri = item.get("input_uri")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None, "no input image recorded"
    keys = sorted(item.get("drop_keys") or [])
    if kind == UNLABELED:
        return {"source-ref": uri, DROP_KEYS_ATTRIBUTE: keys}, ""
    raw = item.get("label")
    try:
        label = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        label = None
    if not isinstance(label, dict) or not label:
        return None, "label is not a JSON object of label attributes"
    if any(name in label for name in RESERVED_ATTRIBUTES):
        return None, f"label holds a reserved attribute ({', '.join(RESERVED_ATTRIBUTES)})"
    return {"source-ref": uri, **upstream_labels(item), **label, DROP_KEYS_ATTRIBUTE: keys}, ""


def upstream_labels(item: dict[str, Any]) -> dict[str, Any]:
    """A review stage's object: the label attributes of the upstream stage's line it reviewed (its
    ``input_line``; e.g. the boxes a verification accepted), so the export of the final stage
    carries them beside the review's own answer. Empty for an object of a first stage."""
    raw = item.get("input_line")
    try:
        line = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        return {}
    if not isinstance(line, dict):
        return {}
    return {
        key: value
        for key, value in line.items()
        if key not in ROUTING_KEYS and key not in RESERVED_ATTRIBUTES and not key.startswith(ROUTING_PREFIX)
    }


class ManifestSink:
    """Augmented-manifest lines to one file."""

    annotations = 0

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def add(self, item: dict[str, Any], kind: str, status: bool) -> str:
        """Write the item's line (with ``export-status`` when ``status``); ``""`` when written,
        else the reason it is left out."""
        line, reason = manifest_line(item, kind)
        if line is None:
            return reason
        if status:
            line[STATUS_ATTRIBUTE] = kind
        self._out.write(json.dumps(line, separators=(",", ":"), sort_keys=False) + "\n")
        return ""

    def finish(self) -> None:
        pass


class CocoSink:
    """One COCO instances file (``gtctl.coco``); each image carries its ``source-ref`` and
    ``drop-keys``, ``file_name`` is its key in the input bucket. An unlabeled object is an image
    without annotations, its size read from the image itself."""

    def __init__(self, out: IO[str], spill: IO[str], read_object: coco.ReadObject) -> None:
        self._writer = coco.CocoWriter(out, spill)
        self._read_object = read_object

    def add(self, item: dict[str, Any], kind: str, status: bool) -> str:
        line, reason = manifest_line(item, kind)
        if line is None:
            return reason
        uri = line.pop("source-ref")
        drop_keys = line.pop(DROP_KEYS_ATTRIBUTE)
        image = {"file_name": uri.split("/", 3)[3], "source-ref": uri, DROP_KEYS_ATTRIBUTE: drop_keys}
        if status:
            image[STATUS_ATTRIBUTE] = kind
        try:
            if kind == UNLABELED:
                records = coco.Records(*coco.image_size(uri, self._read_object))
            else:
                records = coco.records_of(line, self._read_object)
            self._writer.add(image, records)
        except coco.Unusable as exc:
            return str(exc)
        return ""

    def finish(self) -> None:
        self._writer.finish()

    @property
    def annotations(self) -> int:
        return self._writer.annotations


class Sink(Protocol):
    @property
    def annotations(self) -> int: ...

    def add(self, item: dict[str, Any], kind: str, status: bool) -> str: ...

    def finish(self) -> None: ...


def kind_of(item: dict[str, Any]) -> str:
    """``accepted``, ``not-accepted`` (labeled, not accepted by the final stage), ``unlabeled``,
    or ``""`` for an object that is never exported (QUARANTINED: no image in the input bucket)."""
    state = item.get("state", LABELED)
    if state == LABELED:
        return ACCEPTED if final_stage_accepted(item) else NOT_ACCEPTED
    return "" if state == QUARANTINED else UNLABELED


LEFT_OUT = {
    NOT_ACCEPTED: "not accepted by the final stage",
    UNLABELED: "not labeled",
    "": "quarantined at intake (no image to export)",
}


def write_all(
    items: Iterable[dict[str, Any]],
    sinks: Mapping[str, Sink],
    validation_fraction: float,
    selection: str = "accepted",
) -> ExportResult:
    """Give each item of a kind ``selection`` selects to ``sinks["all"]``, or to ``sinks["train"]``
    / ``sinks["validation"]`` when splitting; count what was left out and why."""
    result = ExportResult()
    selected, status = SELECTIONS[selection], selection != "accepted"
    for item in items:
        kind = kind_of(item)
        if kind not in selected:
            result.skipped[LEFT_OUT[kind]] += 1
            continue
        target = "all" if "all" in sinks else split_of(str(item.get("object_id", "")), validation_fraction)
        reason = sinks[target].add(item, kind, status)
        if reason:
            result.skipped[reason] += 1
        else:
            result.written[target] += 1
            result.kinds[target, kind] += 1
    for target, sink in sinks.items():
        sink.finish()
        result.annotations[target] = sink.annotations
    return result


def write_manifests(
    items: Iterable[dict[str, Any]],
    outputs: Mapping[str, IO[str]],
    validation_fraction: float,
    selection: str = "accepted",
) -> ExportResult:
    """Augmented-manifest lines of ``items`` to ``outputs`` (``write_all``)."""
    sinks = {target: ManifestSink(out) for target, out in outputs.items()}
    return write_all(items, sinks, validation_fraction, selection)


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


def ledger_items(ledger: Any, selection: str = "accepted") -> Iterator[dict[str, Any]]:
    """The objects of the ledger (``gtstream.ledger.Ledger``) that ``selection`` may export, a
    page at a time: the LABELED ones from the ``by-state`` index; for ``all``, every object item
    of one Scan, which returns each item once even while objects change state ("Scan",
    docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html; the per-state queries
    could meet an object moving from PENDING to SENT twice, or not at all)."""
    if selection == "all":
        yield from (item for item in ledger.scan_all() if item.get("sk") == "OBJ")
        return
    yield from ledger.iter_state(LABELED, page_size=500, attributes=EXPORTED_ATTRIBUTES)


def final_stage_accepted(item: dict[str, Any]) -> bool:
    """Whether the project's final stage accepted the LABELED object ``item`` (its ledger item,
    ``EXPORTED_ATTRIBUTES`` at least): the one place the export decides that.

    A first (labeling) stage accepts every object it labeled; a review stage records each object's
    ``verdict`` (``gtstream.stages``), and a ``rejected`` one is not accepted. Run the export on the
    final stage's deployment; the rest of the export only asks this function."""
    return bool(item.get("state", LABELED) == LABELED and item.get("verdict") != VERDICT_REJECTED)


FORMATS = ("manifest", "coco")


def default_output(fmt: str) -> Path:
    return Path("dataset.coco.json" if fmt == "coco" else "dataset.manifest")


def export(
    ledger: Any,
    output: Path,
    validation_fraction: float = 0.0,
    fmt: str = "manifest",
    read_object: coco.ReadObject | None = None,
    selection: str = "accepted",
) -> tuple[dict[str, Path], ExportResult]:
    """Write the objects ``selection`` selects (``SELECTIONS``) in ``fmt`` (``manifest`` or
    ``coco``; ``read_object`` fetches segmentation masks, and unlabeled images for their size);
    only complete files appear, under their final names."""
    if fmt not in FORMATS:
        raise GtctlError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if selection not in SELECTIONS:
        raise GtctlError(f"--objects {selection!r} is not one of {', '.join(SELECTIONS)}")
    paths = output_paths(output, validation_fraction)
    for path in paths.values():
        if path.parent and not path.parent.is_dir():
            raise GtctlError(f"output folder {path.parent} does not exist")
    partial = {kind: path.with_name(path.name + ".partial") for kind, path in paths.items()}
    try:
        with ExitStack() as files:
            sinks: dict[str, Sink] = {}
            for kind, path in partial.items():
                out = files.enter_context(path.open("w", encoding="utf-8"))
                if fmt == "manifest":
                    sinks[kind] = ManifestSink(out)
                    continue
                # annotations wait in an unnamed file next to the output (deleted on close)
                spill = files.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8", dir=path.parent))
                sinks[kind] = CocoSink(out, spill, read_object or _no_masks)
            result = write_all(ledger_items(ledger, selection), sinks, validation_fraction, selection)
    except BaseException:
        for path in partial.values():
            path.unlink(missing_ok=True)
        raise
    for kind, path in partial.items():
        path.replace(paths[kind])  # complete files only: a failed export leaves none
    return paths, result


def _no_masks(uri: str) -> bytes:
    raise coco.Unusable("no S3 access given")
