"""Job state-change events: flush on InProgress, merge + decide + chain on a terminal status."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gtcontract.names import job_name_from_arn
from gtcontract.states import IN_PROGRESS, JOB_STATE_CHANGE
from gtstream.chaining import Decision, ensure_job, handle_job_end
from gtstream.deps import Deps
from gtstream.dispatch import flush_pending

log = logging.getLogger("gtstream.job_events")


@dataclass
class EventResult:
    job: str | None
    status: str | None
    action: str
    sent: int = 0
    decision: Decision | None = None


def handle_state_change(deps: Deps, event: Any) -> EventResult:
    """One EventBridge state-change event. Decides from DescribeLabelingJob, not from the event's status,
    so duplicate, late and out-of-order events are harmless."""
    if not isinstance(event, dict) or event.get("detail-type") != JOB_STATE_CHANGE:
        raise ValueError(f"not a labeling-job state-change event: {str(event)[:200]}")
    resources = event.get("resources") or []
    name = job_name_from_arn(deps.settings.project_prefix, str(resources[0])) if resources else None
    if name is None:
        log.info("ignoring event for a job of another project: %s", resources)
        return EventResult(None, None, "ignored")
    desc = deps.jobs.describe(name)
    if desc is None:
        log.warning("job %s from the event does not exist", name)
        return EventResult(name, None, "unknown-job")
    if desc.terminal:
        handle_job_end(deps, desc)
        return EventResult(
            name, desc.status, "ended", decision=ensure_job(deps, f"{name} ended {desc.status}")
        )
    deps.ledger.set_job_status(name, desc.status)
    if desc.status != IN_PROGRESS:
        return EventResult(name, desc.status, "noted")
    project = deps.ledger.get_project()
    decision: Decision | None = None
    if project.get("active_job") != name:
        decision = ensure_job(deps, f"{name} is InProgress but not recorded as active")
        project = deps.ledger.get_project()
    if project.get("active_job") != name:
        return EventResult(name, desc.status, "not-active", decision=decision)
    sent = flush_pending(deps, name)
    return EventResult(name, desc.status, "flushed", sent=sent, decision=decision)
