"""Intake: a dropped image -> validated, pre-processed, content-addressed, recorded, sent or PENDING."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus

from gtcontract.states import ACTIVE, DROP_QUARANTINED, IN_PROGRESS, OBJECT_QUARANTINED
from gtstream import transforms
from gtstream.chaining import Decision, ensure_job
from gtstream.deps import Deps
from gtstream.dispatch import send_objects
from gtstream.ledger import PENDING
from gtstream.manifest import source_line
from gtstream.project_config import DEFAULT_PREPROCESSING
from gtstream.stages import REJECTED_DETAIL_TYPE, Rejection, StageLine, parse_rejection, parse_stage_line

log = logging.getLogger("gtstream.intake")


@dataclass(frozen=True)
class Drop:
    bucket: str
    key: str
    size: int | None = None


@dataclass
class Outcome:
    key: str
    action: str  # new (until recorded) | accepted | duplicate | quarantined | skipped | reopened
    object_id: str | None = None
    input_uri: str | None = None
    reason: str | None = None
    state: str | None = None  # the object's ledger state when recorded (accepted/duplicate)
    line: str | None = None  # what to send when it is not the plain source line of input_uri
    drop: bool = True  # a dropped file (its drop record is written); False for stage messages


@dataclass
class DispatchResult:
    sent: int = 0
    decision: Decision | None = None
    pending: list[str] = field(default_factory=list)


Message = Drop | StageLine | Rejection
NEW = "new"  # a drop stored, its ledger writes to come (record)


def parse_message(body: Any, reviewed_attribute: str | None = None) -> list[Message]:
    """What one intake queue message holds: an S3 event notification (the drop bucket's), an
    upstream stage's output-manifest line (raw delivery; an SNS envelope is unwrapped), or a
    downstream review's rejected message. ``ValueError`` (one line) for anything else."""
    if isinstance(body, dict) and body.get("Type") == "Notification" and isinstance(body.get("Message"), str):
        body = json.loads(body["Message"])
    if isinstance(body, dict) and body.get("detail-type") == REJECTED_DETAIL_TYPE:
        return [parse_rejection(body)]
    if isinstance(body, dict) and "source-ref" in body:
        return [parse_stage_line(body, reviewed_attribute)]
    return list(parse_s3_event(body))


def parse_s3_event(body: Any) -> list[Drop]:
    """The S3 notification in an SQS body (as S3 sends it); [] for s3:TestEvent. Keys are URL-decoded."""
    if not isinstance(body, dict):
        raise ValueError("S3 event body must be a JSON object")
    if body.get("Event") == "s3:TestEvent":
        return []
    if "Records" not in body or not isinstance(body["Records"], list):
        raise ValueError("not an S3 event notification: no Records list")
    drops = []
    for record in body["Records"]:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        drops.append(Drop(s3["bucket"]["name"], unquote_plus(s3["object"]["key"]), s3["object"].get("size")))
    return drops


def _ascii(text: str) -> str:
    return quote(text, safe=" :/.,-_()=<>'")[:1024]


def process_drop(deps: Deps, drop: Drop) -> Outcome:
    """Validate, transform and record one dropped object (:func:`take_drop`, then :func:`record`
    of it alone). Idempotent: safe to retry."""
    outcome = take_drop(deps, drop)
    record(deps, [outcome])
    return outcome


def take_drop(deps: Deps, drop: Drop) -> Outcome:
    """Validate, transform and store one dropped object: a "new" outcome whose ledger writes
    :func:`record` makes with the batch's (:func:`dispatch`), or quarantined / skipped (recorded
    here). Idempotent: safe to retry.

    Requests per new image: S3 GetObject, S3 PutObject (only if absent). The image is decoded once."""
    settings, ledger = deps.settings, deps.ledger
    if drop.bucket != settings.drop_bucket:
        return Outcome(drop.key, "skipped", reason=f"not the drop bucket: {drop.bucket}")
    if drop.key.startswith(settings.quarantine_prefix):
        return Outcome(drop.key, "skipped", reason="under the quarantine prefix")
    data = deps.store.get_bytes(drop.bucket, drop.key, max_bytes=settings.max_image_bytes)
    if data is None:
        known = ledger.get_drop(drop.key)
        reason = "already processed" if known else "object vanished before intake"
        log.warning("%s: %s", drop.key, reason)
        return Outcome(drop.key, "skipped", reason=reason)
    object_id = hashlib.sha256(data).hexdigest()
    config = deps.project_config_or_none()
    preprocessing = config.preprocessing if config else DEFAULT_PREPROCESSING
    try:
        image = transforms.decode(
            data,
            settings.max_image_bytes,
            settings.max_image_pixels,
            max_side=transforms.kept_side(preprocessing.transform, preprocessing.options),
            memory=transforms.memory_budget(),
        )
    except transforms.Rejected as rejected:
        return quarantine(deps, drop, object_id, rejected.reason)
    try:
        out = transforms.apply(preprocessing.transform, data, image, preprocessing.options)
    finally:
        image.close()
    key = f"images/{object_id}.{out.extension}"
    uri = f"s3://{settings.input_bucket}/{key}"
    # The image first, then the ledger (record): a PENDING object always has its image.
    # Content-addressed, so an image already there (a duplicate, a retry) is never overwritten.
    deps.store.put_bytes_if_absent(
        settings.input_bucket, key, out.data, out.content_type, {"drop-key": _ascii(drop.key)}
    )
    return Outcome(drop.key, NEW, object_id, uri)


def record(deps: Deps, outcomes: Iterable[Outcome]) -> None:
    """The ledger writes of a batch's new drops, together (``Ledger.record_batch``: one
    TransactWriteItems request for a batch of 10): each object PENDING unless it exists, each
    drop record. Each "new" outcome becomes "accepted" (its object created here) or "duplicate"
    (the object existed, or an earlier drop of the batch has the same content), with the object's
    state and input URI as they are in the ledger."""
    todo = [o for o in outcomes if o.action == NEW and o.object_id and o.input_uri]
    if not todo:
        return
    claims = [(str(o.object_id), str(o.input_uri), [o.key]) for o in todo]
    existing = deps.ledger.record_batch(claims)
    seen: set[str] = set()
    for outcome in todo:
        object_id = str(outcome.object_id)
        old = existing.get(object_id)
        outcome.action = "accepted" if old is None and object_id not in seen else "duplicate"
        outcome.state = PENDING if old is None else str(old.get("state", ""))
        if old is not None:
            outcome.input_uri = str(old.get("input_uri") or outcome.input_uri)
        seen.add(object_id)
        deps.metrics.add_metric("ObjectsAccepted", "Count", 1)


NO_UPSTREAM = "an upstream stage's line, but this stage has none (UPSTREAM_OUTPUT_TOPIC_ARN)"


def process_stage_line(deps: Deps, item: StageLine) -> Outcome:
    """An upstream stage's labeled object: recorded PENDING with the line to send (the image stays
    in the upstream's input bucket: this stage's Ground Truth role reads it there), once per round."""
    if not deps.settings.upstream_output_topic_arn:
        return Outcome(item.input_uri, "skipped", item.object_id, reason=NO_UPSTREAM)
    action, state = deps.ledger.put_stage_object(
        item.object_id, item.input_uri, item.line, item.review_round, item.upstream_job
    )
    if action == "accepted":
        deps.metrics.add_metric("ObjectsAccepted", "Count", 1)
    return Outcome(
        item.input_uri, action, item.object_id, item.input_uri, state=state, line=item.line, drop=False
    )


def process_rejection(deps: Deps, item: Rejection) -> Outcome:
    """A downstream review rejected this stage's label: PENDING for a new round (sent with the
    batch), or held back past MAX_REVIEW_ROUNDS; a duplicate or late message changes nothing."""
    settings = deps.settings
    state = deps.ledger.reopen_rejected(
        item.object_id, item.review_round, item.rejected_by, item.reason, settings.max_review_rounds
    )
    if state is None:
        return Outcome(
            item.input_uri, "duplicate", item.object_id, reason="rejection already handled", drop=False
        )
    deps.metrics.add_metric("ObjectsRelabeled" if state == PENDING else "ObjectsHeldBack", "Count", 1)
    log.info(
        "%s rejected by %s in round %d: now %s", item.object_id, item.rejected_by, item.review_round, state
    )
    next_round = item.review_round + 1
    return Outcome(
        item.input_uri,
        "reopened",
        item.object_id,
        item.input_uri,
        reason=item.reason,
        state=state,
        line=source_line(item.input_uri, next_round),
        drop=False,
    )


def process(deps: Deps, message: Message) -> Outcome:
    """One message of a batch; a drop's ledger writes are made with the batch's (:func:`dispatch`)."""
    if isinstance(message, StageLine):
        return process_stage_line(deps, message)
    if isinstance(message, Rejection):
        return process_rejection(deps, message)
    return take_drop(deps, message)


# "The object key name is a sequence of Unicode characters with UTF-8 encoding of up to 1,024 bytes
# long" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
MAX_KEY_BYTES = 1024


def quarantine_key(prefix: str, key: str) -> str:
    """``prefix + key``; when that exceeds S3's 1,024 bytes, the key's digest and its longest tail
    that fits (whole characters), so a 1 KB name is quarantined too (its full name is in the ledger)."""
    target = f"{prefix}{key}"
    if len(target.encode("utf-8")) <= MAX_KEY_BYTES:
        return target
    head = f"{prefix}{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}-"
    room = MAX_KEY_BYTES - len(head.encode("utf-8"))
    tail = key.encode("utf-8")[-room:].decode("utf-8", "ignore")
    return head + tail


def quarantine(deps: Deps, drop: Drop, object_id: str, reason: str) -> Outcome:
    """Copy to the quarantine prefix with the reason, record it, then remove the original drop."""
    settings = deps.settings
    target = quarantine_key(settings.quarantine_prefix, drop.key)
    deps.store.copy(
        drop.bucket, drop.key, drop.bucket, target, {"reason": _ascii(reason), "object-id": object_id}
    )
    deps.ledger.add_quarantined_object(object_id, drop.key, reason)
    deps.ledger.record_drop(drop.key, object_id, DROP_QUARANTINED, reason, target)
    deps.store.delete(drop.bucket, drop.key)
    deps.metrics.add_metric("ObjectsQuarantined", "Count", 1)
    deps.notifier.notify(
        OBJECT_QUARANTINED,
        f"{drop.key} quarantined: {reason}",
        drop_key=drop.key,
        quarantine_key=target,
        reason=reason,
    )
    log.warning("quarantined %s: %s", drop.key, reason)
    return Outcome(drop.key, "quarantined", object_id, reason=reason)


def dispatch(deps: Deps, outcomes: Iterable[Outcome]) -> DispatchResult:
    """After a batch: record its new drops (:func:`record`), then send what is PENDING to
    an InProgress job (one PublishBatch per 10, one TransactWriteItems per 24), else make sure a job
    is starting. The job state is read once per batch (the project item, DescribeLabelingJob).

    Nothing here can lose an object: once recorded it is PENDING in the ledger, and a failure to
    send is retried by the next flush (the job check that finds the job InProgress) or by
    reconcile; a failure to record fails the invocation, so the whole batch is retried (every step
    is idempotent; an image stored by take_drop is then found there)."""
    outcomes = list(outcomes)
    record(deps, outcomes)
    # The state each object had when it was written (no read again): sending one that a concurrent
    # flush sent meanwhile is harmless (Ground Truth dedupes on the source-ref; SENT -> SENT(job)).
    pending = list(
        {
            o.object_id: o.line or o.input_uri
            for o in outcomes
            if o.object_id and o.input_uri and o.state == PENDING
        }.items()
    )
    result = DispatchResult(pending=[object_id for object_id, _ in pending])
    if not pending:
        return result
    job = deps.ledger.get_project().get("active_job")
    desc = deps.jobs.describe(job) if job else None
    if desc is not None and desc.status == IN_PROGRESS:
        result.sent = send_objects(deps, desc.name, pending)
    elif desc is None or desc.terminal:
        result.decision = ensure_job(deps, f"{len(pending)} new object(s) while no job is active")
        if result.decision.action == ACTIVE and result.decision.job:
            # A job became active meanwhile; if it is already InProgress its flush may be over.
            now = deps.jobs.describe(result.decision.job)
            if now is not None and now.status == IN_PROGRESS:
                result.sent = send_objects(deps, now.name, pending)
    # Initializing: leave PENDING (objects are sent only once a job is InProgress); the job check
    # that finds it InProgress sends them (job_checks). Stopping: the chain picks them up.
    return result


def reviewed_attribute(deps: Deps) -> str | None:
    """The label a stage's job reviews (its config's ``audit_label_attribute_name``), when known."""
    config = deps.project_config_or_none()
    return config.audit_label_attribute_name if config else None
