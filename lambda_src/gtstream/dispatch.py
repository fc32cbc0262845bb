"""Send objects to the running job's input topic and record them as SENT."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from itertools import islice

from gtstream.deps import Deps
from gtstream.ledger import PENDING
from gtstream.manifest import source_line

log = logging.getLogger("gtstream.dispatch")
CHUNK = 100


def _chunks(items: Iterable[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def send_objects(deps: Deps, job: str, objects: Iterable[tuple[str, str]]) -> int:
    """Publish (object id, input URI) pairs in SNS batches of 10, then mark each SENT(job).

    Publish first, mark after: a crash in between leaves the object PENDING, and the re-send is
    deduplicated by Ground Truth on the source-ref (`dataset-objectid-attribute-name`)."""
    sent = 0
    for chunk in _chunks(objects, CHUNK):
        failed = set(
            deps.topics.publish_batch(deps.settings.input_topic_arn, [source_line(uri) for _, uri in chunk])
        )
        for index, (object_id, _) in enumerate(chunk):
            if index in failed:
                log.warning("publish failed for %s; it stays PENDING for the next flush", object_id)
                continue
            if deps.ledger.mark_sent(object_id, job):
                sent += 1
        if failed:
            deps.metrics.add_metric("PublishFailures", "Count", len(failed))
    if sent:
        deps.ledger.touch_sent()
        deps.metrics.add_metric("ObjectsSent", "Count", sent)
    return sent


def flush_pending(deps: Deps, job: str, updated_before: str | None = None) -> int:
    """Send every PENDING object (optionally only those not touched since `updated_before`)."""
    pending = (
        (item["object_id"], item["input_uri"])
        for item in deps.ledger.iter_state(PENDING, updated_before=updated_before)
        if item.get("input_uri")
    )
    return send_objects(deps, job, pending)
