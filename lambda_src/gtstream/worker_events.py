"""Worker task status events -> metrics; a spike of declined tasks is notified once per window."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gtcontract.names import job_name_from_arn
from gtcontract.states import DECLINE_SPIKE, TASK_STATUS_CHANGE
from gtstream.deps import Deps

log = logging.getLogger("gtstream.worker_events")
STATES = ("accepted", "declined", "submitted", "returned", "expired", "failed")
WINDOW_MINUTES = 60
SPIKE_MIN_DECLINES = 5
SPIKE_RATIO = 0.5


@dataclass
class WorkerEventResult:
    job: str | None
    state: str
    spike: bool = False


def _field(detail: dict[str, Any], *names: str) -> str:
    for name in names:
        if detail.get(name):
            return str(detail[name])
    return ""


def handle_task_event(deps: Deps, event: Any) -> WorkerEventResult:
    if not isinstance(event, dict) or event.get("detail-type") != TASK_STATUS_CHANGE:
        raise ValueError(f"not a task status-change event: {str(event)[:200]}")
    detail = event.get("detail") or {}
    arn = _field(detail, "labeling-job-arn", "LabelingJobArn") or str((event.get("resources") or [""])[0])
    job = job_name_from_arn(deps.settings.project_prefix, arn)
    if job is None:
        return WorkerEventResult(None, "ignored")
    state = _field(detail, "state", "task-status", "TaskStatus", "status").lower()
    if state not in STATES:
        log.warning("unknown worker task state %r for %s", state, job)
        return WorkerEventResult(job, state or "unknown")
    deps.metrics.add_metric(f"Tasks{state.capitalize()}", "Count", 1)
    now = deps.now()
    window = now.strftime("%Y%m%dT") + f"{now.hour:02d}{(now.minute // WINDOW_MINUTES) * WINDOW_MINUTES:02d}"
    counts = deps.ledger.count_worker_event(window, state)
    declined, total = int(counts.get("declined", 0)), int(counts.get("total", 0))
    spike = declined >= SPIKE_MIN_DECLINES and declined >= SPIKE_RATIO * total
    if spike and deps.ledger.mark_spike_notified(window):
        deps.notifier.notify(
            DECLINE_SPIKE,
            f"{declined} of {total} worker task events declined in the current hour ({job})",
            job=job,
            declined=declined,
            total=total,
            window=window,
        )
        return WorkerEventResult(job, state, spike=True)
    return WorkerEventResult(job, state)
