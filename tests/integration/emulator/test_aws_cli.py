"""The AWS CLI (PyPI ``awscli``), unchanged, against the local cloud.

The ``put-rule`` commands are those of "Monitor Labeling Job Status"
(https://docs.aws.amazon.com/sagemaker/latest/dg/sms-monitor-cloud-watch.html), run as the page
prints them (one line each; ``--region "region"`` is the page's placeholder). The server checks
requests against the SageMaker service model, so the CLI gets the same ``ValidationException``
as boto3 for a name that breaks the pattern.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from emulator_world import ROLE, World

from gtlocal.testing import allow_delivery, aws_environment

AWS_CLI = Path(sys.executable).with_name("aws")
ROLE_FOR_RULE = '"arn:aws:iam::111122223333:role/MyRoleForThisRule"'
STATE_CHANGE = '\\"detail-type\\":[\\"SageMaker Ground Truth Labeling Job State Change\\"]'
PAGE_COMMANDS = [
    'aws events put-rule --name "GTLabelingJobStateChanges" '
    f'--event-pattern "{{\\"source\\":[\\"aws.sagemaker\\"],{STATE_CHANGE}}}" '
    f'--role-arn {ROLE_FOR_RULE} --region "us-east-1"',
    'aws events put-rule --name "LabelingJobCompleted" '
    f'--event-pattern "{{\\"source\\":[\\"aws.sagemaker\\"],{STATE_CHANGE}, '
    '\\"detail\\":{\\"LabelingJobStatus\\":[\\"Completed\\"]}}" '
    f"--role-arn {ROLE_FOR_RULE} --region us-west-2",
    'aws events put-rule --name "LabelingJobCompletedOrFailed" '
    f'--event-pattern "{{\\"source\\":[\\"aws.sagemaker\\"],{STATE_CHANGE}, '
    '\\"detail\\":{\\"LabelingJobStatus\\":[\\"Completed\\", \\"Failed\\"]}}" '
    f"--role-arn {ROLE_FOR_RULE} --region us-east-1",
]


@pytest.fixture
def cli_env(world: World, tmp_path: Path) -> dict[str, str]:
    if not AWS_CLI.exists():
        pytest.skip(f"the AWS CLI is not installed at {AWS_CLI}: run `make install`")
    return {
        "PATH": f"{AWS_CLI.parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        **aws_environment(world.cloud.endpoint),
    }


def shell(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def aws(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [str(AWS_CLI), *args, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def queue_target(env: dict[str, str], rule: str, region: str) -> str:
    """An SQS queue as the rule's target (the page's step "Set Up a Target", in the console there).

    The queue is made with boto3: awscli v1 sends SQS calls of us-east-1 to queue.amazonaws.com
    whatever ``AWS_ENDPOINT_URL`` says (its legacy SQS endpoint customization). The console adds
    the queue policy EventBridge needs; outside it the queue's owner does (the local cloud, like
    AWS, drops deliveries the queue policy does not allow)."""
    sqs = boto3.client("sqs", region_name=region)
    url: str = sqs.create_queue(QueueName=f"{rule}-target")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = boto3.client("events", region_name=region).describe_rule(Name=rule)["Arn"]
    allow_delivery(sqs, url, "events.amazonaws.com", rule_arn)
    targets = json.dumps([{"Id": "queue", "Arn": arn}])
    aws(env, "events", "put-targets", "--rule", rule, "--targets", targets, "--region", region)
    return url


def statuses(url: str, region: str) -> list[str]:
    sqs = boto3.client("sqs", region_name=region)
    found = []
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found.append(json.loads(message["Body"])["detail"]["LabelingJobStatus"])
    return sorted(found)


def test_monitor_labeling_job_status_commands_run_unchanged(
    world: World, cli_env: dict[str, str], tmp_path: Path
) -> None:
    for command in PAGE_COMMANDS:
        done = shell(command, cli_env)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        assert json.loads(done.stdout)["RuleArn"].startswith("arn:aws:events:")
    all_changes = queue_target(cli_env, "GTLabelingJobStateChanges", "us-east-1")
    completed_or_failed = queue_target(cli_env, "LabelingJobCompletedOrFailed", "us-east-1")
    completed_west = queue_target(cli_env, "LabelingJobCompleted", "us-west-2")

    # Jobs created through the CLI: one completes in each Region, one fails, one is stopped.
    manifest = world.put_manifest("cli.manifest", [{"source-ref": "s3://gt-input/a.jpg"}])
    for name, region in (("cli-done", "us-east-1"), ("cli-west", "us-west-2"), ("cli-failed", "us-east-1")):
        request = world.request(name, streaming=False, manifest=manifest)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(request))
        arn = aws(
            cli_env,
            "sagemaker",
            "create-labeling-job",
            "--cli-input-json",
            f"file://{path}",
            "--region",
            region,
        )
        assert arn["LabelingJobArn"] == f"arn:aws:sagemaker:{region}:{ROLE.split(':')[4]}:labeling-job/{name}"
    world.cloud.control.advance_clock(1)
    world.cloud.control.workforce("cli-done", label=1)
    world.cloud.control.workforce("cli-west", label=1)
    world.cloud.control.fail_job("cli-failed", "ClientError: injected")

    described = aws(cli_env, "sagemaker", "describe-labeling-job", "--labeling-job-name", "cli-done")
    assert described["LabelingJobStatus"] == "Completed"
    listed = aws(cli_env, "sagemaker", "list-labeling-jobs", "--status-equals", "Failed")
    assert [j["LabelingJobName"] for j in listed["LabelingJobSummaryList"]] == ["cli-failed"]

    # Only the documented statuses arrive: no Initializing or InProgress event.
    assert statuses(all_changes, "us-east-1") == ["Completed", "Failed"]
    assert statuses(completed_or_failed, "us-east-1") == ["Completed", "Failed"]
    assert statuses(completed_west, "us-west-2") == ["Completed"]


def test_a_bad_name_is_a_validation_exception_for_the_cli(world: World, cli_env: dict[str, str]) -> None:
    request = world.request("bad_name", streaming=False, manifest="s3://gt-input/m.manifest")
    arguments = [
        "sagemaker",
        "create-labeling-job",
        "--labeling-job-name",
        "bad_name",
        "--label-attribute-name",
        request["LabelAttributeName"],
        "--input-config",
        json.dumps(request["InputConfig"]),
        "--output-config",
        json.dumps(request["OutputConfig"]),
        "--role-arn",
        request["RoleArn"],
        "--human-task-config",
        json.dumps(request["HumanTaskConfig"]),
    ]
    done = subprocess.run(
        [str(AWS_CLI), *arguments], env=cli_env, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode in (254, 255), done.stderr  # the CLI's exit code for a service error
    assert "(ValidationException) when calling the CreateLabelingJob operation" in done.stderr
    assert (
        "1 validation error detected: Value 'bad_name' at 'labelingJobName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    ) in done.stderr
    assert world.sm.list_labeling_jobs()["LabelingJobSummaryList"] == []
