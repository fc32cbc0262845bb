"""``gtctl report``: labeled / remaining objects over time across the whole chain, as PNG and CSV.

Drawn on the labeling clock: Ground Truth's own time, the one its 30-day expiry and 10-day idle
stop run on (on the local cloud, the emulated clock that a test or the demo moves forward; on AWS,
the same as the machine's). Built from the ledger (one scan) and ``ListLabelingJobs``:

- a job spans its ``CreationTime`` to, once it ended, its ``LastModifiedTime``
  (docs.aws.amazon.com/sagemaker/latest/APIReference/API_LabelingJobSummary.html); its 30-day
  expiry (``LabelingJobStoppingConditions``: "Labeling jobs fail after 30 days") is marked;
- an object is labeled at the label's ``creation-date`` (the output manifest's metadata, "Labeling
  job output data", docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html): as it arrived,
  not when the ledger recorded it at the job's end;
- the ledger's own stamps (an object's drop, a failure) come from the Lambdas' clock. Each job's
  creation is stamped on both clocks (the ledger's ``created_at``, Ground Truth's
  ``CreationTime``); a ledger stamp is moved by the difference seen at the last job created before
  it: about zero on AWS, the jumps of the emulated clock on the local cloud (a stamp between a
  jump and the next job's creation stays on the machine's clock);
- "remaining" is drawn to now: ``--now`` (the demo passes the emulated clock's), else the
  machine's clock moved like a ledger stamp.

Quarantined objects never enter "remaining".
"""

from __future__ import annotations

import csv
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gtcontract.states import FAILED, LABELED, QUARANTINED, TERMINAL_JOB_STATUSES
from gtctl.aws import Aws
from gtctl.deployment import Deployment
from gtctl.ledger import LedgerReader, parse_label
from gtctl.status import JOB_EXPIRY, list_sagemaker_jobs

CSV_COLUMNS = ("time", "dropped", "labeled", "failed", "quarantined", "remaining", "job")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _creation_date(label: Any) -> datetime | None:
    if isinstance(label, dict):
        for key, value in label.items():
            if key == "creation-date":
                return parse_time(value)
            found = _creation_date(value)
            if found is not None:
                return found
    return None


@dataclass
class JobSpan:
    name: str
    start: datetime
    end: datetime | None

    @property
    def expires(self) -> datetime:
        return self.start + JOB_EXPIRY


@dataclass
class Timeline:
    rows: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[JobSpan] = field(default_factory=list)
    now: datetime | None = None  # the labeling clock's now: "remaining" is drawn to it


class LabelingClock:
    """Ledger stamps (the Lambdas' clock) to the labeling clock, by the offset seen at each job's
    creation: ``(ledger created_at, CreationTime)`` pairs."""

    def __init__(self, pairs: list[tuple[datetime, datetime]]) -> None:
        offsets = sorted((machine, labeling - machine) for machine, labeling in pairs)
        self._machine = [machine for machine, _ in offsets]
        self._offset = [offset for _, offset in offsets]

    def __call__(self, stamp: datetime) -> datetime:
        at = bisect_right(self._machine, stamp)  # the jobs created at or before the stamp
        return stamp + (self._offset[at - 1] if at else timedelta(0))


def job_spans(
    jobs: list[dict[str, Any]], summaries: dict[str, dict[str, Any]]
) -> tuple[list[JobSpan], LabelingClock]:
    """Each job's span on the labeling clock (``summaries``: ``ListLabelingJobs`` by job name;
    a job Ground Truth no longer lists falls back to the ledger's stamps)."""
    pairs, raw = [], []
    names = {str(job.get("job_name") or job["pk"][4:]): job for job in jobs}
    for name in sorted(set(names) | set(summaries)):
        job, summary = names.get(name, {}), summaries.get(name, {})
        stamped = parse_time(job.get("created_at"))
        created = _aware(summary.get("CreationTime"))
        if stamped is not None and created is not None:
            pairs.append((stamped, created))
        ended = (
            _aware(summary.get("LastModifiedTime"))
            if summary.get("LabelingJobStatus") in TERMINAL_JOB_STATUSES
            else None
        )
        raw.append((name, created, stamped, ended, parse_time(job.get("ended_at"))))
    clock = LabelingClock(pairs)
    spans = []
    for name, created, stamped, ended, ledger_ended in raw:
        start = created or (clock(stamped) if stamped else None)
        if start is None:
            continue
        end = ended or (clock(ledger_ended) if ledger_ended else None)
        spans.append(JobSpan(name, start, end))
    spans.sort(key=lambda s: s.start)
    return spans, clock


def _aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_time(value)


