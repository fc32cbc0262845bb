"""Review stages (docs/interfaces.md "Stages"): one project deployment per stage, fed by the
upstream stage's output topic, and the rejected objects sent back for a new labeling round.

- A downstream stage's intake queue is subscribed (raw message delivery) to the upstream stage's
  output topic: each message is one output-manifest line of the upstream's jobs ("Receive output
  data from a streaming labeling job",
  docs.aws.amazon.com/sagemaker/latest/dg/sms-streaming-how-it-works-output-data.html). The
  object keeps the upstream's id and image (no fetch, no transform); the stage records it PENDING
  with the line to send (``input_line``) and its round.
- A review stage's labels function decides on each label (``review`` of its project config) and
  sends one "Object Rejected" message per rejected object to ``REJECTED_QUEUE_URL`` (the upstream
  stage's intake queue), which puts the object back to PENDING for a new round, or holds it back
  (FAILED, with the reason) past ``MAX_REVIEW_ROUNDS``.

Every step is a conditional write on the object's round (which never goes back), so duplicated,
late or re-ordered messages change nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from gtcontract.states import LABELED
from gtstream.deps import Deps
from gtstream.ledger import ACCEPTED, REJECTED
from gtstream.manifest import object_id_of, round_of, stage_line

log = logging.getLogger("gtstream.stages")
SOURCE = "gtstream"
REJECTED_DETAIL_TYPE = "Object Rejected"
METADATA_SUFFIX = "-metadata"


@dataclass(frozen=True)
class StageLine:
    """One output-manifest line of the upstream stage."""

    object_id: str
    input_uri: str
    review_round: int
    upstream_job: str
    line: str  # what this stage sends to its job (gtstream.manifest.stage_line)


@dataclass(frozen=True)
class Rejection:
    """A downstream review rejected this stage's label of ``review_round``."""

    object_id: str
    input_uri: str
    review_round: int
    rejected_by: str
    reason: str


def rejected_message(object_id: str, input_uri: str, review_round: int, job: str, reason: str) -> str:
    """The body sent to ``REJECTED_QUEUE_URL`` for one rejected object (docs/interfaces.md)."""
    return json.dumps(
        {
            "source": SOURCE,
            "detail-type": REJECTED_DETAIL_TYPE,
            "detail": {
                "object_id": object_id,
                "input_uri": input_uri,
                "round": review_round,
                "rejected_by": job,
                "reason": reason,
            },
        }
    )


def parse_rejection(body: dict[str, Any]) -> Rejection:
    """The rejected message's detail; ``ValueError`` (one line) when a field is missing or wrong."""
    detail = body.get("detail")
    if not isinstance(detail, dict):
        raise ValueError(f"{REJECTED_DETAIL_TYPE} message without a detail object")
    object_id, uri = detail.get("object_id"), detail.get("input_uri")
    review_round, job = detail.get("round"), detail.get("rejected_by")
    if not (isinstance(object_id, str) and isinstance(uri, str) and object_id_of(uri) == object_id):
        raise ValueError(f"{REJECTED_DETAIL_TYPE}: object_id and input_uri must name the same object")
    if not isinstance(review_round, int) or isinstance(review_round, bool) or review_round < 0:
        raise ValueError(f"{REJECTED_DETAIL_TYPE}: round must be an integer >= 0, not {review_round!r}")
    if not isinstance(job, str) or not job:
        raise ValueError(f"{REJECTED_DETAIL_TYPE}: rejected_by must name the reviewing job")
    return Rejection(object_id, uri, review_round, job, str(detail.get("reason") or "rejected in review"))


def labels_of(line: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(attribute, metadata) of every label a line carries (metadata without ``failure-reason``)."""
    return [
        (key[: -len(METADATA_SUFFIX)], meta)
        for key, meta in line.items()
        if key.endswith(METADATA_SUFFIX)
        and isinstance(meta, dict)
        and "failure-reason" not in meta
        and key[: -len(METADATA_SUFFIX)] in line
    ]


def parse_stage_line(line: dict[str, Any], reviewed_attribute: str | None) -> StageLine:
    """An upstream output line as this stage takes it; ``ValueError`` (one line) when it is no
    labeled object of an upstream stage (its image is not one intake wrote, no label, a failure)."""
    uri = line.get("source-ref")
    object_id = object_id_of(uri) if isinstance(uri, str) else None
    if object_id is None or not isinstance(uri, str):
        raise ValueError("output line whose source-ref is not an image of an upstream stage")
    labels = labels_of(line)
    if reviewed_attribute is not None:
        labels = [(attr, meta) for attr, meta in labels if attr == reviewed_attribute]
    if not labels:
        wanted = f" {reviewed_attribute!r}" if reviewed_attribute else ""
        raise ValueError(f"output line of {object_id} without a label{wanted} to review")
    _, metadata = labels[0]
    job = str(metadata.get("job-name", "")).removeprefix("labeling-job/")
    review_round = round_of(line)
    return StageLine(object_id, uri, review_round, job, stage_line(line, object_id, review_round))


def decide(deps: Deps, object_id: str, job: str, input_uri: str, label: str, review_round: int) -> str | None:
    """A review stage's decision on its label (``label``: ``gtstream.manifest.label_json``) of
    ``job``: record the verdict, and send a rejected object back (``REJECTED_QUEUE_URL``).

    Called after every write of a label (live or end-of-job merge), whatever that write returned:
    the verdict is recorded once (conditional), and the message is sent unless the object records
    it as sent for this round, then recorded as sent. A crash in between sends it again, which the
    upstream ignores (its reset is conditional on the round): the effect is exactly once.

    Only in a stage (``UPSTREAM_OUTPUT_TOPIC_ARN`` or ``REJECTED_QUEUE_URL`` set): a project of one
    stage records its labels and decides nothing (its roles are not granted the reads it takes)."""
    settings = deps.settings
    if not (settings.upstream_output_topic_arn or settings.rejected_queue_url):
        return None
    try:
        config = deps.project_config()
    except ValueError as exc:
        log.warning("project config unusable; review of %s left to the job end: %s", object_id, exc)
        return None
    if config is None or config.review_accept is None:
        return None
    parsed = json.loads(label)
    metadata = parsed.get(f"{config.label_attribute_name}-metadata")
    verdict = config.review_verdict(metadata if isinstance(metadata, dict) else {})
    if verdict is None:
        return None
    ledger = deps.ledger
    if ledger.record_verdict(object_id, job, review_round, verdict):
        deps.metrics.add_metric("ObjectsAccepted" if verdict == ACCEPTED else "ObjectsRejected", "Count", 1)
    if verdict != REJECTED or not deps.settings.rejected_queue_url:
        return verdict
    item = ledger.get_object(object_id)
    if (
        item is None
        or item.get("state") != LABELED
        or item.get("job") != job
        or item.get("verdict") != REJECTED
        or int(item.get("review_round", 0)) != review_round
        or int(item.get("rejection_sent_round", -1)) >= review_round
    ):
        return verdict
    answer = str((metadata or {}).get("class-name") or (metadata or {}).get("adjustment-status") or "")
    reason = f"review answer {answer!r} is not one of {list(config.review_accept)}"
    deps.queues.send(
        deps.settings.rejected_queue_url,
        rejected_message(object_id, input_uri, review_round, job, reason),
    )
    ledger.mark_rejection_sent(object_id, review_round)
    log.info("%s rejected by %s in round %d: sent back", object_id, job, review_round)
    return verdict
