"""The job-events queue: state-change events and our own job checks.

- A state-change event (AWS documents them for Completed | Failed | Stopped) of a terminal job:
  merge its output manifest, decide, chain exactly once, notify.
- A job check (``gtstream.job_checks``): while the job is Initializing (or Stopping), the next
  check with a longer delay; InProgress: send what waited (PENDING) and stop checking; ended: the
  same end handling as the event.

Both decide from DescribeLabelingJob, never from the message's status, so duplicate, late and
out-of-order messages are harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gtcontract.names import job_name_from_arn
from gtcontract.states import IN_PROGRESS, JOB_STATE_CHANGE
from gtstream.aws import JobDescription
from gtstream.chaining import Decision, ensure_job, handle_job_end
from gtstream.deps import Deps
from gtstream.dispatch import flush_pending
from gtstream.job_checks import JobCheck, is_job_check, parse_job_check, schedule_check

log = logging.getLogger("gtstream.job_events")


@dataclass
class EventResult:
    job: str | None
    status: str | None
    action: (
        str  # ignored | unknown-job | ended | flushed | not-active | noted | check-again | duplicate-check
    )
    sent: int = 0
    decision: Decision | None = None
    next_check_seconds: int | None = None


def handle_message(deps: Deps, body: Any, message_id: str) -> EventResult:
    """One message of the job-events queue (``message_id``: its SQS MessageId)."""
    if is_job_check(body):
        return handle_check(deps, parse_job_check(body), message_id)
    return handle_state_change(deps, body)


def handle_state_change(deps: Deps, event: Any) -> EventResult:
    """One EventBridge state-change event."""
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
    return _act_on(deps, desc) or EventResult(name, desc.status, "noted")


def handle_check(deps: Deps, check: JobCheck, message_id: str) -> EventResult:
    """One check of a job we created: act on its status, or check again later (once per attempt)."""
    desc = deps.jobs.describe(check.job)
    if desc is None:
        log.warning("checked job %s does not exist; no more checks", check.job)
        return EventResult(check.job, None, "unknown-job")
    done = _act_on(deps, desc)
    if done is not None:
        return done
    if not deps.ledger.claim_job_check(desc.name, check.attempt, message_id):
        log.info("check %d of %s already handled (duplicate)", check.attempt, desc.name)
        return EventResult(desc.name, desc.status, "duplicate-check")
    delay = schedule_check(deps, desc.name, check.attempt + 1)
    return EventResult(desc.name, desc.status, "check-again", next_check_seconds=delay)


def _act_on(deps: Deps, desc: JobDescription) -> EventResult | None:
    """The end handling of a terminal job, the flush of an InProgress one; None while it is neither."""
    name = desc.name
    if desc.terminal:
        handle_job_end(deps, desc)
        return EventResult(
            name, desc.status, "ended", decision=ensure_job(deps, f"{name} ended {desc.status}")
        )
    deps.ledger.set_job_status(name, desc.status)
    if desc.status != IN_PROGRESS:
        return None
    project = deps.ledger.get_project()
    decision: Decision | None = None
    if project.get("active_job") != name:
        decision = ensure_job(deps, f"{name} is InProgress but not recorded as active")
        project = deps.ledger.get_project()
    if project.get("active_job") != name:
        return EventResult(name, desc.status, "not-active", decision=decision)
    sent = flush_pending(deps, name)
    return EventResult(name, desc.status, "flushed", sent=sent, decision=decision)
