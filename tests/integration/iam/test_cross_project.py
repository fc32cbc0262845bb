"""Two projects side by side, ``cats`` and ``cats-v2``: each one's Lambda roles and Ground Truth role
are refused the other's jobs, queues (its own and the ``GroundTruth-*`` ones), buckets and table,
while the same call on their own project is allowed where their policy grants it (issue 9: the
old ``<prefix>-*`` patterns let ``cats`` stop ``cats-v2``'s jobs and delete its queues).

The SDK deployment stands for the three: tests/integration/terraform compares its roles and policies
with Terraform's and CloudFormation's, statement for statement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from iam_world import LAMBDA, SAGEMAKER, deploy, project_of, refusal, session_of

from gtlocal.testing import LocalCloud, reset_local_cloud

Call = Callable[[boto3.Session, dict[str, Any], str], Any]


def job_call(session: boto3.Session, project: dict[str, Any], job: str) -> Any:
    return session.client("sagemaker").describe_labeling_job(LabelingJobName=job)


def queue_call(session: boto3.Session, project: dict[str, Any], job: str) -> Any:
    return session.client("sqs").get_queue_attributes(
        QueueUrl=project["queues"]["intake"]["url"], AttributeNames=["VisibilityTimeout"]
    )


def groundtruth_queue_call(session: boto3.Session, project: dict[str, Any], job: str) -> Any:
    return session.client("sqs").get_queue_url(QueueName=f"GroundTruth-{job}")


def bucket_call(session: boto3.Session, project: dict[str, Any], job: str) -> Any:
    output = project["buckets"]["output"]
    return session.client("s3").get_object(Bucket=output, Key=f"jobs/{job}/manifests/output/output.manifest")


def table_call(session: boto3.Session, project: dict[str, Any], job: str) -> Any:
    return session.client("dynamodb").update_item(
        TableName=project["ledger_table"],
        Key={"pk": {"S": "PROBE#iam"}, "sk": {"S": "PROBE"}},
        UpdateExpression="ADD probes :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


RESOURCE_KINDS: dict[str, Call] = {
    "job": job_call,
    "queue": queue_call,
    "GroundTruth queue": groundtruth_queue_call,
    "bucket": bucket_call,
    "table": table_call,
}
ROLE_KINDS = ("intake", "job_events", "worker_events", "labels", "reconcile", "groundtruth")
# The calls each role's policy grants on its own project (the control: allowed at home).
GRANTED_AT_HOME = {
    "intake": {"job", "queue", "bucket", "table"},
    "job_events": {"job", "bucket", "table"},
    "worker_events": {"table"},  # LedgerCounters: UpdateItem
    "labels": {"table"},  # LiveLabels: UpdateItem
    "reconcile": {"job", "GroundTruth queue", "bucket", "table"},
    "groundtruth": {"GroundTruth queue", "bucket"},
}


@pytest.fixture(scope="module")
def projects(local_cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    """Both projects deployed, each with its first job (and so its GroundTruth-<job> queue) and an
    output manifest."""
    reset_local_cloud(local_cloud)
    deployed = {prefix: deploy(local_cloud, prefix) for prefix in ("cats", "cats-v2")}
    for prefix, document in deployed.items():
        project = project_of(local_cloud, document)
        project.drop_images(0, 1)
        project.run()
        assert f"{prefix}-0001" in project.jobs()
    local_cloud.control.advance_clock(3600)  # both jobs InProgress: output manifests written
    return deployed


def session_as(cloud: LocalCloud, project: dict[str, Any], kind: str) -> boto3.Session:
    if kind == "groundtruth":
        return session_of(cloud, project["groundtruth_role_arn"], SAGEMAKER, project["account_id"])
    return session_of(cloud, project["lambda_roles"][kind], LAMBDA)


@pytest.mark.parametrize("resource", list(RESOURCE_KINDS))
@pytest.mark.parametrize("kind", ROLE_KINDS)
@pytest.mark.parametrize(("mine", "theirs"), [("cats", "cats-v2"), ("cats-v2", "cats")])
def test_a_project_role_is_refused_the_other_projects_resources(
    projects: dict[str, dict[str, Any]],
    local_cloud: LocalCloud,
    mine: str,
    theirs: str,
    kind: str,
    resource: str,
) -> None:
    call = RESOURCE_KINDS[resource]
    session = session_as(local_cloud, projects[mine], kind)
    if resource in GRANTED_AT_HOME[kind]:
        call(session, projects[mine], f"{mine}-0001")  # allowed on its own project

    error = refusal(lambda: call(session, projects[theirs], f"{theirs}-0001"))

    if error["Message"]:  # S3 answers a refused GetObject as AWS does; the others name the action
        assert (
            f"assumed-role/{mine}-" in error["Message"] and "is not authorized to perform" in error["Message"]
        )
