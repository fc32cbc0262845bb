"""gtctl report on the labeling clock: a chain that ran past Ground Truth's 30-day expiry, as the demo's does.

The ledger's stamps come from the machine's clock; Ground Truth's (``CreationTime``,
``LastModifiedTime`` of ListLabelingJobs, each label's ``creation-date``) from the labeling clock,
which here jumps 30 days ahead as the local cloud's emulated clock does. No wall clock: ``now`` is
given.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from click.testing import CliRunner
from PIL import Image

from gtctl.__main__ import cli
from gtctl.report import EXPIRY_LABEL, X_LABEL, Y_LABEL, Timeline, build_timeline, draw

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
JUMP = timedelta(days=30, hours=1)  # the emulated clock moved past the first job's expiry
NOW = T0 + timedelta(days=41)  # ... and later past the second job's idle stop


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def label_at(moment: datetime) -> str:
    """A classification label as the output manifest holds it: creation-date without a zone (UTC)."""
    created = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return json.dumps({"c": 0, "c-metadata": {"class-name": "cat", "creation-date": created}})


def chain() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    s = timedelta(seconds=1)
    objects: list[dict[str, Any]] = []
    for n in range(10):  # dropped before the first job; 5 labeled in each job
        labeled_at = T0 + (20 + 8 * n) * s if n < 5 else T0 + JUMP + (100 + 8 * n) * s
        merged_at = T0 + 75 * s if n < 5 else T0 + 150 * s  # the ledger's record, at each job's end
        objects.append(
            {
                "state": "LABELED",
                "created_at": stamp(T0 + n * s),
                "updated_at": stamp(merged_at),
                "label": label_at(labeled_at),
            }
        )
    objects.append({"state": "PENDING", "created_at": stamp(T0 + 90 * s), "updated_at": stamp(T0 + 90 * s)})
    jobs = [
        {"job_name": "p-0001", "created_at": stamp(T0 + 10 * s), "ended_at": stamp(T0 + 75 * s)},
        {"job_name": "p-0002", "created_at": stamp(T0 + 80 * s), "ended_at": stamp(T0 + 160 * s)},
    ]
    summaries = {
        "p-0001": {
            "LabelingJobStatus": "Failed",
            "CreationTime": T0 + 10.5 * s,
            "LastModifiedTime": T0 + timedelta(days=30) + 11 * s,
        },
        "p-0002": {
            "LabelingJobStatus": "Stopped",
            "CreationTime": T0 + JUMP + 80.5 * s,
            "LastModifiedTime": T0 + JUMP + timedelta(days=10, seconds=200),
        },
    }
    return objects, jobs, summaries


def timeline() -> Timeline:
    objects, jobs, summaries = chain()
    return build_timeline(objects, jobs, summaries, NOW)


def test_the_timeline_is_on_the_labeling_clock_with_labels_as_they_arrived() -> None:
    result = timeline()
    s = timedelta(seconds=1)

    assert [(j.name, j.start, j.end) for j in result.jobs] == [
        ("p-0001", T0 + 10.5 * s, T0 + timedelta(days=30) + 11 * s),
        ("p-0002", T0 + JUMP + 80.5 * s, T0 + JUMP + timedelta(days=10, seconds=200)),
    ]
    by_time = {row["time"]: row for row in result.rows}
    first_five = by_time[T0 + 52 * s]  # the 5th label's creation-date, not the ledger's merge
    assert (first_five["labeled"], first_five["remaining"], first_five["job"]) == (5, 5, "p-0001")
    # the object dropped after p-0002 was created: its ledger stamp moved by that job's clock offset
    late_drop = by_time[T0 + 90 * s + JUMP + 0.5 * s]
    assert (late_drop["dropped"], late_drop["labeled"], late_drop["job"]) == (11, 5, "p-0002")
    last = result.rows[-1]
    assert last["time"] == T0 + JUMP + 172 * s and (last["labeled"], last["remaining"]) == (10, 1)
    assert result.now == NOW and all(row["time"] <= NOW for row in result.rows)


def test_the_chart_has_axis_labels_curves_to_now_and_the_expiry_marked(tmp_path: Path) -> None:
    result = timeline()
    fig = draw(result, "p: labeled and remaining objects across the chain")
    try:
        ax = fig.axes[0]
        assert ax.get_xlabel() == X_LABEL and "labeling clock" in X_LABEL
        assert ax.get_ylabel() == Y_LABEL == "objects"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["labeled", "remaining", EXPIRY_LABEL]
        curves = {line.get_label(): line for line in ax.get_lines()}
        for name in ("labeled", "remaining"):  # drawn to now, holding the last count
            xs = curves[name].get_xdata(orig=False)
            assert mdates.num2date(xs[-1]) == NOW
        assert list(curves["remaining"].get_data()[1][-2:]) == [1, 1]
        expiries = {
            line.get_gid(): line for line in ax.get_lines() if str(line.get_gid()).startswith("expiry")
        }
        expires = T0 + timedelta(seconds=10.5) + timedelta(days=30)
        assert list(expiries) == ["expiry p-0001"]  # p-0002's falls after now: not drawn
        assert mdates.num2date(expiries["expiry p-0001"].get_xdata(orig=False)[0]) == expires
        fig.savefig(tmp_path / "chart.png", format="png")
        column = round(float(ax.transData.transform((mdates.date2num(expires), 0))[0]))
    finally:
        plt.close(fig)

    with Image.open(tmp_path / "chart.png") as img:
        assert img.size == (1000, 500)
        pixels = np.asarray(img.convert("RGB")).astype(int)
    assert (pixels != 255).any(axis=2).mean() > 0.02  # not a blank canvas
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)  # tab:red (214, 39, 40)
    assert red[:, column - 1 : column + 2].sum() > 100  # the dashed expiry line, where the data puts it
    assert red.sum() < 3 * red[:, column - 1 : column + 2].sum()  # ... and red nowhere else to speak of


def test_now_must_be_an_iso_time() -> None:
    result = CliRunner().invoke(cli, ["--deployment", "missing.json", "report", "--now", "yesterday"])
    assert result.exit_code != 0
    assert "--now 'yesterday' is not an ISO 8601 time" in result.output
