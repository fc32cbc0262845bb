"""gtctl pieces that need no cloud: finding the deployment, the report timeline, image checks."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from rich.console import Console
from tests.documents import deployment_document

from gtctl.__main__ import cli
from gtctl.aws import check_endpoint
from gtctl.deployment import Deployment, check_prefix, load_file
from gtctl.drop import is_image, list_folder, non_image_message
from gtctl.errors import GtctlError
from gtctl.ledger import JobRow
from gtctl.report import build_timeline, parse_time, write_csv, write_png
from gtctl.status import Countdown, Status, countdown_for, countdown_line, duration, job_names_for, render

DOC = deployment_document("demo", region="eu-west-1")
DOC["lambda_environment"]["QUARANTINE_PREFIX"] = "bad/"


def test_deployment_document_from_file_and_from_terraform_output_json(tmp_path: Path) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(DOC))
    wrapped = tmp_path / "all-outputs.json"
    wrapped.write_text(json.dumps({"deployment": {"sensitive": False, "value": DOC}}))
    for path in (plain, wrapped):
        dep = load_file(path)
        assert (dep.project_prefix, dep.region, dep.drop_bucket, dep.quarantine_prefix) == (
            "demo",
            "eu-west-1",
            "demo-123456789012-drop",
            "bad/",
        )


def test_an_incomplete_document_is_one_line_naming_every_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"project_prefix": "x", "buckets": {"drop": "d"}}))
    with pytest.raises(GtctlError) as err:
        load_file(path)
    message = str(err.value)
    assert "\n" not in message and "not a valid deployment document" in message
    for name in ("region", "ledger_table", "buckets.input", "buckets.output", "lambda_environment"):
        assert f"{name}: is required but missing" in message
    path.write_text("[]")
    with pytest.raises(GtctlError, match="must be an object"):
        load_file(path)


def test_rebuilt_from_a_lambda_environment() -> None:
    env = deployment_document("p", region="us-west-2")["lambda_environment"]
    dep = Deployment.from_lambda_environment(env, "us-west-2", "fn")
    assert (dep.ledger_table, dep.output_bucket, dep.region, dep.quarantine_prefix) == (
        "p-ledger",
        "p-123456789012-output",
        "us-west-2",
        "quarantine/",
    )


@pytest.mark.parametrize("prefix", ["demo", "a", "my-project-2", "a" * 56])
def test_valid_prefixes(prefix: str) -> None:
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "-x", "x-", "a_b", "a" * 57, "dé"])
def test_invalid_prefixes(prefix: str) -> None:
    with pytest.raises(GtctlError, match="invalid project prefix"):
        check_prefix(prefix)


@pytest.mark.parametrize("url", ["ftp://x", "127.0.0.1:4566", "http://:80", "http://localhost:99999"])
def test_bad_endpoint_urls_are_named(url: str) -> None:
    with pytest.raises(GtctlError, match="invalid endpoint URL"):
        check_endpoint(url)


def test_job_names_grow_past_four_digits_without_truncation() -> None:
    assert job_names_for("p", None) == []
    names = job_names_for("p", 10000)
    assert names[1] == "p-0001"
    assert names[-1] == "p-10000"


def test_images_are_told_from_other_files(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "b.jpg")
    (tmp_path / "c.jpg").write_bytes(b"")
    (tmp_path / "d.txt").write_text("hi")
    (tmp_path / "e.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    assert [is_image(tmp_path / n) for n in ("a.png", "b.jpg", "c.jpg", "d.txt", "e.png")] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_folder_listing_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "z").mkdir()
    (tmp_path / ".git").mkdir()
    for rel in ("b.png", "a.png", "z/c.png", ".hidden.png", ".git/x"):
        (tmp_path / rel).write_bytes(b"x")
    files, hidden = list_folder(tmp_path, "pre/")
    assert [f.key for f in files] == ["pre/a.png", "pre/b.png", "pre/z/c.png"]
    assert [h.name for h in hidden] == [".hidden.png"]


def test_non_image_message_is_one_line_and_bounded(tmp_path: Path) -> None:
    for i in range(15):
        (tmp_path / f"f{i:02d}.txt").write_text("x")
    files, _ = list_folder(tmp_path)
    message = non_image_message(tmp_path, files)
    assert "\n" not in message
    assert message.startswith("15 non-image file(s)")
    assert "f09.txt and 5 more" in message


def test_timeline_counts_dropped_labeled_remaining_and_job_spans(tmp_path: Path) -> None:
    objects = [
        {"state": "LABELED", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:05:00Z"},
        {
            "state": "LABELED",
            "created_at": "2026-01-01T00:01:00Z",
            "updated_at": "2026-01-01T09:00:00Z",
            # Ground Truth's own time of labeling wins over the ledger's merge time
            "label": json.dumps({"category-metadata": {"creation-date": "2026-01-01T00:03:00.123"}}),
        },
        {"state": "FAILED", "created_at": "2026-01-01T00:02:00Z", "updated_at": "2026-01-01T00:06:00Z"},
        {"state": "PENDING", "created_at": "2026-01-01T00:02:00Z", "updated_at": "2026-01-01T00:02:00Z"},
        {"state": "QUARANTINED", "created_at": "2026-01-01T00:04:00Z"},
        {"state": "PENDING"},  # no timestamp: ignored, not a crash
    ]
    jobs = [
        {"job_name": "p-0001", "created_at": "2026-01-01T00:00:30Z", "ended_at": "2026-01-01T00:04:30Z"},
        {"pk": "JOB#p-0002", "created_at": "2026-01-01T00:04:31Z"},
    ]
    timeline = build_timeline(objects, jobs)
    last = timeline.rows[-1]
    assert (last["dropped"], last["labeled"], last["failed"], last["quarantined"], last["remaining"]) == (
        4,
        2,
        1,
        1,
        1,
    )
    at_3 = next(r for r in timeline.rows if r["time"] == parse_time("2026-01-01T00:03:00.123"))
    assert (at_3["dropped"], at_3["labeled"], at_3["remaining"], at_3["job"]) == (4, 1, 3, "p-0001")
    assert [s.name for s in timeline.jobs] == ["p-0001", "p-0002"]
    assert timeline.rows[-1]["job"] == "p-0002"

    write_csv(timeline, tmp_path / "r.csv")
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines[0] == "time,dropped,labeled,failed,quarantined,remaining,job"
    assert len(lines) == len(timeline.rows) + 1
    write_png(timeline, tmp_path / "r.png", "t")
    with Image.open(tmp_path / "r.png") as img:
        assert img.size == (1000, 500)
        assert img.convert("L").getextrema()[0] < 128  # something dark was drawn


def test_empty_report_still_draws_a_chart(tmp_path: Path) -> None:
    write_png(build_timeline([], []), tmp_path / "empty.png", "nothing yet")
    with Image.open(tmp_path / "empty.png") as img:
        assert img.size == (1000, 500)


def test_no_project_is_a_one_line_error_without_touching_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GTCTL_DEPLOYMENT", "GTCTL_PREFIX", "GTCTL_TERRAFORM_DIR"):
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(cli, ["report"])
    assert result.exit_code == 1
    assert result.stderr.startswith("gtctl: error: no project given")
    assert result.stderr.count("\n") == 1


def test_terraform_dir_that_does_not_exist(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--terraform-dir", str(tmp_path / "nope"), "status"])
    assert result.exit_code == 1
    assert "terraform directory not found" in result.stderr


def test_config_validate_passes_the_starter_and_names_each_problem(tmp_path: Path) -> None:
    starter = Path(__file__).resolve().parents[3] / "instructions" / "project.json"
    ok = CliRunner().invoke(cli, ["config", "validate", str(starter)])
    assert ok.exit_code == 0 and "valid" in ok.stdout
    broken = json.loads(starter.read_text())
    broken.update(workers_per_object=0, colour="blue")
    path = tmp_path / "project.json"
    path.write_text(json.dumps(broken))
    result = CliRunner().invoke(cli, ["config", "validate", str(path)])
    lines = result.stderr.splitlines()
    assert result.exit_code == 1 and len(lines) == 2, result.stderr
    assert lines[0].startswith(f"{path}: colour: unknown key; remove it")
    assert lines[1].startswith(f"{path}: workers_per_object: 0 is below the minimum 1")
    # A published config needs what the publisher adds; the repository's project.json does not.
    published = CliRunner().invoke(cli, ["config", "validate", "--published", str(starter)])
    assert published.exit_code == 1 and "template_uri: is required but missing" in published.stderr


def test_config_validate_of_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    missing = CliRunner().invoke(cli, ["config", "validate", str(tmp_path / "nope.json")])
    assert (
        missing.exit_code == 1
        and missing.stderr.strip() == f"gtctl: error: config file not found: {tmp_path / 'nope.json'}"
    )
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = CliRunner().invoke(cli, ["config", "validate", str(bad)])
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1 and "invalid JSON" in result.stderr


# ---- status: countdowns and words ------------------------------------------------------------

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def running(**counters: int) -> JobRow:
    return JobRow(name="demo-0003", status="InProgress", counters=dict(counters))


def test_countdown_to_the_30_day_expiry_while_work_is_left() -> None:
    now = CREATED + timedelta(days=12, hours=5)
    countdown = countdown_for(running(Unlabeled=4), CREATED, "2026-01-03T00:00:00Z", 0, now)
    assert countdown is not None
    assert countdown.expires_at == "2026-01-31T00:00:00+00:00"
    assert countdown.expires_in_seconds == int(timedelta(days=17, hours=19).total_seconds())
    assert countdown.idle is False and countdown.idle_stop_not_before is None
    assert "demo-0003[/] expires in 17 d 19 h" in countdown_line(countdown)
    assert "idle" not in countdown_line(countdown)


def test_idle_countdown_starts_at_the_last_object_sent_and_pending_objects_are_not_idle() -> None:
    now = CREATED + timedelta(days=5)
    idle = countdown_for(running(Unlabeled=0, TotalLabeled=7), CREATED, "2026-01-03T12:00:00Z", 0, now)
    assert idle is not None and idle.idle
    assert idle.idle_since == "2026-01-03T12:00:00+00:00"
    assert idle.idle_stop_not_before == "2026-01-13T12:00:00+00:00"
    assert idle.idle_stop_in_seconds == int(timedelta(days=7, hours=12).total_seconds())
    assert "not before 2026-01-13T12:00:00+00:00 (in 7 d 12 h at the earliest)" in countdown_line(idle)
    # never sent anything: from its creation; a PENDING object waiting means not idle
    fresh = countdown_for(running(Unlabeled=0), CREATED, None, 0, now)
    assert fresh is not None and fresh.idle_stop_not_before == "2026-01-11T00:00:00+00:00"
    waiting = countdown_for(running(Unlabeled=0), CREATED, None, 2, now)
    assert waiting is not None and not waiting.idle


def test_no_countdown_for_a_job_that_is_not_running() -> None:
    for status in ("Initializing", "Stopping", "Stopped", "Completed", "Failed"):
        row = JobRow(name="demo-0001", status=status, counters={"Unlabeled": 0})
        assert countdown_for(row, CREATED, None, 0, CREATED) is None
    assert countdown_for(running(), None, None, 0, CREATED) is None


def test_durations_read_as_days_hours_minutes() -> None:
    assert [duration(s) for s in (-5, 59, 3_000, 7_260, 90_000)] == [
        "0 min",
        "0 min",
        "50 min",
        "2 h 1 min",
        "1 d 1 h",
    ]


def test_status_says_errored_for_a_job_and_failed_only_for_the_ledger_limit() -> None:
    # an expired job whose objects Ground Truth gave up on, while the ledger failed none
    ended = JobRow(
        name="demo-0001", status="Failed", counters={"TotalLabeled": 3, "FailedNonRetryableError": 12}
    )
    status = Status(
        project_prefix="demo",
        region="us-east-1",
        ledger_table="demo-ledger",
        active_job="demo-0002",
        chain_index=2,
        last_decision="CHAINED",
        last_reason="demo-0001 ended with 12 objects unlabeled",
        jobs=[ended, running(Unlabeled=12)],
        totals={"PENDING": 0, "SENT": 12, "LABELED": 3, "QUARANTINED": 0, "FAILED": 0, "TOTAL": 15},
        countdown=Countdown("demo-0002", "x", "2026-02-01T00:00:00+00:00", 86_400 * 3, idle=False),
    )
    out = io.StringIO()
    render(status, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    job_header = next(line for line in text.splitlines() if line.startswith("job "))
    ledger_header = next(line for line in text.splitlines() if line.startswith("pending "))
    assert "errored" in job_header and "failed" not in job_header
    assert "failed" in ledger_header and "errored" not in ledger_header
    assert "demo-0002 expires in 3 d 0 h" in text
