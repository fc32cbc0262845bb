"""The instructions publisher: validation messages, rendering, upload order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import publish_instructions as pub

STARTER = Path(__file__).resolve().parents[3] / "instructions"
TEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(STARTER, target)
    return target


def edit(repo: Path, **changes: Any) -> None:
    project = json.loads((repo / "project.json").read_text())
    project.update(changes)
    (repo / "project.json").write_text(json.dumps(project))


def test_starter_repository_is_valid_with_the_workteam_from_the_environment(repo: Path) -> None:
    project = pub.load_project(repo, {"GT_DEFAULT_WORKTEAM_ARN": TEAM})
    assert project["workteam_arn"] == TEAM and project["categories"] == ["cat", "dog", "bird"]


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({"task_type": "video"}, 'task_type: "video" is not allowed; write one of "image-classification"'),
        (
            {"label_attribute_name": "category-metadata"},
            'label_attribute_name: "category-metadata": Ground Truth keeps',
        ),
        (
            {"categories": ["cat", "dog", *"abcdefghi"]},
            "categories: image-classification takes 2 to 10 categories, not 11",
        ),
        (
            {"workers_per_object": 10},
            "workers_per_object: 10 is above the maximum 9; write a whole number from 1 to 9",
        ),
        ({"task_time_limit_seconds": 10}, "task_time_limit_seconds: 10 is below the minimum 30"),
        ({"workteam_arn": "team"}, 'workteam_arn: "team": use a work team ARN'),
        (
            {"pre_human_task_lambda_arn": "lambda"},
            'pre_human_task_lambda_arn: "lambda": use null (the built-in one)',
        ),
        (
            {"examples": [{"file": "examples/missing.png"}]},
            'examples[0].file: "examples/missing.png" is not a file',
        ),
        ({"content_classifiers": ["SafeForWork"]}, 'content_classifiers[0]: "SafeForWork" is not allowed'),
        ({"colour": "blue"}, "colour: unknown key; remove it"),
    ],
)
def test_invalid_project_files_name_the_field_and_the_fix(
    repo: Path, changes: dict[str, Any], line: str
) -> None:
    edit(repo, **{"workteam_arn": TEAM, **changes})
    with pytest.raises(pub.ProjectError) as caught:
        pub.load_project(repo, {})
    (only,) = caught.value.lines
    assert only.startswith(line), only


def test_every_problem_is_reported_at_once_including_the_repositorys_files(repo: Path) -> None:
    (repo / "instructions.md").unlink()
    edit(repo, workers_per_object=0, examples=[{"file": "examples/gone.svg", "label": "fish"}])
    with pytest.raises(pub.ProjectError) as caught:
        pub.load_project(repo, {})
    assert [line.split(":", 1)[0] for line in caught.value.lines] == [
        "examples[0].label",
        "workers_per_object",
        "workteam_arn",
        "instructions.md",
        "examples[0].file",
    ]
    assert "GT_DEFAULT_WORKTEAM_ARN" in caught.value.lines[2]


def test_public_availability_limit_for_the_public_workforce(repo: Path) -> None:
    public_team = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
    edit(repo, workteam_arn=public_team, task_availability_lifetime_seconds=86400)
    with pytest.raises(pub.ProjectError, match="the maximum for the public workforce"):
        pub.load_project(repo, {})


def test_main_prints_one_line_per_problem_and_uploads_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(repo, workers_per_object=0, task_type="video")
    code = pub.main(["--source", str(repo), "--bucket", "unused", "--region", "us-east-1"])
    err = capsys.readouterr().err.splitlines()
    assert code == 1 and len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert "Traceback" not in "\n".join(err)


def test_the_published_config_leaves_out_what_is_not_published(repo: Path) -> None:
    project = pub.load_project(repo, {"GT_DEFAULT_WORKTEAM_ARN": TEAM})
    _, config = pub.render(repo, project, bucket="ib", region="us-east-1", version="v1", public=True)
    assert "$schema" not in config and "examples" not in config
    assert config["content_classifiers"] == [] and config["workers_per_object"] == 1  # defaults written out


def test_render_public_uploads_config_last_and_fills_the_template(repo: Path) -> None:
    project = pub.load_project(repo, {"GT_DEFAULT_WORKTEAM_ARN": TEAM})
    uploads, config = pub.render(repo, project, bucket="ib", region="us-east-1", version="v1", public=True)
    keys = [u.key for u in uploads]
    assert keys[-1] == "config/project.json"
    assert "public/v1/instructions.html" in keys and "public/v1/examples/cat.svg" in keys
    template = next(u for u in uploads if u.key == "config/v1/template.liquid.html").body.decode()
    assert "[[" not in template and "task.input.taskObject | grant_read_access" in template
    assert "https://ib.s3.us-east-1.amazonaws.com/public/v1/examples/cat.svg" in template
    assert json.loads(uploads[-1].body) == config
    assert config["template_uri"] == "s3://ib/config/v1/template.liquid.html"
    categories = json.loads(next(u for u in uploads if u.key.endswith("categories.json")).body)
    labels = [{"label": c} for c in ["cat", "dog", "bird"]]
    assert categories == {"document-version": "2018-11-28", "labels": labels}


def test_render_private_keeps_everything_under_config(repo: Path) -> None:
    project = pub.load_project(repo, {"GT_DEFAULT_WORKTEAM_ARN": TEAM})
    uploads, _ = pub.render(repo, project, bucket="ib", region="us-east-1", version="v1", public=False)
    assert all(u.key.startswith("config/") for u in uploads)
    template = next(u for u in uploads if u.key.endswith("template.liquid.html")).body.decode()
    assert "'s3://ib/config/v1/examples/cat.svg' | grant_read_access" in template


def test_markdown_subset() -> None:
    html = pub.markdown_to_html("# Title\n\nSome **bold** and *em* [link](https://x).\n\n- one\n- two\n")
    assert html == (
        '<h1>Title</h1>\n<p>Some <strong>bold</strong> and <em>em</em> <a href="https://x">link</a>.</p>\n'
        "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"
    )


def test_publish_puts_in_order() -> None:
    calls: list[str] = []

    class FakeS3:
        def put_object(self, **kwargs: Any) -> None:
            calls.append(kwargs["Key"])

    pub.publish([pub.Upload("a", b"1", "x"), pub.Upload("config/project.json", b"{}", "y")], "b", FakeS3())
    assert calls == ["a", "config/project.json"]


def test_the_publisher_runs_as_the_pipeline_lays_it_out(tmp_path: Path) -> None:
    """CodeBuild gets publish_instructions.py and gtcontract/*.{py,json} side by side (Terraform's
    fileset, the buildspec's copy); the script must run from there, with that gtcontract."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    tools = tmp_path / "publisher"
    (tools / "gtcontract").mkdir(parents=True)
    shutil.copy(root / "scripts" / "publish_instructions.py", tools)
    contract = root / "lambda_src" / "gtcontract"
    for path in [*contract.glob("*.py"), *contract.glob("*.json")]:
        shutil.copy(path, tools / "gtcontract")
    env = {**os.environ, "GT_DEFAULT_WORKTEAM_ARN": TEAM}
    script = [sys.executable, "-I", str(tools / "publish_instructions.py")]
    run = subprocess.run(
        [*script, "--source", str(STARTER), "--bucket", "b", "--region", "us-east-1", "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "(dry run) config/project.json" in run.stdout
    where = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tools)!r}); "
         "import gtcontract.project_config as m; print(m.__file__)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(tools))


# --- one-line errors for what is missing around the repository (bucket, credentials, files) --------


def run_main(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[str]]:
    code = pub.main(["--source", str(repo), "--region", "us-east-1", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    return code, err


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto in process and the workteam the pipeline passes."""
    from tests.inprocess import in_process_aws

    monkeypatch.setenv("GT_DEFAULT_WORKTEAM_ARN", TEAM)
    with in_process_aws(monkeypatch):
        yield


def test_a_missing_bucket_is_one_line_and_nothing_is_published(
    repo: Path, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_main(repo, capsys, "--bucket", "no-such-bucket")
    assert code == 1 and len(err) == 1
    assert err[0].startswith("error: bucket no-such-bucket does not exist")


def test_missing_credentials_are_one_line(
    repo: Path, aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(repo / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(repo / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, err = run_main(repo, capsys, "--bucket", "b")
    assert code == 1 and err == [
        "error: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
        "(CodeBuild: the project's service role)"
    ]


def test_a_published_run_uploads_config_last(
    repo: Path, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="instructions-bucket")
    code, err = run_main(repo, capsys, "--bucket", "instructions-bucket", "--version", "v1")
    assert code == 0 and err == []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="instructions-bucket")["Contents"]]
    assert "config/project.json" in keys and "config/v1/template.liquid.html" in keys


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda r: shutil.rmtree(r), "--source"),
        (
            lambda r: (r / "templates" / "image-classification.liquid.html").unlink(),
            "template.liquid.html: missing from the repository, and so is "
            "templates/image-classification.liquid.html",
        ),
        (lambda r: (r / "examples" / "cat.svg").unlink(), "examples[0].file:"),
        (lambda r: (r / "project.json").unlink(), "project.json: not found"),
        (lambda r: (r / "template.liquid.html").write_text("{{ x | nope }}"), "unknown filter 'nope'"),
        (lambda r: (r / "template.liquid.html").write_text("[[ titel ]]"), "unknown placeholder [[ titel ]]"),
    ],
    ids=["source", "template", "example", "project", "filter", "placeholder"],
)
def test_a_missing_or_broken_file_is_one_line(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    break_it: Any,
    expected: str,
) -> None:
    monkeypatch.setenv("GT_DEFAULT_WORKTEAM_ARN", TEAM)
    break_it(repo)
    code, err = run_main(repo, capsys, "--bucket", "b", "--dry-run")
    assert code in (1, 2) and len(err) == 1 and err[0].startswith("error: ") and expected in err[0]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDenied", "not allowed to write to s3://b (AccessDenied: m); the role needs s3:PutObject"),
        ("ExpiredToken", "not allowed to write to s3://b (ExpiredToken: m)"),
        ("NoSuchBucket", "bucket b does not exist; pass --bucket (or INSTRUCTIONS_BUCKET)"),
        ("SlowDown", "upload to s3://b failed (SlowDown: m)"),
    ],
)
def test_each_s3_refusal_is_one_line_naming_the_bucket(code: str, expected: str) -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    error = ClientError({"Error": {"Code": code, "Message": "m"}}, "PutObject")
    line = pub.aws_problem(error, "b")
    assert line.startswith(expected) and "\n" not in line
    unreachable = pub.aws_problem(EndpointConnectionError(endpoint_url="http://x"), "b")
    assert unreachable.startswith("cannot reach S3 (") and "AWS_ENDPOINT_URL" in unreachable


def test_published_categories_keep_their_positions(
    repo: Path, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="instructions-bucket")
    project = json.loads((repo / "project.json").read_text())
    first = list(project["categories"])
    assert len(first) >= 3

    def publish(categories: list[str], version: str, *extra: str) -> tuple[int, list[str]]:
        (repo / "project.json").write_text(json.dumps({**project, "categories": categories}))
        return run_main(repo, capsys, "--bucket", "instructions-bucket", "--version", version, *extra)

    def published_version() -> str:
        body = s3.get_object(Bucket="instructions-bucket", Key="config/project.json")["Body"].read()
        return str(json.loads(body)["version"])

    assert publish(first, "v1") == (0, [])
    code, err = publish([first[1], first[0], *first[2:]], "v2")  # two swapped
    assert code == 1 and published_version() == "v1"
    fix = (
        "but labels already made refer to it by position; keep the published categories in their order "
        "and append new ones at the end (or start a new project for a new category scheme) "
        "(or pass --allow-category-changes)"
    )
    assert err == [
        f"error: project.json: categories[0]: {json.dumps(first[0])} moved from position 0 to 1, {fix}",
        f"error: project.json: categories[1]: {json.dumps(first[1])} moved from position 1 to 0, {fix}",
    ]
    code, err = publish(first[:-1], "v3")  # the last one removed
    assert code == 1 and len(err) == 1 and "removed (it was at position" in err[0]
    assert published_version() == "v1"
    assert publish([*first, "fox"], "v4") == (0, [])  # appended: every earlier position kept
    assert publish(["fox", *first], "v5", "--allow-category-changes") == (0, [])
    assert published_version() == "v5"


@pytest.mark.parametrize(
    ("task_type", "attr", "audit", "element"),
    [
        ("image-multilabel-classification", "animals", None, "crowd-image-classifier-multi-select"),
        ("bounding-box", "boxes", None, "crowd-bounding-box"),
        ("semantic-segmentation", "mask-ref", None, "crowd-semantic-segmentation"),
        ("bounding-box-verification", "verdict", "boxes", "crowd-image-classifier"),
        ("bounding-box-adjustment", "adjusted-boxes", "boxes", "crowd-bounding-box"),
        ("semantic-segmentation-adjustment", "adjusted-mask-ref", "mask-ref", "crowd-semantic-segmentation"),
    ],
)
def test_each_task_type_publishes_its_starter_template_and_a_review_names_its_label(
    repo: Path, task_type: str, attr: str, audit: str | None, element: str
) -> None:
    categories = ["good", "bad"] if task_type == "bounding-box-verification" else ["cat", "dog", "bird"]
    edit(repo, task_type=task_type, label_attribute_name=attr, audit_label_attribute_name=audit)
    edit(repo, categories=categories, examples=[])
    project = pub.load_project(repo, {"GT_DEFAULT_WORKTEAM_ARN": TEAM})
    uploads, config = pub.render(repo, project, bucket="ib", region="us-east-1", version="v1", public=True)
    template = next(u for u in uploads if u.key.endswith("template.liquid.html")).body.decode()
    assert f"<{element}" in template and "[[" not in template
    if audit:
        assert f'task.input.manifestLine["{audit}"]' in template
    label_file = json.loads(next(u for u in uploads if u.key.endswith("categories.json")).body)
    assert label_file.get("auditLabelAttributeName") == audit
    assert (config["task_type"], config["audit_label_attribute_name"]) == (task_type, audit)


def test_a_repository_template_of_another_task_type_is_refused_naming_the_starter(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_DEFAULT_WORKTEAM_ARN", TEAM)
    shutil.copy(repo / "templates" / "image-classification.liquid.html", repo / "template.liquid.html")
    edit(repo, task_type="bounding-box", label_attribute_name="boxes")
    code, err = run_main(repo, capsys, "--bucket", "b", "--dry-run")
    assert code == 1 and err == [
        "error: template.liquid.html: has no <crowd-bounding-box> (it uses <crowd-image-classifier>), "
        "the element of bounding-box tasks; start from templates/bounding-box.liquid.html"
    ]