def build_timeline(
    objects: list[dict[str, Any]],
    jobs: list[dict[str, Any]],
    summaries: dict[str, dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> Timeline:
    """The rows (one per distinct instant) on the labeling clock; ``now`` defaults to the machine's
    clock moved onto the labeling clock, and never lies before the last event."""
    spans, clock = job_spans(jobs, summaries or {})
    events: list[tuple[datetime, str]] = []
    for obj in objects:
        stamped = parse_time(obj.get("created_at"))
        if stamped is None:
            continue
        created = clock(stamped)
        updated = clock(parse_time(obj.get("updated_at")) or stamped)
        state = obj.get("state")
        if state == QUARANTINED:
            events.append((created, "quarantined"))
            continue
        events.append((created, "dropped"))
        if state == LABELED:
            labeled_at = _creation_date(parse_label(obj.get("label")))
            # Ground Truth's own time, as the label arrived; never before the drop (clock skew)
            events.append((max(labeled_at, created) if labeled_at else updated, "labeled"))
        elif state == FAILED:
            events.append((updated, "failed"))

    def job_at(t: datetime) -> str:
        running = [s.name for s in spans if s.start <= t and (s.end is None or t <= s.end)]
        return running[-1] if running else ""

    counts = {"dropped": 0, "labeled": 0, "failed": 0, "quarantined": 0}
    timeline = Timeline(jobs=spans)
    events.sort(key=lambda e: e[0])
    for i, (at, kind) in enumerate(events):
        counts[kind] += 1
        if i + 1 < len(events) and events[i + 1][0] == at:
            continue  # one row per distinct instant
        timeline.rows.append(
            {
                "time": at,
                **counts,
                "remaining": counts["dropped"] - counts["labeled"] - counts["failed"],
                "job": job_at(at),
            }
        )
    latest = [*(r["time"] for r in timeline.rows[-1:]), *(s.end or s.start for s in spans)]
    timeline.now = max([now or clock(datetime.now(UTC)), *latest])
    return timeline


def write_csv(timeline: Timeline, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in timeline.rows:
            writer.writerow({**row, "time": row["time"].isoformat()})


X_LABEL = "time (UTC) on the labeling clock (Ground Truth's; emulated on the local cloud)"
Y_LABEL = "objects"
EXPIRY_COLOR = "tab:red"
EXPIRY_LABEL = "30-day expiry"


def draw(timeline: Timeline, title: str) -> Any:
    """The chart as a matplotlib Figure (the caller closes it): labeled and remaining as steps to
    ``timeline.now``, each job's span, and each expiry that falls before now as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    def num(moment: datetime) -> float:
        return float(mdates.date2num(moment))  # type: ignore[no-untyped-call]

    fig, ax = plt.subplots(figsize=(10, 5), dpi=100)
    if timeline.rows:
        now = timeline.now or timeline.rows[-1]["time"]
        times = [r["time"] for r in timeline.rows] + [now]  # the last counts hold until now
        for key, color in (("labeled", "tab:green"), ("remaining", "tab:orange")):
            values = [r[key] for r in timeline.rows]
            ax.step(times, [*values, values[-1]], where="post", label=key, color=color)
        marked = False
        for i, span in enumerate(timeline.jobs):
            ax.axvspan(num(span.start), num(span.end or now), alpha=0.12, color=f"C{i % 10}")
            height = 0.99 - 0.05 * (i % 4)  # staggered, so short jobs do not overprint
            ax.annotate(
                span.name, xy=(span.start, height), xycoords=("data", "axes fraction"), fontsize=8, va="top"
            )
            if span.expires <= now:
                ax.axvline(
                    num(span.expires),
                    color=EXPIRY_COLOR,
                    linestyle="--",
                    linewidth=1.5,
                    label=None if marked else EXPIRY_LABEL,
                    gid=f"expiry {span.name}",
                )
                marked = True
        ax.axvline(num(now), color="0.4", linewidth=0.8, linestyle=":", gid="now")
        ax.annotate("now", xy=(now, 0.01), xycoords=("data", "axes fraction"), fontsize=8, ha="right")
        locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        ax.legend(loc="center left")
    else:
        ax.text(0.5, 0.5, "no objects in the ledger yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def write_png(timeline: Timeline, path: Path, title: str) -> None:
    import matplotlib.pyplot as plt

    fig = draw(timeline, title)
    try:
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def generate(
    aws: Aws, dep: Deployment, output_dir: Path, now: datetime | None = None
) -> tuple[Path, Path, Timeline]:
    """Write the PNG and CSV; ``now``: the labeling clock's now (default: the machine's, moved)."""
    ledger = LedgerReader(aws, dep)
    items = ledger.items_by_kind()
    summaries = list_sagemaker_jobs(aws, dep.project_prefix)
    timeline = build_timeline(items["OBJ"], items["JOB"], summaries, now)
    output_dir.mkdir(parents=True, exist_ok=True)
    png = output_dir / f"{dep.project_prefix}-report.png"
    csv_path = output_dir / f"{dep.project_prefix}-report.csv"
    write_csv(timeline, csv_path)
    write_png(timeline, png, f"{dep.project_prefix}: labeled and remaining objects across the chain")
    return png, csv_path, timeline
