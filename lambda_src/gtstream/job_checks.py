"""Following a new job until it is InProgress, without relying on an InProgress event.

AWS documents labeling-job state-change events only for ``Completed``, ``Failed`` and ``Stopped``
("Monitor Labeling Job Status": "Valid values for Status are Completed, Failed, and Stopped"), and
objects are sent to a streaming job only once it is ``InProgress`` ("Send data to a streaming
labeling job": "Once the labeling job has started and the state is InProgress, you can submit new
data objects"). So whoever creates (or adopts) a job puts a delayed *check* message naming it on the
project's job-events queue; the job-events handler describes the job on each check and, while it
is still initializing, schedules the next one with a longer delay (``job_events.handle_check``).

The check message (docs/interfaces.md section 4, "The job-events queue"), a JSON body shaped
like the EventBridge events that share the queue::

    {"source": "gtstream", "detail-type": "Labeling Job Check",
     "detail": {"LabelingJobName": "P-0001", "attempt": 1}}

Schedule: check ``n`` (from 1) is delayed ``min(JOB_CHECK_SECONDS * 2**(n-1), 900)`` seconds after
the previous one, 900 s being SQS's largest message timer. With the default 60 s: 60, 120, 240,
480, 900, 900, ... s, i.e. checks 1, 3, 7, 15, 30, 45, ... minutes after creation.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from gtcontract.settings import MAX_DELAY_SECONDS
from gtstream.deps import Deps

log = logging.getLogger("gtstream.job_checks")

JOB_CHECK_SOURCE = "gtstream"
JOB_CHECK = "Labeling Job Check"


@dataclass(frozen=True)
class JobCheck:
    job: str
    attempt: int

    def to_message(self) -> str:
        return json.dumps(
            {
                "source": JOB_CHECK_SOURCE,
                "detail-type": JOB_CHECK,
                "detail": {"LabelingJobName": self.job, "attempt": self.attempt},
            }
        )


def is_job_check(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("source") == JOB_CHECK_SOURCE
        and body.get("detail-type") == JOB_CHECK
    )


def parse_job_check(body: Any) -> JobCheck:
    """The check in a job-events message body; ValueError when it is not a well-formed check."""
    detail = body.get("detail") if is_job_check(body) else None
    if not isinstance(detail, dict):
        raise ValueError(f"not a job check: {str(body)[:200]}")
    job, attempt = detail.get("LabelingJobName"), detail.get("attempt")
    if not isinstance(job, str) or not job or isinstance(attempt, bool) or not isinstance(attempt, int):
        raise ValueError(f"malformed job check: {str(body)[:200]}")
    if attempt < 1:
        raise ValueError(f"job check attempt must be >= 1: {attempt}")
    return JobCheck(job, attempt)


def check_delay(attempt: int, first_seconds: int) -> int:
    """Seconds between check ``attempt - 1`` (or the job's creation) and check ``attempt``."""
    return min(first_seconds << min(max(attempt - 1, 0), 16), MAX_DELAY_SECONDS)


def schedule_check(deps: Deps, job: str, attempt: int) -> int:
    """Put check ``attempt`` of ``job`` on the job-events queue; return its delay in seconds."""
    delay = check_delay(attempt, deps.settings.job_check_seconds)
    deps.queues.send(deps.settings.job_events_queue_url, JobCheck(job, attempt).to_message(), delay)
    deps.metrics.add_metric("JobChecksScheduled", "Count", 1)
    return delay


def start_following(deps: Deps, job: str) -> None:
    """Schedule the first check of a job just created or adopted.

    The job is created and recorded by then, so a failure here must not fail the caller (its retry
    would find the job active and schedule nothing): it is logged and counted, and the reconciler
    re-sends the objects that wait once they are older than PENDING_STALE_SECONDS."""
    try:
        schedule_check(deps, job, 1)
    except Exception:
        log.exception("could not schedule the first check of %s; the reconciler will send what waits", job)
        deps.metrics.add_metric("JobCheckFailures", "Count", 1)
