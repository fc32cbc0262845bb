"""Who acts as whom: the runner calls each handler as its function's execution role (and polls its
queue as that role), the emulator does a job's work as the job's role, and CreateLabelingJob checks
the caller's iam:PassRole and sagemaker:AddTags."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from iam_world import LAMBDA, deploy, project_of, replace_statements, session_of, statement

from gtlocal.runner import FunctionRoles, RunnerError, run_until_idle
from gtlocal.testing import LocalCloud, reset_local_cloud

ACCOUNT = "123456789012"


def test_each_function_and_the_job_act_as_their_own_role(cloud: LocalCloud) -> None:
    document = deploy(cloud, "who")
    project = project_of(cloud, document)
    project.drop_images(0, 2)
    project.run(reconcile=True)
    project.start_job_running(1)
    project.label_all(1)
    project.run(reconcile=True)

    actions: dict[str, set[str]] = defaultdict(set)
    for line in cloud.control.iam_calls():
        # this project's roles only (a job an earlier test's project left may still act)
        if line["principal_type"] == "role" and ":assumed-role/who-" in line["principal"]:
            assert line["decision"] == "allow", line
            actions[line["principal"]].add(line["action"])
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/who-"
    assert set(actions) == {
        f"{session}intake-lambda/who-intake",
        f"{session}job-events-lambda/who-job-events",
        f"{session}worker-events-lambda/who-worker-events",
        f"{session}labels-lambda/who-labels",  # polls its queue even when no label arrives
        f"{session}reconcile-lambda/who-reconcile",
        f"{session}groundtruth/SageMaker",
    }
    # The event-source mapping's calls are the function's: each polls only its own queue.
    for kind in ("intake", "job-events", "worker-events"):
        assert {"sqs:ReceiveMessage", "sqs:GetQueueAttributes"} <= actions[
            f"{session}{kind}-lambda/who-{kind}"
        ]
    assert "sagemaker:CreateLabelingJob" in actions[f"{session}intake-lambda/who-intake"]
    assert {"sqs:CreateQueue", "sns:Subscribe", "s3:PutObject"} <= actions[f"{session}groundtruth/SageMaker"]
    # The service's own calls (the input-topic check, events) are not the role's.
    assert not {"sns:GetTopicAttributes", "events:PutEvents"} & actions[f"{session}groundtruth/SageMaker"]


def test_create_labeling_job_needs_pass_role_and_add_tags(cloud: LocalCloud) -> None:
    document = deploy(cloud, "pas")
    intake = document["lambda_roles"]["intake"]
    project = project_of(cloud, document)
    pass_role = statement(intake, "PassGroundTruthRole")
    refused = f"is not authorized to perform: iam:PassRole on resource: {document['groundtruth_role_arn']}"
    replace_statements(intake, remove=("PassGroundTruthRole",))
    project.drop_images(0, 1)
    project.run()
    assert refused in project.reported()
    # Only to SageMaker: the same grant for another service does not pass the role.
    other = {**pass_role, "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}
    replace_statements(intake, add=(other,))
    project.said.clear()
    project.drop_images(1, 1)
    project.run()
    assert refused in project.reported()

    # The job's Tags need sagemaker:AddTags too.
    create_only = {**statement(intake, "CreateJobs"), "Action": "sagemaker:CreateLabelingJob"}
    replace_statements(intake, remove=("PassGroundTruthRole", "CreateJobs"), add=(pass_role, create_only))
    project.said.clear()
    project.drop_images(2, 1)
    project.run()
    assert "is not authorized to perform: sagemaker:AddTags on resource: " in project.reported()
    assert project.jobs() == []


def test_a_trust_policy_that_refuses_the_service_stops_the_runner_and_fails_the_job(
    cloud: LocalCloud,
) -> None:
    document = deploy(cloud, "tru")
    iam = boto3.client("iam")
    nobody = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    iam.update_assume_role_policy(RoleName="tru-worker-events-lambda", PolicyDocument=nobody)
    with pytest.raises(
        RunnerError, match=r"lambda\.amazonaws\.com may not assume .*tru-worker-events-lambda"
    ):
        run_until_idle(document)

    iam.update_assume_role_policy(RoleName="tru-groundtruth", PolicyDocument=nobody)
    project = project_of(
        cloud,
        {**document, "handlers": {k: v for k, v in document["handlers"].items() if k != "worker_events"}},
    )
    project.drop_images(0, 1)
    project.run()
    cloud.control.advance_clock(1)
    view = cloud.control.job("tru-0001")
    assert view["status"] == "Failed"
    assert view["failure_reason"].startswith(
        "ClientError: sagemaker.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: "
        f"arn:aws:iam::{ACCOUNT}:role/tru-groundtruth"
    )


def test_a_session_from_before_a_reset_is_refused_and_the_runner_gets_a_new_one(cloud: LocalCloud) -> None:
    document = deploy(cloud, "old")
    run_until_idle(document)  # the runner keeps the functions' sessions
    stale = session_of(cloud, document["lambda_roles"]["intake"], LAMBDA).client("sqs")
    reset_local_cloud(cloud)
    with pytest.raises(ClientError) as caught:  # not the root user: AWS refuses an unknown session
        stale.get_queue_attributes(QueueUrl=document["queues"]["intake"]["url"])
    assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"

    document = deploy(cloud, "old")
    # The new deployment's queue holds S3's test event (sent when the notification is configured):
    # the runner's kept sessions are refused, renewed, and the event is read and handled.
    stats = run_until_idle(document)
    assert stats.handler_errors == 0 and stats.succeeded["intake"] == 1 and stats.failed["intake"] == 0


def test_as_root_and_documents_without_lambda_roles(cloud: LocalCloud, tmp_path: Path) -> None:
    document = deploy(cloud, "roo")
    old = {k: v for k, v in document.items() if k != "lambda_roles"}
    with pytest.raises(RunnerError, match="no lambda_roles"):
        run_until_idle(old)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    ran = subprocess.run(
        [sys.executable, "-m", "gtlocal", "run-events", "--deployment", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2 and len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    assert "lambda_roles" in ran.stderr

    before = len(cloud.control.iam_calls())
    project = project_of(cloud, old)
    project.drop_images(0, 1)
    run_until_idle(old, as_root=True)  # the caller's (root) credentials: nothing restricted
    assert project.jobs() == ["roo-0001"]
    roles = {line["role"] for line in cloud.control.iam_calls()[before:]}
    assert roles <= {"roo-groundtruth", None}


def test_each_invocation_gets_its_functions_memory_setting_in_its_context(cloud: LocalCloud) -> None:
    """Lambda's context object carries the function's memory setting (memory_limit_in_mb): the
    runner reads it from the function's configuration."""
    document = deploy(cloud, "mem")
    boto3.client("lambda").update_function_configuration(FunctionName="mem-intake", MemorySize=256)
    roles = FunctionRoles(document, cloud.endpoint)
    assert (roles.context("intake").memory_limit_in_mb, roles.context("reconcile").memory_limit_in_mb) == (
        256,
        1024,  # the SDK deployment's setting, as Terraform's and the stacks' default
    )
