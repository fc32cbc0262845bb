"""``gtctl status``: the chain of labeling jobs, the ledger totals, the last decision, and how
long the running job has left (its 30-day expiry and, when idle, the 10-day idle stop).

Words, one meaning each (README "Day to day: gtctl"):
- ``errored`` (job table): objects Ground Truth could not label in that job, its
  ``FailedNonRetryableError`` counter (expired or declined tasks among them); the next job in
  the chain gets them again, each attempt counted, until an object reaches the per-object
  failure limit;
- ``failed`` (ledger table): objects past the per-object failure limit, ledger state ``FAILED``;
  no job gets them again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from gtcontract.names import job_name
from gtcontract.states import (
    ACTIVE_JOB_STATUSES,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    INITIALIZING,
    JOB_FAILED,
    LABELED,
    OBJECT_STATES,
    PENDING,
    QUARANTINED,
    SENT,
    STOPPED,
    STOPPING,
    sent_state_key,
)
from gtctl.aws import Aws, translate_errors
from gtctl.deployment import Deployment
from gtctl.ledger import JobRow, LedgerReader

# "Labeling jobs fail after 30 days with an appropriate client error message."
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_LabelingJobStoppingConditions.html
JOB_EXPIRY = timedelta(days=30)
# "Ground Truth streaming labeling jobs remain active until they are manually stopped or have been
# idle for more than 10 days." https://docs.aws.amazon.com/sagemaker/latest/dg/sms-streaming-labeling-job.html
IDLE_STOP = timedelta(days=10)


@dataclass
class Countdown:
    """How long the running job has left. ``idle``: nothing left to label in the job (Ground
    Truth's ``Unlabeled`` counter is 0) and nothing waits in the ledger (no ``PENDING``
    object). The idle timer starts when the last object fed to the job is labeled, which gtctl
    cannot see; the last object was sent before that, so the stop comes no earlier than 10 days
    after ``idle_since`` (the project's ``last_sent_at``, else the job's creation)."""

    job: str
    created_at: str
    expires_at: str
    expires_in_seconds: int
    idle: bool
    idle_since: str | None = None
    idle_stop_not_before: str | None = None
    idle_stop_in_seconds: int | None = None


@dataclass
class Status:
    project_prefix: str
    region: str
    ledger_table: str
    active_job: str | None
    chain_index: int | None
    last_decision: str | None
    last_reason: str | None
    jobs: list[JobRow] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    countdown: Countdown | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def job_names_for(prefix: str, chain_index: int | None) -> list[str]:
    if chain_index is None:
        return []
    return [job_name(prefix, i) for i in range(0, chain_index + 1)]


def list_sagemaker_jobs(aws: Aws, prefix: str) -> dict[str, dict[str, Any]]:
    """The project's jobs as Ground Truth lists them (name ``<prefix>-<digits>``)."""
    pattern = re.compile(rf"^{re.escape(prefix)}-\d{{4,}}$", re.IGNORECASE)
    found: dict[str, dict[str, Any]] = {}
    client = aws.client("sagemaker")
    with translate_errors():
        for page in client.get_paginator("list_labeling_jobs").paginate(NameContains=prefix):
            for summary in page.get("LabelingJobSummaryList", []):
                if pattern.match(summary["LabelingJobName"]):
                    found[summary["LabelingJobName"]] = summary
    return found


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def countdown_for(
    row: JobRow, created: datetime | None, last_sent_at: Any, pending: int, now: datetime
) -> Countdown | None:
    """The expiry (and, when idle, the idle-stop) countdown of the running job ``row``, created
    at ``created`` (Ground Truth's ``CreationTime``)."""
    if row.status != IN_PROGRESS or created is None:
        return None
    expires = created + JOB_EXPIRY
    result = Countdown(
        job=row.name,
        created_at=created.isoformat(),
        expires_at=expires.isoformat(),
        expires_in_seconds=int((expires - now).total_seconds()),
        idle=row.counters.get("Unlabeled") == 0 and pending == 0,
    )
    if result.idle:
        sent = _parse_time(last_sent_at)
        since = max(sent, created) if sent is not None else created
        stop = since + IDLE_STOP
        result.idle_since = since.isoformat()
        result.idle_stop_not_before = stop.isoformat()
        result.idle_stop_in_seconds = int((stop - now).total_seconds())
    return result


