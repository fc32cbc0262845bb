"""Job ends and chain creation: exactly once under duplicate, late, out-of-order and concurrent events.

How "exactly once" holds:
- one project lock (conditional write with a lease) serialises decisions;
- the child's name is derived from the chain index (``P-NNNN``), so a retry after a crash
  computes the same name and ``ResourceInUse`` means "already created" (the job is adopted);
- the chain index only moves forward by one, under the lock;
- a job's end is merged once per object (conditional writes) and recorded once.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gtcontract.names import input_manifest_uri, job_name
from gtcontract.states import (
    ACTIVE,
    BUSY,
    CHAINED,
    CREATED,
    DECISION_STOPPED,
    FAILED,
    IDLE,
    INITIALIZING,
    JOB_CREATED,
    JOB_ENDED,
    LABELED,
    PENDING,
    WAITING,
    chain_event,
    held_by_review,
    sent_state_key,
)
from gtstream.aws import JobDescription
from gtstream.config import Settings
from gtstream.deps import Deps
from gtstream.dispatch import line_of
from gtstream.job_checks import start_following
from gtstream.ledger import TRANSACTION_ITEMS, JobOutcome
from gtstream.manifest import MergeStats, merge_lines
from gtstream.parallel import BoundedPool
from gtstream.project_config import ProjectConfig, ProjectConfigError
from gtstream.stages import decide

log = logging.getLogger("gtstream.chaining")
# The lease outlasts the longest invocation (a Lambda runs at most 15 minutes): a job end of 10^6
# objects under the lock must not see it expire and a second decision start meanwhile.
LOCK_LEASE_SECONDS = 900
DRAIN_EVERY = 10_000  # writes submitted between two waits for them (bounds the pending futures)
CHECKPOINT_EVERY = 10_000  # output-manifest lines between two merge checkpoints (merged_lines)


@dataclass(frozen=True)
class Decision:
    action: str  # one of gtcontract.states.DECISIONS
    reason: str
    job: str | None = None

    def __str__(self) -> str:
        return f"{self.action}: {self.reason}"


class _LedgerSink:
    """The job end's writes: TRANSACTION_ITEMS distinct objects per TransactWriteItems request
    (``Ledger.merge_outcomes``), on a bounded pool of threads. ``drain`` sends what is buffered and
    waits for everything; a checkpoint is written only after it."""

    def __init__(self, deps: Deps, job: str, pool: BoundedPool) -> None:
        self._deps = deps
        self._job = job
        self._pool = pool
        self._chunk: list[JobOutcome] = []
        self._ids: set[str] = set()
        self.permanently_failed = 0
        self.written = 0
        # A review stage decides on each label once it is written (gtstream.stages.decide, the
        # live path's decision): the labels since the last drain, so memory stays bounded.
        self.reviews = False
        self._labeled: list[tuple[str, str, str, int]] = []

    def add(self, outcome: JobOutcome) -> None:
        if outcome[1] in self._ids:  # one request may not touch an item twice
            self._send()
        self._chunk.append(outcome)
        self._ids.add(outcome[1])
        if len(self._chunk) == TRANSACTION_ITEMS:
            self._send()

    def _send(self) -> None:
        if self._chunk:
            ledger, settings = self._deps.ledger, self._deps.settings
            self._pool.submit(ledger.merge_outcomes, self._job, self._chunk, settings.max_object_failures)
        self._chunk, self._ids = [], set()

    def labeled(self, object_id: str, uri: str, label: str, review_round: int = 0) -> None:
        self.add(("labeled", object_id, uri, label, str(review_round)))
        if self.reviews:
            self._labeled.append((object_id, uri, label, review_round))

    def failed(self, object_id: str, reason: str) -> str | None:
        self.add(("failed", object_id, reason))
        return None  # counted by drain()

    def drain(self) -> None:
        self._send()
        for results in self._pool.drain():
            self.permanently_failed += sum(1 for result in results if result == FAILED)
            self.written += sum(1 for result in results if result is True)
        labeled, self._labeled = self._labeled, []
        for object_id, uri, label, review_round in labeled:
            decide(self._deps, object_id, self._job, uri, label, review_round)


def handle_job_end(deps: Deps, desc: JobDescription) -> MergeStats | None:
    """Merge a terminal job's output manifest into the ledger and record the end (idempotent).

    Returns the merge statistics, or None when the end had already been recorded. The writes run
    on a bounded pool of threads; the merge checkpoint (``merged_lines``) is written only once
    every write before it is done, so a retry after a timeout resumes there and rewrites nothing
    that is already recorded (each write is conditional on the state it changes)."""
    ledger = deps.ledger
    known = ledger.get_job(desc.name)
    if known is not None and known.get("ended_at"):
        ledger.clear_active_job(desc.name)
        return None
    stats = MergeStats()
    with BoundedPool() as pool:
        lines = deps.store.iter_lines(desc.expected_output_manifest_uri())
        if lines is not None:
            sink = _LedgerSink(deps, desc.name, pool)
            config = deps.project_config_or_none()
            sink.reviews = config is not None and config.review_accept is not None

            def checkpoint(done: int) -> None:
                sink.drain()
                ledger.set_merged_lines(desc.name, done)

            # A merge interrupted by a timeout resumes where its last checkpoint left off.
            stats = merge_lines(
                lines,
                desc.label_attribute_name,
                desc.name,
                sink,
                skip=int((known or {}).get("merged_lines", 0)),
                checkpoint=checkpoint,
                checkpoint_every=CHECKPOINT_EVERY,
            )
            sink.drain()
            stats.permanently_failed = sink.permanently_failed
        # Objects sent to the job but never worked on (it ended first) go back to PENDING, uncounted.
        sweep = _LedgerSink(deps, desc.name, pool)
        for n, item in enumerate(ledger.iter_state(sent_state_key(desc.name)), 1):
            sweep.add(("returned", item["object_id"]))
            if n % DRAIN_EVERY == 0:
                sweep.drain()
        sweep.drain()
        returned = sweep.written
    first = ledger.mark_job_ended(desc.name, desc.status, desc.counters, desc.failure_reason)
    ledger.clear_active_job(desc.name)
    if first:
        deps.metrics.add_metric("ObjectsLabeled", "Count", stats.labeled)
        deps.metrics.add_metric("ObjectAttemptsFailed", "Count", stats.failed_attempts)
        deps.notifier.notify(
            JOB_ENDED,
            f"{desc.name} ended {desc.status}: {stats.labeled} labeled, "
            f"{stats.failed_attempts} expired/failed, "
            f"{stats.permanently_failed} past the failure limit, {returned} not worked on",
            job=desc.name,
            status=desc.status,
            failure_reason=desc.failure_reason,
            merge=stats.__dict__,
            returned_to_pending=returned,
        )
    return stats


def _decide(
    deps: Deps, action: str, reason: str, job: str | None = None, parent: str | None = None
) -> Decision:
    """Record a decision on the project (and the ended job); notify when it is new."""
    changed = deps.ledger.record_decision(action, reason)
    if parent:
        deps.ledger.set_job_decision(parent, action, reason)
    if changed and action in (DECISION_STOPPED, WAITING):
        deps.notifier.notify(chain_event(action), reason, job=job, parent=parent)
    log.info("decision %s: %s", action, reason)
    return Decision(action, reason, job)


def held_back_reasons(deps: Deps) -> str:
    """The FAILED objects by the limit that holds each back ('' when none): the per-object failure
    limit, or a downstream review's rejections in MAX_REVIEW_ROUNDS rounds (Ledger.reopen_rejected)."""
    settings = deps.settings
    by_failures = by_review = 0
    for item in deps.ledger.iter_state(FAILED):
        if held_by_review(item, settings.max_object_failures):
            by_review += 1
        else:
            by_failures += 1
    parts = []
    if by_failures:
        parts.append(
            f"{by_failures} object(s) reached the per-object failure limit ({settings.max_object_failures})"
        )
    if by_review:
        parts.append(
            f"{by_review} object(s) were rejected by review in MAX_REVIEW_ROUNDS="
            f"{settings.max_review_rounds} labeling round(s)"
        )
    return "; ".join(parts)


