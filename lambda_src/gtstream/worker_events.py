"""Worker task status events -> metrics; a spike of declined tasks is notified once per window.

The event's detail is that of the EventBridge schema
``aws.sagemaker@SageMakerGroundTruthLabelingJobTaskStatusChange``: ``State``, ``labeling-job-arn``
and ``workteam-team-arn``. The values of ``State`` are not documented beyond "when a worker
accepts, declines, submits, or returns a task" (automating-sagemaker-with-eventbridge), so those
four are counted (``TasksAccepted``, ``TasksDeclined``, ``TasksSubmitted``, ``TasksReturned``) and
anything else is logged, not counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gtcontract.names import job_name_from_arn
from gtcontract.states import DECLINE_SPIKE, TASK_STATUS_CHANGE
from gtstream.deps import Deps

log = logging.getLogger("gtstream.worker_events")
STATES = ("accepted", "declined", "submitted", "returned")
WINDOW_MINUTES = 60
SPIKE_MIN_DECLINES = 5
SPIKE_RATIO = 0.5


@dataclass
class WorkerEventResult:
    job: str | None
    state: str
    spike: bool = False
    counted: bool = False


def handle_task_event(deps: Deps, event: Any) -> WorkerEventResult:
    if not isinstance(event, dict) or event.get("detail-type") != TASK_STATUS_CHANGE:
        raise ValueError(f"not a task status-change event: {str(event)[:200]}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise ValueError(f"task status-change event without a detail object: {str(event)[:200]}")
    job = job_name_from_arn(deps.settings.project_prefix, str(detail.get("labeling-job-arn") or ""))
    if job is None:
        return WorkerEventResult(None, "ignored")
    raw_state = detail.get("State")
    state = raw_state.lower() if isinstance(raw_state, str) else ""
    if state not in STATES:
        log.warning(
            "worker task event of %s with an unknown State %r (team %s): logged, not counted",
            job,
            raw_state,
            detail.get("workteam-team-arn"),
        )
        return WorkerEventResult(job, "unknown")
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
        return WorkerEventResult(job, state, spike=True, counted=True)
    return WorkerEventResult(job, state, counted=True)