def collect(aws: Aws, dep: Deployment, now: Callable[[], datetime] | None = None) -> Status:
    ledger = LedgerReader(aws, dep)
    project = ledger.project()
    chain_index = project.get("chain_index")
    chain_index = int(chain_index) if chain_index is not None else None
    sm_jobs = list_sagemaker_jobs(aws, dep.project_prefix)
    names = sorted(set(job_names_for(dep.project_prefix, chain_index)) | set(sm_jobs))
    items = ledger.job_items(names)
    rows: list[JobRow] = []
    for name in names:
        item = items.get(name)
        summary = sm_jobs.get(name)
        if item is None and summary is None:
            continue
        row = JobRow(name=name)
        if item is not None:
            row.in_ledger = True
            row.chain_index = int(item["chain_index"]) if item.get("chain_index") is not None else None
            row.status = str(item.get("status") or "?")
            row.parent = item.get("parent") or None
            row.created_reason = item.get("created_reason")
            row.created_at = item.get("created_at")
            row.ended_at = item.get("ended_at")
            row.counters = {k: int(v) for k, v in (item.get("counters") or {}).items()}
        if summary is not None:  # Ground Truth is the truth for status and counters
            row.in_sagemaker = True
            row.status = summary["LabelingJobStatus"]
            row.counters = {k: int(v) for k, v in (summary.get("LabelCounters") or {}).items()}
            row.failure_reason = summary.get("FailureReason")
            row.created_at = row.created_at or _iso(summary.get("CreationTime"))
        if row.chain_index is None:
            digits = name.rsplit("-", 1)[-1]
            row.chain_index = int(digits) if digits.isdigit() else None
        rows.append(row)
    rows.sort(key=lambda r: (r.chain_index if r.chain_index is not None else -1, r.name))

    totals = {state: ledger.count_state(state) for state in (PENDING, LABELED, QUARANTINED, FAILED)}
    totals[SENT] = sum(ledger.count_state(sent_state_key(row.name)) for row in rows)
    totals = {state: totals[state] for state in OBJECT_STATES}
    totals["TOTAL"] = sum(totals.values())
    active = project.get("active_job") or None
    running = next((row for row in rows if row.name == active), None)
    clock = now() if now is not None else datetime.now(UTC)
    countdown = None
    if running is not None:
        summary = sm_jobs.get(running.name) or {}
        created = _parse_time(summary.get("CreationTime")) or _parse_time(running.created_at)
        countdown = countdown_for(running, created, project.get("last_sent_at"), totals[PENDING], clock)
    return Status(
        project_prefix=dep.project_prefix,
        region=dep.region,
        ledger_table=dep.ledger_table,
        active_job=active,
        chain_index=chain_index,
        last_decision=project.get("last_decision"),
        last_reason=project.get("last_reason"),
        jobs=rows,
        totals=totals,
        countdown=countdown,
    )


STATUS_STYLE = {
    IN_PROGRESS: "green",
    INITIALIZING: "cyan",
    STOPPING: "yellow",
    COMPLETED: "blue",
    STOPPED: "yellow",
    JOB_FAILED: "red",
}


def render(status: Status, console: Console) -> None:
    console.print(
        f"[bold]project[/] {status.project_prefix}  [bold]region[/] {status.region}  "
        f"[bold]ledger[/] {status.ledger_table}  [bold]active job[/] {status.active_job or '-'}"
    )
    table = Table(
        title="labeling jobs (the chain)",
        title_justify="left",
        box=None,
        pad_edge=False,
        padding=(0, 1),
        header_style="bold underline",
    )
    for column in ("job", "status", "labeled", "left", "errored", "parent"):
        numeric = column in ("labeled", "left", "errored")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=column != "parent")
    table.add_column("created because", min_width=16)
    for row in status.jobs:
        style = STATUS_STYLE.get(row.status, "")
        mark = " *" if row.status in ACTIVE_JOB_STATUSES else ""
        table.add_row(
            row.name + mark,
            f"[{style}]{row.status}[/]" if style else row.status,
            str(row.counters.get("TotalLabeled", "-")),
            str(row.counters.get("Unlabeled", "-")),
            str(row.counters.get("FailedNonRetryableError", "-")),
            row.parent or "-",
            row.created_reason or "-",
        )
    if not status.jobs:
        table.add_row("(no job yet)", "-", "-", "-", "-", "-", "-")
    console.print(table)
    for row in status.jobs:
        if row.failure_reason:
            console.print(f"  {row.name} failure reason: {row.failure_reason}")
    totals = Table(
        title="ledger (objects)",
        title_justify="left",
        box=None,
        pad_edge=False,
        header_style="bold underline",
    )
    for state in status.totals:
        totals.add_column(state.lower(), justify="right")
    totals.add_row(*(str(v) for v in status.totals.values()))
    console.print(totals)
    console.print(
        "  errored: objects a job could not label (Ground Truth's FailedNonRetryableError); the next"
        " job gets them again until one reaches the per-object failure limit · failed: objects past"
        " that limit (ledger); no job gets them again"
    )
    if status.countdown is not None:
        console.print(countdown_line(status.countdown))
    decision = status.last_decision or "-"
    console.print(
        f"[bold]last decision[/] {decision}" + (f": {status.last_reason}" if status.last_reason else "")
    )


def duration(seconds: int) -> str:
    """``3 d 4 h``, ``5 h 12 min``, ``40 min``; ``0 min`` for the past."""
    seconds = max(seconds, 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min"


def countdown_line(countdown: Countdown) -> str:
    line = (
        f"[bold]{countdown.job}[/] expires in {duration(countdown.expires_in_seconds)} "
        f"({countdown.expires_at}, 30 days after it was created)"
    )
    if countdown.idle and countdown.idle_stop_in_seconds is not None:
        line += (
            f"; idle (nothing left to label): Ground Truth stops it 10 days after its last object "
            f"is labeled, not before {countdown.idle_stop_not_before} "
            f"(in {duration(countdown.idle_stop_in_seconds)} at the earliest)"
        )
    return line