def ensure_job(deps: Deps, reason: str) -> Decision:
    """Make sure a job runs when there is work: process an unrecorded end, then chain exactly once."""
    owner = uuid.uuid4().hex
    if not deps.ledger.acquire_lock(owner, LOCK_LEASE_SECONDS):
        return Decision(BUSY, "another invocation holds the project lock")
    try:
        return _ensure_job_locked(deps, reason, owner)
    finally:
        deps.ledger.release_lock(owner)


def _ensure_job_locked(deps: Deps, reason: str, owner: str) -> Decision:
    settings, ledger = deps.settings, deps.ledger
    for _ in range(settings.max_chain_depth + 2):
        project = ledger.get_project()
        active = project.get("active_job")
        if active:
            desc = deps.jobs.describe(active)
            if desc is not None and desc.active:
                return Decision(ACTIVE, f"{active} is {desc.status}", active)
            if desc is not None:
                handle_job_end(deps, desc)
            else:
                log.warning("active job %s does not exist; clearing it", active)
                ledger.clear_active_job(active)
            project = ledger.get_project()
        index = int(project.get("chain_index", 0)) + 1
        name = job_name(settings.project_prefix, index)
        parent = job_name(settings.project_prefix, index - 1) if index > 1 else None
        existing = deps.jobs.describe(name)
        if existing is not None:
            # Created by an invocation that crashed before recording it: adopt it.
            ledger.add_job(name, index, parent, "adopted after an interrupted chain", None)
            ledger.set_active_job(owner, name, index, existing.label_attribute_name)
            log.warning("adopted %s (%s)", name, existing.status)
            if existing.active:
                start_following(deps, name)
                return Decision(ACTIVE, f"adopted {name} ({existing.status})", name)
            continue  # it already ended too: process its end, then decide again
        if not ledger.has_state(PENDING):
            held = held_back_reasons(deps)
            if held:
                return _decide(
                    deps,
                    DECISION_STOPPED,
                    f"no chained job: {held} and nothing else is unlabeled",
                    parent=parent,
                )
            return _decide(
                deps, IDLE, "every object is labeled, quarantined or failed; no job needed", parent=parent
            )
        if index > settings.max_chain_depth:
            return _decide(
                deps,
                DECISION_STOPPED,
                f"max chain depth {settings.max_chain_depth} reached; unlabeled objects stay PENDING "
                "(raise MAX_CHAIN_DEPTH to continue)",
                parent=parent,
            )
        try:
            config = deps.project_config(fresh=True)
        except (ProjectConfigError, ValueError) as exc:
            return _decide(
                deps,
                WAITING,
                f"project config {settings.project_config_uri} is invalid: {exc}",
                parent=parent,
            )
        if config is None:
            return _decide(
                deps, WAITING, f"waiting for project config at {settings.project_config_uri}", parent=parent
            )
        return _create(
            deps, owner, config, index, name, parent, reason, str(project.get("label_attribute_name") or "")
        )
    return _decide(deps, DECISION_STOPPED, "too many adopted jobs in one decision; will retry")


