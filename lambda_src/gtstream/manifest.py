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


# Review stages (docs/interfaces.md "Stages"): the labeling round of an object travels in its line
# (Ground Truth copies the input line's attributes into the output line, "Output Data",
# docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html), and a round after the first is a
# new data object for Ground Truth, which sends "each unique object ... for labeling once" by its
# deduplication ID, the value of the key that ``dataset-objectid-attribute-name`` names
# ("Duplicate message handling", docs.aws.amazon.com/sagemaker/latest/dg/sms-streaming-impotency.html
# and sms-streaming-impotency-create.html): a line with an already seen id would be dropped.
ROUND_ATTRIBUTE = "gtstream-round"
ID_ATTRIBUTE = "gtstream-object-id"
DEDUPE_KEY = "dataset-objectid-attribute-name"


def source_line(uri: str, review_round: int = 0) -> str:
    """The manifest/SNS line for an object: Ground Truth dedupes on its source-ref; from the
    second round on (a review rejected its label), on ``<object id>-r<round>``."""
    if not review_round:
        return json.dumps({"source-ref": uri, DEDUPE_KEY: "source-ref"})
    object_id = object_id_of(uri) or uri
    return json.dumps(
        {
            "source-ref": uri,
            ID_ATTRIBUTE: f"{object_id}-r{review_round}",
            ROUND_ATTRIBUTE: review_round,
            DEDUPE_KEY: ID_ATTRIBUTE,
        }
    )


def round_of(line: dict[str, Any]) -> int:
    """The labeling round a line belongs to (0 when it carries none)."""
    value = line.get(ROUND_ATTRIBUTE, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def stage_line(line: dict[str, Any], object_id: str, review_round: int) -> str:
    """The line a downstream stage sends to its own job: the upstream's output line (its labels
    kept: the review shows them), deduplicated on ``<object id>-r<round>`` so that a relabeled
    object is a new data object for this stage's job too. Ground Truth's own stream fields of the
    upstream job (``$<attr>-object-id``, ``$sequencer``) are left out."""
    kept = {k: v for k, v in line.items() if not k.startswith("$") and k != DEDUPE_KEY}
    kept.update(
        {
            ID_ATTRIBUTE: f"{object_id}-r{review_round}",
            ROUND_ATTRIBUTE: review_round,
            DEDUPE_KEY: ID_ATTRIBUTE,
        }
    )
    return json.dumps(kept)


class MergeSink(Protocol):
    def labeled(self, object_id: str, uri: str, label: str, review_round: int = 0) -> None: ...

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
        review_round = round_of(line)
        if review_round:
            sink.labeled(object_id, uri, label_json(line, label_attribute), review_round=review_round)
        else:
            sink.labeled(object_id, uri, label_json(line, label_attribute))
    return stats


def label_json(line: dict[str, Any], label_attribute: str) -> str:
    """What the ledger keeps of a labeled line: the label attribute's value as the line carries it
    (class id, boxes, a mask reference...) and its metadata. The end-of-job merge and the live
    labels (gtstream.live_labels) write the same string for the same line."""
    meta_key = f"{label_attribute}-metadata"
    return json.dumps({label_attribute: line[label_attribute], meta_key: line[meta_key]})
