"""Scheduled repair: whatever lost, late or crashed events left behind."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gtcontract.names import groundtruth_queue_name, job_name
from gtcontract.states import IDLE_STOP_WARNING, IN_PROGRESS, PENDING
from gtstream.chaining import Decision, ensure_job
from gtstream.deps import Deps
from gtstream.dispatch import flush_pending
from gtstream.ledger import iso
from gtstream.project_config import ProjectConfigError

log = logging.getLogger("gtstream.reconcile")


@dataclass
class ReconcileReport:
    active_job: str | None = None
    status: str | None = None
    resent: int = 0
    decision: Decision | None = None
    deleted_queues: list[str] = field(default_factory=list)
    idle_warning: bool = False
    rolled_over: str | None = None  # the config version the running job was stopped for


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def reconcile(deps: Deps) -> ReconcileReport:
    settings, ledger = deps.settings, deps.ledger
    report = ReconcileReport()
    project = ledger.get_project()
    active = project.get("active_job")
    desc = deps.jobs.describe(active) if active else None
    if desc is not None and desc.status == IN_PROGRESS:
        report.active_job, report.status = desc.name, desc.status
        # PENDING objects older than the threshold missed their flush (lost event, publish failure).
        stale_before = iso(deps.now() - timedelta(seconds=settings.pending_stale_seconds))
        report.resent = flush_pending(deps, desc.name, updated_before=stale_before)
        last = _parse(project.get("last_sent_at")) or desc.creation_time
        idle = last is not None and deps.now() - last >= timedelta(seconds=settings.idle_warn_seconds)
        if idle and last is not None and ledger.mark_idle_warned(desc.name):
            report.idle_warning = True
            deps.notifier.notify(
                IDLE_STOP_WARNING,
                f"{desc.name} received no new object since {last.isoformat()}; Ground Truth stops "
                "a streaming job idle for 10 days (a chained job follows when new images arrive)",
                job=desc.name,
                last_object_at=last.isoformat(),
            )
        report.rolled_over = roll_over(deps, desc.name)
    elif desc is None or not desc.active or ledger.has_state(PENDING):
        # Covers: an end that was never reported, a chain that crashed half-way (expired lock,
        # job created but not recorded), PENDING objects with no job, a vanished active job.
        report.decision = ensure_job(deps, "reconcile")
        report.active_job = report.decision.job
    else:
        report.active_job, report.status = desc.name, desc.status
    report.deleted_queues = delete_ended_job_queues(deps)
    return report


def roll_over(deps: Deps, job: str) -> str | None:
    """Stop the running ``job`` when a newer config with ``"on_publish": "roll-over"`` is published.

    The stop goes through the normal end handling: the ``Stopped`` event (or the next reconcile)
    merges the job's output manifest, returns what it was sent but did not label to PENDING and
    chains, exactly once, a job created from the config published now. A config that does not
    validate never triggers a roll-over (the chain would then wait for a valid one); a job whose
    config version the ledger does not know (created before versions were recorded) is left alone.
    Returns the config version rolled over to, or None."""
    try:
        config = deps.project_config(fresh=True)
    except (ProjectConfigError, ValueError) as exc:
        log.warning("no roll-over: the published project config is invalid: %s", exc)
        return None
    if config is None or not config.rolls_over:
        return None
    running = (deps.ledger.get_job(job) or {}).get("config_version")
    if not running or running == config.version:
        return None
    if not deps.ledger.request_roll_over(job, config.version):
        return None  # already requested: StopLabelingJob is not sent twice
    log.info("rolling %s over from config %s to %s: stopping it", job, running, config.version)
    deps.jobs.stop(job)
    return config.version


def delete_ended_job_queues(deps: Deps) -> list[str]:
    """Delete the ``GroundTruth-<job lower-case>`` queues of this project's ended jobs.

    Ground Truth creates that queue for each streaming job and does not delete it when the job
    stops (https://docs.aws.amazon.com/sagemaker/latest/dg/sms-streaming-how-it-works-sqs.html).
    The names come from the ledger, never from ListQueues: walking down from the chain index, the
    ended jobs (``ended_at``) whose queue is not yet marked deleted, up to the first marked one;
    then oldest first, GetQueueUrl + DeleteQueue (a missing queue is fine) and the mark, so a mark
    means every older ended job was handled too."""
    prefix, ledger = deps.settings.project_prefix, deps.ledger
    todo: list[str] = []
    for index in range(int(ledger.get_project().get("chain_index", 0)), 0, -1):
        name = job_name(prefix, index)
        item = ledger.get_job(name)
        if item is None:
            continue
        if item.get("queue_deleted_at"):
            break
        if item.get("ended_at"):
            todo.append(name)
    deleted = []
    for name in reversed(todo):
        queue_name = groundtruth_queue_name(name)
        if deps.queues.delete_queue_named(queue_name):
            deleted.append(queue_name)
            log.info("deleted queue %s of ended job %s", queue_name, name)
        ledger.mark_queue_deleted(name)
    return deleted