def _labeled_and_pending_lines(deps: Deps, attr: str, spool: Any) -> Iterator[str]:
    """Every earlier label (kept) then every PENDING object; pending ids are spooled to a file."""
    for item in deps.ledger.iter_state(LABELED, attributes=("input_uri", "label", "input_line")):
        label = json.loads(item.get("label") or "{}")
        if item.get("input_uri") and attr in label:
            # A stage's object keeps the upstream's line (the reviewed label) beside its own label.
            line = json.loads(item["input_line"]) if item.get("input_line") else {}
            yield json.dumps({**line, "source-ref": item["input_uri"], **label})
    for item in deps.ledger.iter_state(
        PENDING, attributes=("object_id", "input_uri", "input_line", "review_round")
    ):
        if item.get("input_uri"):
            spool.write(item["object_id"] + "\n")
            if item.get("input_line") or item.get("review_round"):
                yield line_of(item)
            else:
                yield json.dumps({"source-ref": item["input_uri"]})


def _create(
    deps: Deps,
    owner: str,
    config: ProjectConfig,
    index: int,
    name: str,
    parent: str | None,
    reason: str,
    chain_attr: str,
) -> Decision:
    settings, ledger = deps.settings, deps.ledger
    attr = chain_attr or config.label_attribute_name
    if chain_attr and chain_attr != config.label_attribute_name:
        log.warning(
            "config label_attribute_name %s ignored: the chain keeps %s", config.label_attribute_name, attr
        )
    manifest_uri = input_manifest_uri(settings.input_bucket, name) if parent else None
    with tempfile.TemporaryFile("w+") as spool:
        if manifest_uri:
            lines = deps.store.put_lines(manifest_uri, _labeled_and_pending_lines(deps, attr, spool))
            log.info("wrote %s (%d lines)", manifest_uri, lines)
        ledger.add_job(name, index, parent, reason, manifest_uri)
        try:
            created = deps.jobs.create(build_request(deps, config, name, attr, manifest_uri))
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code != "ValidationException":
                raise
            return _decide(deps, WAITING, f"CreateLabelingJob {name} rejected: {exc}", name, parent)
        spool.seek(0)
        _mark_spooled_sent(deps, name, spool)
    ledger.set_active_job(owner, name, index, attr)
    # The config version the job runs with: a roll-over compares it with the published one.
    ledger.set_job_status(name, INITIALIZING, config_version=config.version)
    # No InProgress event is documented: follow the new job with delayed checks (job_checks).
    start_following(deps, name)
    why = f"{name} {'created' if created else 'already existed (adopted)'}: {reason}"
    ledger.record_decision(CREATED, why)
    if parent:
        ledger.set_job_decision(parent, CHAINED, why)
    if created:  # the invocation that really created it says so, once
        deps.notifier.notify(JOB_CREATED, why, job=name, parent=parent, config_version=config.version)
        deps.metrics.add_metric("JobsCreated", "Count", 1)
    return Decision(CREATED, why, name)


