"""``gtctl report``: labeled / remaining objects over time across the whole chain, as PNG and CSV.

Built from the ledger (one scan). An object counts as dropped at its ``created_at``; as labeled
at the time Ground Truth labeled it (the label's ``creation-date`` when the ledger kept it and
it lies between the drop and the ledger's record, else the ledger's ``updated_at``: the local
cloud's emulated clock runs ahead of the wall clock); as failed for good at its ``updated_at``.
Quarantined objects never enter "remaining". Job items give the spans drawn behind the curves.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gtcontract.states import FAILED, LABELED, QUARANTINED
from gtctl.aws import Aws
from gtctl.deployment import Deployment
from gtctl.ledger import LedgerReader, parse_label

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


@dataclass
class Timeline:
    rows: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[JobSpan] = field(default_factory=list)


def build_timeline(objects: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> Timeline:
    events: list[tuple[datetime, str]] = []
    for obj in objects:
        created = parse_time(obj.get("created_at"))
        updated = parse_time(obj.get("updated_at")) or created
        state = obj.get("state")
        if created is None:
            continue
        if state == QUARANTINED:
            events.append((created, "quarantined"))
            continue
        events.append((created, "dropped"))
        if state == LABELED:
            labeled_at = _creation_date(parse_label(obj.get("label")))
            # Ground Truth's own time, when it is plausible: after the drop, before the ledger
            # recorded it (an emulated clock that ran ahead, or clock skew, fall back to the ledger).
            plausible = labeled_at is not None and created <= labeled_at <= (updated or labeled_at)
            events.append((labeled_at if plausible and labeled_at else updated or created, "labeled"))
        elif state == FAILED:
            events.append((updated or created, "failed"))
    spans = []
    for job in jobs:
        start = parse_time(job.get("created_at"))
        if start is not None:
            spans.append(
                JobSpan(str(job.get("job_name") or job["pk"][4:]), start, parse_time(job.get("ended_at")))
            )
    spans.sort(key=lambda s: s.start)

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
    return timeline


def write_csv(timeline: Timeline, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in timeline.rows:
            writer.writerow({**row, "time": row["time"].isoformat()})


def write_png(timeline: Timeline, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    def num(moment: datetime) -> float:
        return float(mdates.date2num(moment))  # type: ignore[no-untyped-call]

    fig, ax = plt.subplots(figsize=(10, 5), dpi=100)
    try:
        if timeline.rows:
            times = [r["time"] for r in timeline.rows]
            ax.step(
                times, [r["labeled"] for r in timeline.rows], where="post", label="labeled", color="tab:green"
            )
            ax.step(
                times,
                [r["remaining"] for r in timeline.rows],
                where="post",
                label="remaining",
                color="tab:orange",
            )
            end = (
                max(times[-1], *(s.end for s in timeline.jobs if s.end is not None))
                if timeline.jobs
                else times[-1]
            )
            for i, span in enumerate(timeline.jobs):
                ax.axvspan(num(span.start), num(span.end or end), alpha=0.12, color=f"C{i % 10}")
                height = 0.99 - 0.05 * (i % 4)  # staggered, so short jobs do not overprint
                ax.annotate(
                    span.name,
                    xy=(span.start, height),
                    xycoords=("data", "axes fraction"),
                    fontsize=8,
                    va="top",
                )
            formatter = mdates.DateFormatter("%m-%d %H:%M:%S")  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_formatter(formatter)
            fig.autofmt_xdate()
            ax.legend(loc="center left")
        else:
            ax.text(
                0.5, 0.5, "no objects in the ledger yet", ha="center", va="center", transform=ax.transAxes
            )
        ax.set_title(title)
        ax.set_ylabel("objects")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def generate(aws: Aws, dep: Deployment, output_dir: Path) -> tuple[Path, Path, Timeline]:
    ledger = LedgerReader(aws, dep)
    items = ledger.items_by_kind()
    timeline = build_timeline(items["OBJ"], items["JOB"])
    output_dir.mkdir(parents=True, exist_ok=True)
    png = output_dir / f"{dep.project_prefix}-report.png"
    csv_path = output_dir / f"{dep.project_prefix}-report.csv"
    write_csv(timeline, csv_path)
    write_png(timeline, png, f"{dep.project_prefix}: labeled and remaining objects across the chain")
    return png, csv_path, timeline
