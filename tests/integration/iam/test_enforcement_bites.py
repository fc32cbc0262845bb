"""Enforcement bites: a behaviour scenario, run with one statement taken out of one deployed role,
fails, and what fails names the refused action (issue 9, "Must show")."""

from __future__ import annotations

import pytest
from iam_world import deploy, lifecycle_scenario, project_of, replace_statements

from gtlocal.testing import LocalCloud

PREFIX = "bite"
JOB = f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{PREFIX}-0001"


def test_the_scenario_passes_with_the_deployed_policies(cloud: LocalCloud) -> None:
    project = project_of(cloud, deploy(cloud, PREFIX))
    lifecycle_scenario(project)  # the control: the same scenario, every statement in place
    assert "AccessDenied" not in project.reported()


def test_intake_without_create_jobs_is_refused_create_labeling_job(cloud: LocalCloud) -> None:
    document = deploy(cloud, PREFIX)
    replace_statements(document["lambda_roles"]["intake"], remove=("CreateJobs",))
    project = project_of(cloud, document)

    with pytest.raises(AssertionError):
        lifecycle_scenario(project)

    # The runner reports the intake invocation that failed, with AWS's error naming the action.
    assert (
        f"intake: handler raised ClientError: An error occurred (AccessDeniedException) when calling the "
        f"CreateLabelingJob operation: User: arn:aws:sts::123456789012:assumed-role/{PREFIX}-intake-lambda/"
        f"{PREFIX}-intake is not authorized to perform: sagemaker:CreateLabelingJob on resource: {JOB} "
        "because no identity-based policy allows the sagemaker:CreateLabelingJob action"
    ) in project.reported()
    assert project.jobs() == []


def test_a_groundtruth_role_without_its_output_statement_fails_the_job(cloud: LocalCloud) -> None:
    document = deploy(cloud, PREFIX)
    replace_statements(document["groundtruth_role_arn"], remove=("S3GetPutObjects",))
    project = project_of(cloud, document)

    with pytest.raises(AssertionError):
        lifecycle_scenario(project)

    # Ground Truth fails the job with a FailureReason naming the action and the resource.
    view = cloud.control.job(f"{PREFIX}-0001")
    assert view["status"] == "Failed"
    assert view["failure_reason"] == (
        f"ClientError: User: arn:aws:sts::123456789012:assumed-role/{PREFIX}-groundtruth/SageMaker is not "
        "authorized to perform: s3:PutObject on resource: "
        f"arn:aws:s3:::{document['buckets']['output']}/jobs/{PREFIX}-0001/manifests/output/output.manifest "
        "because no identity-based policy allows the s3:PutObject action"
    )