def _mark_spooled_sent(deps: Deps, job: str, spool: Any) -> None:
    """SENT(job) for every object id of the spool (one a line): TransactWriteItems of
    TRANSACTION_ITEMS objects each, on the bounded pool."""
    with BoundedPool() as pool:
        chunk: list[str] = []
        for n, line in enumerate(spool, 1):
            chunk.append(line.strip())
            if len(chunk) == TRANSACTION_ITEMS:
                pool.submit(deps.ledger.mark_sent_many, chunk, job)
                chunk = []
            if n % DRAIN_EVERY == 0:
                pool.drain()
        if chunk:
            pool.submit(deps.ledger.mark_sent_many, chunk, job)
        pool.drain()


def force_chain(settings: Settings, reason: str) -> Decision:
    """Run the chaining decision now (operator CLI `gtctl chain`): same rules, same lock."""
    return ensure_job(Deps.build(settings), f"forced: {reason}")


def build_request(
    deps: Deps, config: ProjectConfig, name: str, attr: str, manifest_uri: str | None
) -> dict[str, Any]:
    settings = deps.settings
    pre, acs = config.lambda_arns(settings.region)
    data_source: dict[str, Any] = {"SnsDataSource": {"SnsTopicArn": settings.input_topic_arn}}
    if manifest_uri:
        data_source["S3DataSource"] = {"ManifestS3Uri": manifest_uri}
    output: dict[str, Any] = {
        "S3OutputPath": settings.output_s3_path,
        "SnsTopicArn": settings.output_topic_arn,
    }
    if settings.output_kms_key_id:
        output["KmsKeyId"] = settings.output_kms_key_id
    # TaskKeywords: the contract's schema already holds them to the API's pattern and limits.
    keywords = list(config.keywords)
    input_config: dict[str, Any] = {"DataSource": data_source}
    if config.content_classifiers:
        input_config["DataAttributes"] = {"ContentClassifiers": list(config.content_classifiers)}
    return {
        "LabelingJobName": name,
        "LabelAttributeName": attr,
        "InputConfig": input_config,
        "OutputConfig": output,
        "RoleArn": settings.groundtruth_role_arn,
        "LabelCategoryConfigS3Uri": config.label_category_config_uri,
        "HumanTaskConfig": {
            "WorkteamArn": config.workteam_arn,
            "UiConfig": {"UiTemplateS3Uri": config.template_uri},
            "PreHumanTaskLambdaArn": pre,
            "TaskKeywords": keywords,
            "TaskTitle": config.title[:128] or "Label the image",
            "TaskDescription": config.description[:255] or "Label the image",
            "NumberOfHumanWorkersPerDataObject": config.workers_per_object,
            "TaskTimeLimitInSeconds": config.task_time_limit_seconds,
            "TaskAvailabilityLifetimeInSeconds": config.task_availability_lifetime_seconds,
            "MaxConcurrentTaskCount": config.max_concurrent_task_count,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": acs},
        },
        "Tags": [
            {"Key": "gtstream:project", "Value": settings.project_prefix},
            {"Key": "gtstream:config-version", "Value": config.version[:256] or "unknown"},
        ],
    }
