"""Send objects to the running job's input topic and record them as SENT."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from gtstream.deps import Deps
from gtstream.ledger import PENDING
from gtstream.manifest import source_line

log = logging.getLogger("gtstream.dispatch")
CHUNK = 100


def _chunks(items: Iterable[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def message_of(value: str) -> str:
    """The input topic message for an input URI (its source line), or the line itself."""
    return value if value.startswith("{") else source_line(value)


def line_of(item: dict[str, Any]) -> str:
    """What to send for a PENDING ledger object: a stage's recorded line, else the source line of
    its image in its labeling round."""
    if item.get("input_line"):
        return str(item["input_line"])
    return source_line(str(item["input_uri"]), int(item.get("review_round", 0)))


def send_objects(deps: Deps, job: str, objects: Iterable[tuple[str, str]]) -> int:
    """Publish (object id, input URI or whole line) pairs in SNS batches of 10, then mark them
    SENT(job) together (TransactWriteItems); the last write also sets the project's ``last_sent_at``.

    Publish first, mark after: a crash in between leaves the object PENDING, and the re-send is
    deduplicated by Ground Truth on the source-ref (`dataset-objectid-attribute-name`)."""
    sent = failures = 0
    chunks = _chunks(objects, CHUNK)
    chunk = next(chunks, None)
    while chunk is not None:
        following = next(chunks, None)
        failed = set(
            deps.topics.publish_batch(
                deps.settings.input_topic_arn, [message_of(value) for _, value in chunk]
            )
        )
        published = []
        for index, (object_id, _) in enumerate(chunk):
            if index in failed:
                log.warning("publish failed for %s; it stays PENDING for the next flush", object_id)
            else:
                published.append(object_id)
        touch = following is None and sent + len(published) > 0
        sent += len(deps.ledger.mark_sent_many(published, job, touch=touch))
        failures += len(failed)
        chunk = following
    if failures:
        deps.metrics.add_metric("PublishFailures", "Count", failures)
    if sent:
        deps.metrics.add_metric("ObjectsSent", "Count", sent)
    return sent


def flush_pending(deps: Deps, job: str, updated_before: str | None = None) -> int:
    """Send every PENDING object (optionally only those not touched since `updated_before`)."""
    pending = (
        (item["object_id"], line_of(item))
        for item in deps.ledger.iter_state(PENDING, updated_before=updated_before)
        if item.get("input_uri")
    )
    return send_objects(deps, job, pending)
