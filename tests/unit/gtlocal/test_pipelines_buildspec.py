"""buildspec.yml as CodeBuild runs it (gtlocal.pipelines.buildspec), and CodeCommit's push events.

The script runs in bash here, as in a build: one shell for every phase (version 0.2), a failed
command ends its phase (``finally`` still runs), a failed install/pre_build ends the build,
post_build runs after a failed build with CODEBUILD_BUILD_SUCCEEDING=0, on-failure CONTINUE.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gtlocal.pipelines.buildspec import BuildspecError, failed_command, parse, script
from gtlocal.pipelines.gitserver import RefUpdate, RepositoryRef, state_change_events


def run(tmp_path: Path, text: str) -> tuple[str, list[list[str]]]:
    spec = parse(text)
    driver = tmp_path / "driver.sh"
    driver.write_text(script(spec))
    status = tmp_path / "status"
    proc = subprocess.run(
        ["/bin/bash", str(driver), str(status)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    phases = [line.split(" ") for line in status.read_text().splitlines()]
    ends = [[p[1], p[2], *p[4:]] for p in phases if p[0] == "END"]
    return proc.stdout, ends


def test_one_shell_for_all_phases_and_post_build_after_a_failed_build(tmp_path: Path) -> None:
    out, ends = run(
        tmp_path,
        """
version: 0.2
phases:
  install:
    commands:
      - mkdir sub && cd sub && KEPT=yes
  pre_build:
    commands:
      - echo "pre $KEPT $(basename $PWD) $1"
  build:
    commands:
      - echo building
      - exit_code() { return 3; }; exit_code
      - echo never
    finally:
      - echo finally-ran
  post_build:
    commands:
      - echo post succeeding=$CODEBUILD_BUILD_SUCCEEDING
""",
    )
    assert "pre yes sub \n" in out  # cd and variables carry over; no positional arguments leak
    assert "never" not in out and "finally-ran" in out
    assert "post succeeding=0" in out
    assert "Command did not exit successfully exit_code() { return 3; }; exit_code exit status 3" in out
    assert ends == [
        ["INSTALL", "SUCCEEDED"],
        ["PRE_BUILD", "SUCCEEDED"],
        ["BUILD", "FAILED", "3", "__gt_build_commands", "1"],
        ["POST_BUILD", "SUCCEEDED"],
    ]


def test_a_failed_install_ends_the_build_unless_it_continues(tmp_path: Path) -> None:
    body = """
version: 0.2
phases:
  install:
    {extra}
    commands:
      - "false"
  build:
    commands:
      - echo built
"""
    out, ends = run(tmp_path, body.format(extra=""))
    assert ends == [["INSTALL", "FAILED", "1", "__gt_install_commands", "0"]] and "built" not in out
    out, ends = run(tmp_path, body.format(extra="on-failure: CONTINUE"))
    assert [e[:2] for e in ends] == [
        ["INSTALL", "FAILED"],
        ["PRE_BUILD", "SUCCEEDED"],
        ["BUILD", "SUCCEEDED"],
        ["POST_BUILD", "SUCCEEDED"],
    ]
    assert "built" in out


def test_the_failed_command_is_found_again(tmp_path: Path) -> None:
    spec = parse("version: 0.2\nphases:\n  pre_build:\n    commands: [a, b]\n    finally: [c]\n")
    assert failed_command(spec, "__gt_pre_build_commands", 1) == "b"
    assert failed_command(spec, "__gt_pre_build_finally", 0) == "c"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 0.1\nphases: {}", "version 0.1 is not supported"),
        ("version: 0.2\nphases:\n  deploy: {commands: [x]}", "unknown phase(s) deploy"),
        ("version: 0.2\nphases:\n  build: {commands: x}", "phases.build.commands must be a list"),
        ("version: 0.2\nphases:\n  build: {on-failure: RETRY}", "on-failure must be ABORT or CONTINUE"),
        ("version: 0.2\nenv:\n  parameter-store: {A: /x}", "env.parameter-store is not modelled"),
        ("version: 0.2\nphases:\n  build: {runtime-versions: {python: 3.11}}", "only allowed in the install"),
        ("version: [0.2", "YAML_FILE_ERROR"),
    ],
)
def test_a_buildspec_codebuild_would_refuse(text: str, message: str) -> None:
    with pytest.raises(BuildspecError) as error:
        parse(text)
    assert message in str(error.value)


def test_a_push_is_one_state_change_event_per_ref() -> None:
    repo = RepositoryRef("123456789012", "us-east-1", "cats", "id-1", "arn:aws:codecommit:us-east-1:1:cats")
    zero, a, b = "0" * 40, "a" * 40, "b" * 40
    updates = [
        RefUpdate("refs/heads/main", zero, a),
        RefUpdate("refs/heads/dev", a, b),
        RefUpdate("refs/tags/v1", a, zero),
    ]
    events = state_change_events(repo, updates, "arn:aws:iam::123456789012:root")
    assert {e["Source"] for e in events} == {"aws.codecommit"}
    assert {e["DetailType"] for e in events} == {"CodeCommit Repository State Change"}
    details = [json.loads(e["Detail"]) for e in events]
    assert [(d["event"], d["referenceType"], d["referenceName"]) for d in details] == [
        ("referenceCreated", "branch", "main"),
        ("referenceUpdated", "branch", "dev"),
        ("referenceDeleted", "tag", "v1"),
    ]
    assert details[0]["commitId"] == a and "oldCommitId" not in details[0]
    assert (details[1]["commitId"], details[1]["oldCommitId"]) == (b, a)
    assert "commitId" not in details[2] and details[2]["oldCommitId"] == a
    assert all(e["Resources"] == [repo.arn] for e in events)
