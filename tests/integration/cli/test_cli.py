"""gtctl against the local cloud: status, drop, report, and one-line errors (no tracebacks)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import boto3
import numpy as np
import pytest
from cli_project import Project
from click.testing import CliRunner, Result
from PIL import Image

from gtctl.__main__ import cli
from gtlocal.testing import free_port

ACS_ARN = "arn:aws:lambda:us-east-1:432418664414:function:ACS-ImageMultiClass"


def gtctl(project: Project | None, *args: str) -> Result:
    base = ["--deployment", str(project.deployment_file)] if project is not None else []
    return CliRunner(env={"COLUMNS": "200"}).invoke(cli, [*base, *args])


def assert_one_line_error(result: Result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = result.stderr.strip()
    assert line.startswith("gtctl: error: "), line
    assert "\n" not in line, line
    for fragment in fragments:
        assert fragment in line, line
    return line


def write_image(
    path: Path, color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (32, 24)
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def drop_keys(project: Project) -> dict[str, int]:
    listing = boto3.client("s3").list_objects_v2(Bucket=project.drop_bucket)
    return {o["Key"]: o["Size"] for o in listing.get("Contents", [])}


# ---- status ------------------------------------------------------------------------------------


def test_status_of_a_new_project_shows_no_job_and_zero_totals(project: Project) -> None:
    result = gtctl(project, "status")
    assert result.exit_code == 0, result.output
    assert "(no job yet)" in result.stdout
    doc = json.loads(gtctl(project, "status", "--json").stdout)
    assert doc["jobs"] == []
    assert doc["totals"]["TOTAL"] == 0


def test_status_shows_the_chain_with_parent_reason_counters_and_totals(project: Project) -> None:
    # Given a ledger with a finished first job, a chained second one and objects in every state
    project.put(
        pk="PROJECT",
        sk="PROJECT",
        active_job="clitest-0002",
        chain_index=2,
        last_decision="CHAINED",
        last_reason="clitest-0001 expired with 2 objects unlabeled",
    )
    project.put(
        pk="JOB#clitest-0001",
        sk="JOB",
        job_name="clitest-0001",
        chain_index=1,
        status="Stopped",
        created_reason="first objects arrived",
        created_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-31T00:00:00Z",
        counters={"TotalLabeled": 3, "Unlabeled": 2},
    )
    project.put(
        pk="JOB#clitest-0002",
        sk="JOB",
        job_name="clitest-0002",
        chain_index=2,
        status="InProgress",
        parent="clitest-0001",
        created_reason="parent expired with work left",
        created_at="2026-01-31T00:00:01Z",
    )
    states = ["LABELED"] * 3 + ["SENT#clitest-0002"] * 2 + ["PENDING", "QUARANTINED", "FAILED"]
    for i, state_key in enumerate(states):
        project.put(
            pk=f"OBJ#o{i}",
            sk="OBJ",
            object_id=f"o{i}",
            state=state_key.split("#")[0],
            state_key=state_key,
            updated_at=f"2026-01-02T00:00:0{i}Z",
        )
    # When
    result = gtctl(project, "status")
    doc = json.loads(gtctl(project, "status", "--json").stdout)
    # Then
    assert result.exit_code == 0, result.output
    assert [j["name"] for j in doc["jobs"]] == ["clitest-0001", "clitest-0002"]
    assert doc["jobs"][1]["parent"] == "clitest-0001"
    assert doc["jobs"][1]["created_reason"] == "parent expired with work left"
    assert doc["jobs"][0]["counters"] == {"TotalLabeled": 3, "Unlabeled": 2}
    assert doc["totals"] == {"PENDING": 1, "SENT": 2, "LABELED": 3, "QUARANTINED": 1, "FAILED": 1, "TOTAL": 8}
    assert doc["last_decision"] == "CHAINED"
    for text in ("clitest-0001", "clitest-0002", "parent expired with work left", "CHAINED"):
        assert text in result.stdout


def given_groundtruth_role(name: str) -> str:
    """A role Ground Truth may assume, with what a streaming job of the ``clitest`` buckets needs."""
    iam = boto3.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    grants = [
        (["s3:GetObject", "s3:PutObject", "s3:ListBucket"], ["arn:aws:s3:::clitest-*"]),
        (
            ["sns:Subscribe", "sns:Publish", "sns:Unsubscribe"],
            ["arn:aws:sns:us-east-1:123456789012:clitest-*"],
        ),
        (  # the streaming queue actions of AWS's documented execution-role policy
            [
                "sqs:CreateQueue",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
                "sqs:SetQueueAttributes",
            ],
            ["arn:aws:sqs:us-east-1:123456789012:GroundTruth-clitest-*"],
        ),
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in grants],
    }
    iam.put_role_policy(RoleName=name, PolicyName="job", PolicyDocument=json.dumps(policy))
    return arn


def test_status_reads_status_and_counters_from_ground_truth(project: Project) -> None:
    # a job that exists in Ground Truth but not (yet) in the ledger still shows up
    sm = boto3.client("sagemaker")
    s3 = boto3.client("s3")
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="clitest-input")["TopicArn"]
    role = given_groundtruth_role("gt")  # the local cloud runs the job as its role, as AWS does
    s3.put_object(
        Bucket="clitest-input",
        Key="categories.json",
        # Image classification needs at least two categories (CreateLabelingJob, LabelCategoryConfigS3Uri).
        Body=json.dumps({"document-version": "2018-11-28", "labels": [{"label": "cat"}, {"label": "dog"}]}),
    )
    sm.create_labeling_job(
        LabelingJobName="clitest-0001",
        LabelAttributeName="category",
        InputConfig={"DataSource": {"SnsDataSource": {"SnsTopicArn": topic}}},
        OutputConfig={"S3OutputPath": "s3://clitest-output/jobs/"},
        RoleArn=role,
        LabelCategoryConfigS3Uri="s3://clitest-input/categories.json",
        HumanTaskConfig={
            "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team",
            "UiConfig": {"UiTemplateS3Uri": "s3://clitest-input/template.liquid.html"},
            "PreHumanTaskLambdaArn": "arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClass",
            "TaskTitle": "t",
            "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": ACS_ARN},
        },
    )
    doc = json.loads(gtctl(project, "status", "--json").stdout)
    assert [j["name"] for j in doc["jobs"]] == ["clitest-0001"]
    assert doc["jobs"][0]["in_sagemaker"] is True
    assert doc["jobs"][0]["status"] in ("Initializing", "InProgress")

    # Once it runs as the project's active job: the countdown to its expiry, 30 days after
    # Ground Truth's CreationTime; nothing sent to it and nothing pending, so idle as well.
    project.put(pk="PROJECT", sk="PROJECT", active_job="clitest-0001", chain_index=1)
    control = project.cloud.control
    control.advance_clock(float(control.settings()["initializing_seconds"]) + 1)
    created = sm.describe_labeling_job(LabelingJobName="clitest-0001")["CreationTime"]
    doc = json.loads(gtctl(project, "status", "--json").stdout)
    assert doc["jobs"][0]["status"] == "InProgress"
    countdown = doc["countdown"]
    assert countdown["job"] == "clitest-0001"
    assert countdown["expires_at"] == (created + timedelta(days=30)).isoformat()
    assert countdown["idle"] is True
    assert countdown["idle_stop_not_before"] == (created + timedelta(days=10)).isoformat()
    text = gtctl(project, "status").stdout
    assert "clitest-0001 expires in " in text and "idle (nothing left to label)" in text


# ---- drop --------------------------------------------------------------------------------------


def test_drop_uploads_a_folder_and_skips_what_is_already_there(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    write_image(folder / "a.png")
    write_image(folder / "sub dir" / "b.jpg", (10, 200, 10))
    write_image(folder / "c.png", (10, 10, 200))
    (folder / ".DS_Store").write_bytes(b"\0\0")

    first = gtctl(project, "drop", str(folder))
    assert first.exit_code == 0, first.output
    assert "uploaded 3 file(s), skipped 0" in first.stdout
    assert drop_keys(project) == {
        "a.png": (folder / "a.png").stat().st_size,
        "sub dir/b.jpg": (folder / "sub dir" / "b.jpg").stat().st_size,
        "c.png": (folder / "c.png").stat().st_size,
    }

    second = gtctl(project, "drop", str(folder))
    assert "uploaded 0 file(s), skipped 3" in second.stdout

    # same key, other content -> uploaded again; a key intake already took in (DROP# item) -> skipped
    write_image(folder / "a.png", (0, 0, 0), (40, 40))
    boto3.client("s3").delete_object(Bucket=project.drop_bucket, Key="c.png")
    project.put(pk="DROP#c.png", sk="DROP", object_id="x", state="ACCEPTED")
    third = gtctl(project, "drop", str(folder))
    assert "uploaded 1 file(s), skipped 2" in third.stdout
    assert drop_keys(project)["a.png"] == (folder / "a.png").stat().st_size


def test_drop_with_key_prefix_and_dry_run(project: Project, tmp_path: Path) -> None:
    write_image(tmp_path / "in" / "x.png")
    dry = gtctl(project, "drop", str(tmp_path / "in"), "--key-prefix", "batch-1/", "--dry-run")
    assert "would upload 1 file(s)" in dry.stdout
    assert drop_keys(project) == {}
    gtctl(project, "drop", str(tmp_path / "in"), "--key-prefix", "batch-1/")
    assert list(drop_keys(project)) == ["batch-1/x.png"]


def test_drop_refuses_non_images_in_one_line_unless_include_all(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    write_image(folder / "ok.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "empty.jpg").write_bytes(b"")
    result = gtctl(project, "drop", str(folder))
    assert_one_line_error(result, "2 non-image file(s)", "notes.txt", "empty.jpg", "--include-all")
    assert drop_keys(project) == {}

    forced = gtctl(project, "drop", str(folder), "--include-all")
    assert forced.exit_code == 0, forced.output
    assert sorted(drop_keys(project)) == ["empty.jpg", "notes.txt", "ok.png"]


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_drop_of_a_bad_folder_is_a_one_line_error(project: Project, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target"
    if kind == "file":
        target.write_text("x")
    elif kind == "empty":
        target.mkdir()
    expected = {"missing": "folder not found", "file": "not a folder", "empty": "no files to drop"}[kind]
    assert_one_line_error(gtctl(project, "drop", str(target)), expected)


# ---- report ------------------------------------------------------------------------------------


def test_report_writes_a_png_chart_and_a_csv(project: Project, tmp_path: Path) -> None:
    project.put(
        pk="JOB#clitest-0001",
        sk="JOB",
        job_name="clitest-0001",
        created_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-01T00:10:00Z",
    )
    project.put(pk="JOB#clitest-0002", sk="JOB", job_name="clitest-0002", created_at="2026-01-01T00:10:01Z")
    for i in range(10):
        state = "LABELED" if i < 7 else "PENDING"
        project.put(
            pk=f"OBJ#o{i}",
            sk="OBJ",
            object_id=f"o{i}",
            state=state,
            state_key=state,
            created_at=f"2026-01-01T00:0{i}:00Z",
            updated_at=f"2026-01-01T00:{10 + i}:00Z",
        )
    project.put(
        pk="OBJ#q",
        sk="OBJ",
        object_id="q",
        state="QUARANTINED",
        state_key="QUARANTINED",
        created_at="2026-01-01T00:01:30Z",
        updated_at="2026-01-01T00:01:30Z",
    )

    result = gtctl(project, "report", "--output-dir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    png, csv_path = tmp_path / "out" / "clitest-report.png", tmp_path / "out" / "clitest-report.csv"

    with Image.open(png) as img:
        assert img.format == "PNG"
        assert img.size == (1000, 500)
        pixels = np.asarray(img.convert("RGB")).reshape(-1, 3).astype(int)
    non_white = int((pixels != 255).any(axis=1).sum())
    assert non_white > 0.02 * len(pixels)  # axes, curves, job spans: not a blank canvas
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    greens = int(((g > 100) & (r < 100) & (b < 100)).sum())  # the "labeled" curve, tab:green (44, 160, 44)
    assert greens > 50

    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    last = rows[-1]
    assert (last["dropped"], last["labeled"], last["remaining"], last["quarantined"]) == ("10", "7", "3", "1")
    assert {r["job"] for r in rows} >= {"clitest-0001", "clitest-0002"}


# ---- finding the project, and one-line errors -------------------------------------------------


def test_prefix_discovery_finds_the_project_from_its_lambda_environment(project: Project) -> None:
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="clitest-fn",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("h.py", "def handler(e, c):\n    return None\n")
    boto3.client("lambda").create_function(
        FunctionName="clitest-intake",
        Runtime="python3.11",
        Role=role,
        Handler="h.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": project.document["lambda_environment"]},
    )
    result = CliRunner().invoke(cli, ["--prefix", "clitest", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ledger_table"] == "clitest-ledger"


def test_unknown_project_prefix_is_a_one_line_error(project: Project) -> None:
    result = CliRunner().invoke(cli, ["--prefix", "nosuchproject", "status"])
    assert_one_line_error(result, "unknown project prefix 'nosuchproject'")
    assert_one_line_error(
        CliRunner().invoke(cli, ["--prefix", "bad_prefix!", "status"]), "invalid project prefix"
    )


def test_no_project_given_is_a_one_line_error() -> None:
    env = {"GTCTL_DEPLOYMENT": "", "GTCTL_PREFIX": "", "GTCTL_TERRAFORM_DIR": ""}
    result = CliRunner(env=env).invoke(cli, ["status"])
    assert_one_line_error(result, "no project given")


def test_bad_deployment_file_is_a_one_line_error(tmp_path: Path) -> None:
    assert_one_line_error(gtctl_file(tmp_path / "missing.json"), "deployment file not found")
    (tmp_path / "bad.json").write_text("{not json")
    assert_one_line_error(gtctl_file(tmp_path / "bad.json"), "invalid JSON")
    (tmp_path / "partial.json").write_text(json.dumps({"project_prefix": "x"}))
    assert_one_line_error(
        gtctl_file(tmp_path / "partial.json"), "not a valid deployment document", "ledger_table"
    )


def gtctl_file(path: Path) -> Result:
    return CliRunner().invoke(cli, ["--deployment", str(path), "status"])


def run_subprocess(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gtctl", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GTCTL_"))}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
        **extra,
    )
    return env


def test_no_credentials_is_a_one_line_error_in_a_real_process(project: Project) -> None:
    proc = run_subprocess(
        ["--deployment", str(project.deployment_file), "status"],
        clean_env(AWS_ENDPOINT_URL=project.cloud.endpoint),
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("gtctl: error: no AWS credentials found")


def test_unreachable_endpoint_is_a_one_line_error_in_a_real_process(project: Project) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    env = clean_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    proc = run_subprocess(
        ["--endpoint-url", closed, "--deployment", str(project.deployment_file), "status"], env
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"gtctl: error: cannot reach the AWS endpoint {closed} "
        "(Connection refused); is the local cloud running? "
        "(make emulator-up)"
    ]


def test_missing_ledger_table_is_a_one_line_error(project: Project) -> None:
    boto3.client("dynamodb").delete_table(TableName=project.document["ledger_table"])
    line = assert_one_line_error(gtctl(project, "status"), "ResourceNotFoundException")
    assert "Traceback" not in line


@pytest.mark.parametrize("command", [[], ["status"], ["drop"], ["chain"], ["report"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_status_audit_accounts_for_every_drop_and_fails_on_a_lost_one(project: Project) -> None:
    s3 = boto3.client("s3")
    project.put(pk="PROJECT", sk="PROJECT")
    s3.put_object(Bucket=project.drop_bucket, Key="ok.png", Body=b"x")
    project.put(pk="DROP#ok.png", sk="DROP", object_id="o1", state="ACCEPTED")
    project.put(pk="OBJ#o1", sk="OBJ", object_id="o1", state="LABELED", state_key="LABELED")
    project.put(pk="DROP#bad.txt", sk="DROP", object_id="o2", state="QUARANTINED", reason="not-an-image")
    s3.put_object(Bucket=project.drop_bucket, Key="quarantine/bad.txt", Body=b"x")  # not a drop

    clean = json.loads(gtctl(project, "status", "--audit", "--json").stdout)["audit"]
    assert (clean["dropped"], clean["labeled"], clean["quarantined"], clean["lost"]) == (2, 1, 1, 0)
    assert clean["quarantine_reasons"] == {"not-an-image": 1}

    s3.put_object(Bucket=project.drop_bucket, Key="never-seen.png", Body=b"x")
    assert_one_line_error(gtctl(project, "status", "--audit"), "1 dropped file(s) lost: never-seen.png")


def put_drop(project: Project, key: str, object_id: str, state: str, **obj: object) -> None:
    boto3.client("s3").put_object(Bucket=project.drop_bucket, Key=key, Body=b"x")
    project.put(pk=f"DROP#{key}", sk="DROP", object_id=object_id, state="ACCEPTED")
    project.put(pk=f"OBJ#{object_id}", sk="OBJ", object_id=object_id, state=state, state_key=state, **obj)


def test_status_audit_tells_objects_held_back_by_a_limit_from_lost_ones(project: Project) -> None:
    # Given a chain stopped at MAX_CHAIN_DEPTH (default 100) with an object still PENDING, and an
    # object that reached the per-object failure limit (FAILED)
    depth = "max chain depth 100 reached; unlabeled objects stay PENDING (raise MAX_CHAIN_DEPTH to continue)"
    project.put(pk="PROJECT", sk="PROJECT", chain_index=100, last_decision="stopped", last_reason=depth)
    put_drop(project, "waits.png", "o1", "PENDING")
    put_drop(project, "broken.png", "o2", "FAILED", failure_count=3, reason="consolidation failed")

    audit = gtctl(project, "status", "--audit")
    assert audit.exit_code == 0, audit.output  # held back is not lost
    assert "held back by a limit 2 (failed 1)" in audit.stdout and "lost 0" in audit.stdout
    checked = json.loads(gtctl(project, "status", "--audit", "--json").stdout)["audit"]
    assert (checked["held_back"], checked["failed"], checked["lost"], checked["pending"]) == (2, 1, 0, 0)
    assert checked["held_back_keys"] == {
        "waits.png": depth,
        "broken.png": "per-object failure limit (3) reached after 3 attempts: consolidation failed",
    }

    # When the chain is below its depth limit, a PENDING object with no job running is lost.
    project.put(pk="PROJECT", sk="PROJECT", chain_index=7, last_decision="waiting", last_reason="no config")
    assert_one_line_error(gtctl(project, "status", "--audit"), "1 dropped file(s) lost: waits.png")
    checked = json.loads(gtctl(project, "status", "--audit", "--json").stdout)["audit"]
    assert checked["lost_keys"] == {"waits.png": "object is PENDING while no job is active"}
    assert checked["held_back_keys"] == {
        "broken.png": "per-object failure limit (3) reached after 3 attempts: consolidation failed"
    }
