"""Scheduled repair: whatever lost, late or crashed events left behind."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gtcontract.names import groundtruth_queue_prefix, job_name_from_groundtruth_queue
from gtcontract.states import IDLE_STOP_WARNING, IN_PROGRESS, PENDING
from gtstream.chaining import Decision, ensure_job
from gtstream.deps import Deps
from gtstream.dispatch import flush_pending
from gtstream.ledger import iso

log = logging.getLogger("gtstream.reconcile")


@dataclass
class ReconcileReport:
    active_job: str | None = None
    status: str | None = None
    resent: int = 0
    decision: Decision | None = None
    deleted_queues: list[str] = field(default_factory=list)
    idle_warning: bool = False


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
    elif desc is None or not desc.active or ledger.has_state(PENDING):
        # Covers: an end that was never reported, a chain that crashed half-way (expired lock,
        # job created but not recorded), PENDING objects with no job, a vanished active job.
        report.decision = ensure_job(deps, "reconcile")
        report.active_job = report.decision.job
    else:
        report.active_job, report.status = desc.name, desc.status
    report.deleted_queues = delete_orphaned_queues(deps)
    return report


def delete_orphaned_queues(deps: Deps) -> list[str]:
    """Ground Truth leaves `GroundTruth-<job>` queues behind; delete those of our ended jobs."""
    prefix = deps.settings.project_prefix
    deleted = []
    for url in deps.queues.list_queue_urls(groundtruth_queue_prefix(prefix)):
        queue_name = url.rsplit("/", 1)[-1]
        name = job_name_from_groundtruth_queue(prefix, queue_name)
        if name is None:
            continue  # another project whose prefix starts like ours
        desc = deps.jobs.describe(name)
        job_item = deps.ledger.get_job(name)
        ended = desc is not None and desc.terminal and job_item is not None and bool(job_item.get("ended_at"))
        if ended:
            deps.queues.delete_queue(url)
            deleted.append(queue_name)
            log.info("deleted orphaned queue %s of ended job %s", queue_name, name)
    return deleted
