"""Given-steps of the IAM tests: SDK deployments (gtlocal.deploy, whose policies equal Terraform's and
CloudFormation's: tests/integration/terraform compares the three), role sessions as the services
get them, and statements taken out of or put into a deployed role.

These projects are not the behaviour suite's (prefix ``bt``): their calls, denials included, stay
out of the IAM coverage report (tests/iam_recording.py records only the behaviour runs).
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from gtlocal.deploy import deploy_project, publish_project_config
from gtlocal.runner import RunStats, run_until_idle
from gtlocal.testing import LocalCloud

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/integration: the behaviour suite
from behaviour.conftest import INITIALIZING_SECONDS, Project  # isort: skip
from behaviour import test_lifecycle  # isort: skip

LAMBDA = "lambda.amazonaws.com"
SAGEMAKER = "sagemaker.amazonaws.com"
DENIED = ("AccessDenied", "AccessDeniedException", "AuthorizationError")


def deploy(cloud: LocalCloud, prefix: str, *, publish: bool = True, **kwargs: Any) -> dict[str, Any]:
    document = deploy_project(
        prefix, region=cloud.region, environment={"PENDING_STALE_SECONDS": "0"}, **kwargs
    )
    if publish:
        publish_project_config(document)
    return document


@dataclass
class SaidProject(Project):
    """The behaviour suite's Project whose runs keep what the runner reported."""

    said: list[str] = field(default_factory=list)

    def run(self, **kwargs: Any) -> RunStats:
        return run_until_idle(self.deployment, echo=self.said.append, **kwargs)

    def reported(self) -> str:
        return "\n".join(self.said)


def project_of(cloud: LocalCloud, document: dict[str, Any]) -> SaidProject:
    cloud.control.update_settings(initializing_seconds=INITIALIZING_SECONDS, state_change_events="all")
    project = SaidProject(copy.deepcopy(document), cloud)
    project.subscribe_notifications()
    return project


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def inline_policy(role_arn: str) -> tuple[str, dict[str, Any]]:
    """The role's one inline policy (name, document), as deployed."""
    iam = boto3.client("iam")
    (name,) = iam.list_role_policies(RoleName=role_name(role_arn))["PolicyNames"]
    document: dict[str, Any] = iam.get_role_policy(RoleName=role_name(role_arn), PolicyName=name)[
        "PolicyDocument"
    ]
    return name, document


def statement(role_arn: str, sid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in inline_policy(role_arn)[1]["Statement"] if s.get("Sid") == sid)
    return found


def replace_statements(
    role_arn: str, remove: tuple[str, ...] = (), add: tuple[dict[str, Any], ...] = ()
) -> None:
    """The role's inline policy without the statements ``remove`` (by Sid), with ``add``."""
    name, document = inline_policy(role_arn)
    present = {s.get("Sid") for s in document["Statement"]}
    missing = set(remove) - present
    assert not missing, f"{role_arn} has no statement {missing}"
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") not in remove] + list(add)
    boto3.client("iam").put_role_policy(
        RoleName=role_name(role_arn), PolicyName=name, PolicyDocument=json.dumps(document)
    )


def session_of(cloud: LocalCloud, role_arn: str, service: str, account: str | None = None) -> boto3.Session:
    """A session of ``role_arn`` as ``service`` assumes it (its trust policy decides)."""
    credentials = cloud.control.service_credentials(role_arn, service, source_account=account)
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=cloud.region,
    )


def refusal(call: Any) -> dict[str, str]:
    """The error of a refused call (fails the test if the call succeeds or fails otherwise)."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error.get("Code") in DENIED, error
    return {"Code": str(error.get("Code")), "Message": str(error.get("Message", ""))}


def lifecycle_scenario(project: Project) -> None:
    """The behaviour suite's lifecycle scenario: images dropped before, during and after two jobs
    are all labeled (tests/integration/behaviour/test_lifecycle.py)."""
    test_lifecycle.test_images_dropped_before_during_and_after_jobs_are_all_labeled(project)
