"""Labels as they arrive: the jobs' output topic feeds the labels queue, one message per label.

Ground Truth sends the output data of each object a worker submits to the job's SNS output topic
(OutputConfig.SnsTopicArn; "Receive output data from a streaming labeling job",
docs.aws.amazon.com/sagemaker/latest/dg/sms-streaming-how-it-works-output-data.html): the object's
output-manifest line. The labels queue's subscription uses raw message delivery, so a message body
is that line; an SNS envelope (``"Type": "Notification"``, a subscription without raw delivery) is
unwrapped too.

Each label is written with ``Ledger.mark_labeled_live``, the end-of-job merge's write under a
stricter condition, and the same label string (``gtstream.manifest.label_json``): the merge, which
stays the authority, then changes nothing for it, and a late or duplicated message changes nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from gtcontract.names import job_index, job_name
from gtstream.deps import Deps
from gtstream.manifest import label_json, object_id_of, round_of
from gtstream.stages import decide

log = logging.getLogger("gtstream.live_labels")
METADATA_SUFFIX = "-metadata"
JOB_NAME_PREFIX = "labeling-job/"  # the metadata's "job-name" ("Output Data", sms-data-output.html)


@dataclass(frozen=True)
class LiveLabel:
    object_id: str
    job: str
    input_uri: str
    label: str
    review_round: int = 0


@dataclass
class LabelResult:
    action: str  # recorded | unchanged | ignored
    object_id: str | None = None
    job: str | None = None


def output_line(body: Any) -> dict[str, Any]:
    """The output-manifest line of one queue message (raw delivery, or an SNS envelope)."""
    if isinstance(body, str):
        body = json.loads(body)
    if isinstance(body, dict) and body.get("Type") == "Notification" and isinstance(body.get("Message"), str):
        body = json.loads(body["Message"])
    if not isinstance(body, dict):
        raise ValueError(f"not an output-manifest line: {str(body)[:200]}")
    return body


def labels_in(prefix: str, line: dict[str, Any]) -> list[LiveLabel]:
    """The labels of this project's jobs in one line: each ``<attribute>-metadata`` naming one of
    its jobs, without ``failure-reason``, whose attribute is in the line. A line can carry earlier
    attributes (a chained job's input); the ledger's condition keeps only the job it was sent to."""
    uri = line.get("source-ref")
    object_id = object_id_of(uri) if isinstance(uri, str) else None
    if object_id is None or not isinstance(uri, str):
        return []
    labels = []
    for key, metadata in line.items():
        if not key.endswith(METADATA_SUFFIX) or not isinstance(metadata, dict):
            continue
        attribute = key[: -len(METADATA_SUFFIX)]
        named = str(metadata.get("job-name", ""))
        index = (
            job_index(prefix, named[len(JOB_NAME_PREFIX) :]) if named.startswith(JOB_NAME_PREFIX) else None
        )
        if index is None or "failure-reason" in metadata or attribute not in line:
            continue
        labels.append(
            LiveLabel(object_id, job_name(prefix, index), uri, label_json(line, attribute), round_of(line))
        )
    return labels


def handle_output(deps: Deps, body: Any) -> LabelResult:
    """One message of the labels queue: record its label (idempotent). A line that is no label of
    this project's jobs is logged and dropped (nothing to retry); a malformed body raises."""
    line = output_line(body)
    labels = labels_in(deps.settings.project_prefix, line)
    if not labels:
        log.info("output line without a label of this project: %s", str(line)[:200])
        return LabelResult("ignored")
    for label in labels:
        if deps.ledger.mark_labeled_live(
            label.object_id, label.job, label.input_uri, label.label, label.review_round
        ):
            deps.metrics.add_metric("LabelsRecordedLive", "Count", 1)
            # A review stage decides on it (idempotent: a retried message decides again, no more).
            decide(deps, label.object_id, label.job, label.input_uri, label.label, label.review_round)
            return LabelResult("recorded", label.object_id, label.job)
    for label in labels:  # recorded before (a retry after a crash, the merge): finish the decision
        decide(deps, label.object_id, label.job, label.input_uri, label.label, label.review_round)
    return LabelResult("unchanged", labels[0].object_id, labels[0].job)
