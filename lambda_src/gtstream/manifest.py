"""Stream a Ground Truth output manifest line by line and merge it into the ledger.

Never loads the manifest whole: memory is bounded by one line (see bench/ and the tests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from gtcontract.states import FAILED

_IMAGE_ID = re.compile(r"/images/([0-9a-f]{64})\.[A-Za-z0-9]+$")


def object_id_of(uri: str) -> str | None:
    """The object id (sha256 of the dropped bytes) of an input URI written by intake."""
    match = _IMAGE_ID.search(uri)
    return match.group(1) if match else None


def source_line(uri: str) -> str:
    """The manifest/SNS line for an object: Ground Truth dedupes on its source-ref."""
    return json.dumps({"source-ref": uri, "dataset-objectid-attribute-name": "source-ref"})


class MergeSink(Protocol):
    def labeled(self, object_id: str, uri: str, label: str) -> None: ...

    def failed(self, object_id: str, reason: str) -> str | None: ...


@dataclass
class MergeStats:
    lines: int = 0
    labeled: int = 0
    failed_attempts: int = 0
    permanently_failed: int = 0
    carried: int = 0
    not_processed: int = 0
    unknown: int = 0
    malformed: int = 0


def merge_lines(
    lines: Iterable[bytes | str],
    label_attribute: str,
    job_name: str,
    sink: MergeSink,
    *,
    skip: int = 0,
    checkpoint: Callable[[int], None] | None = None,
    checkpoint_every: int = 10_000,
) -> MergeStats:
    """Classify every line of `job_name`'s output manifest and tell the sink.

    - `<attr>` with its metadata for this job -> labeled;
    - metadata with `failure-reason` for this job (expired, declined, failed) -> one failed attempt;
    - metadata naming an earlier job (a carried-over line) -> already merged then, skipped;
    - no metadata -> never processed, left to the caller's SENT sweep.

    Resumable: the first `skip` lines (merged by an earlier, interrupted attempt) are passed over,
    and `checkpoint(lines done)` is called every `checkpoint_every` lines.
    """
    stats = MergeStats()
    meta_key = f"{label_attribute}-metadata"
    this_job = f"labeling-job/{job_name}".lower()
    for raw in lines:
        stats.lines += 1
        if stats.lines <= skip:
            continue
        if checkpoint is not None and stats.lines % checkpoint_every == 0:
            checkpoint(stats.lines - 1)
        try:
            line = json.loads(raw)
            uri = line["source-ref"]
        except (ValueError, KeyError, TypeError):
            stats.malformed += 1
            continue
        object_id = object_id_of(uri) if isinstance(uri, str) else None
        if object_id is None:
            stats.unknown += 1
            continue
        metadata = line.get(meta_key)
        if not isinstance(metadata, dict):
            stats.not_processed += 1
            continue
        if str(metadata.get("job-name", this_job)).lower() != this_job:
            stats.carried += 1
            continue
        if "failure-reason" in metadata or label_attribute not in line:
            stats.failed_attempts += 1
            reason = str(metadata.get("failure-reason", "no label in the output manifest"))
            if sink.failed(object_id, reason) == FAILED:
                stats.permanently_failed += 1
            continue
        stats.labeled += 1
        sink.labeled(object_id, uri, label_json(line, label_attribute))
    return stats


def label_json(line: dict[str, Any], label_attribute: str) -> str:
    """What the ledger keeps of a labeled line: the label attribute's value as the line carries it
    (class id, boxes, a mask reference...) and its metadata. The end-of-job merge and the live
    labels (gtstream.live_labels) write the same string for the same line."""
    meta_key = f"{label_attribute}-metadata"
    return json.dumps({label_attribute: line[label_attribute], meta_key: line[meta_key]})
