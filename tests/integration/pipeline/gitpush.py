"""Plain git against the local cloud's CodeCommit, and the pipeline's API, as a user sees them.

Git runs as a user runs it: ``git clone <CloneUrlHttp>`` with the AWS CLI's credential helper
(``aws codecommit credential-helper``, the AWS CLI of this environment), isolated from the user's
git configuration. Used by the CloudFormation stacks here (``conftest.py``) and by the Terraform
example (``tests/integration/terraform``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from gtlocal.testing import LocalCloud

ROOT = Path(__file__).resolve().parents[3]
STARTER = ROOT / "instructions"
REGION = "us-east-1"


def git_environment(home: Path) -> dict[str, str]:
    """Plain git, isolated from the user's configuration, with the AWS CLI credential helper on PATH."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {
        **os.environ,
        "PATH": path,
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Instructions Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Instructions Author",
        "GIT_COMMITTER_EMAIL": "author@example.com",
    }


# The AWS CLI credential helper, as the CodeCommit User Guide sets it up for HTTPS
# (setting-up-https-unixes.html) and terraform/examples/complete/README.md repeats; with
# --ignore-host-check: the local cloud is not *.amazonaws.com.
GITCONFIG = """[credential]
	helper = "!aws codecommit credential-helper $@ --ignore-host-check"
	UseHttpPath = true
"""
README = ROOT / "terraform" / "examples" / "complete" / "README.md"
CLONE_URL_OUTPUT = '"$(terraform output -raw repository_clone_url_http)"'


def readme_push_commands() -> list[str]:
    """The README's shell block that makes and pushes the instructions repository, line by line."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.DOTALL)
    (push,) = [b for b in blocks if b.startswith("git clone ")]
    return [line for line in push.splitlines() if line.strip()]


@dataclass
class Git:
    home: Path
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / ".gitconfig").write_text(GITCONFIG)
        self.env = git_environment(self.home)

    def __call__(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc


@dataclass
class PipelineProject:
    """One project from the four stacks, with its repository, pipeline and labeling Lambdas."""

    cloud: LocalCloud
    repository: dict[str, str]
    git: Git
    buckets: dict[str, str] = field(default_factory=dict)
    pipeline: dict[str, str] = field(default_factory=dict)
    project: Any = None  # behaviour.conftest.Project, when the labeling Lambdas are deployed

    @property
    def clone_url(self) -> str:
        return self.repository["CloneUrlHttp"]

    def clone(self, into: Path) -> Path:
        self.git("clone", "--quiet", self.clone_url, str(into))
        return into

    def push_as_the_readme_says(self) -> tuple[Path, str]:
        """terraform/examples/complete/README.md's commands, as written, in one shell from the
        example's directory (the clone URL the stack reports for the Terraform output); the clone
        they make and the commit they pushed."""
        commands = readme_push_commands()
        assert CLONE_URL_OUTPUT in commands[0]
        script = "\n".join(["set -eu", *commands]).replace(CLONE_URL_OUTPUT, shlex.quote(self.clone_url))
        proc = subprocess.run(
            ["bash", "-c", script],
            cwd=README.parent,
            env=self.git.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, f"the README's push commands failed: {proc.stderr.strip()}"
        work = self.home_path("~/pets-instructions")
        return work, self.git("rev-parse", "HEAD", cwd=work).stdout.strip()

    def home_path(self, path: str) -> Path:
        return self.git.home / path.removeprefix("~/")

    def commit_and_push(self, work: Path, message: str) -> str:
        self.git("add", "--all", cwd=work)
        self.git("commit", "--quiet", "-m", message, cwd=work)
        self.git("push", "--quiet", "origin", "HEAD:main", cwd=work)
        return self.git("rev-parse", "HEAD", cwd=work).stdout.strip()

    def wait(self) -> None:
        assert self.cloud.control.wait_for_pipelines(timeout=600), "pipelines still running after 600 s"

    def executions(self) -> list[dict[str, Any]]:
        pipeline = boto3.client("codepipeline", region_name=REGION)
        summaries: list[dict[str, Any]] = pipeline.list_pipeline_executions(
            pipelineName=self.pipeline["PipelineName"]
        )["pipelineExecutionSummaries"]
        return summaries

    def build_of(self, execution_id: str) -> dict[str, Any]:
        """The CodeBuild build an execution's Build stage ran (from GetPipelineState)."""
        state = boto3.client("codepipeline", region_name=REGION).get_pipeline_state(
            name=self.pipeline["PipelineName"]
        )
        (build_stage,) = [s for s in state["stageStates"] if s["stageName"] == "Build"]
        assert build_stage["latestExecution"]["pipelineExecutionId"] == execution_id
        build_id = build_stage["actionStates"][0]["latestExecution"]["externalExecutionId"]
        (build,) = boto3.client("codebuild", region_name=REGION).batch_get_builds(ids=[build_id])["builds"]
        return dict(build)

    def build_log(self, build: dict[str, Any]) -> list[str]:
        """The build's log, read from CloudWatch Logs where CodeBuild writes it."""
        logs = build["logs"]
        events = boto3.client("logs", region_name=REGION).get_log_events(
            logGroupName=logs["groupName"], logStreamName=logs["streamName"], startFromHead=True
        )["events"]
        return [e["message"] for e in events]

    def instruction_objects(self) -> dict[str, str]:
        """Every object of the instruction bucket: key -> ETag."""
        s3 = boto3.client("s3", region_name=REGION)
        listing = s3.list_objects_v2(Bucket=self.buckets["InstructionBucketName"]).get("Contents", [])
        return {o["Key"]: o["ETag"] for o in listing}

    def published_config(self) -> dict[str, Any]:
        body = boto3.client("s3", region_name=REGION).get_object(
            Bucket=self.buckets["InstructionBucketName"], Key="config/project.json"
        )["Body"]
        config: dict[str, Any] = json.loads(body.read())
        return config
