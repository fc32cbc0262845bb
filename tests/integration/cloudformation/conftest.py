"""The CloudFormation stacks, created by moto's CloudFormation on the session local cloud.

The local cloud serves the CloudFormation models moto lacks (``gtlocal.cfn_models``, installed by
``gtlocal.shims`` in every local cloud), so these tests use the shared ``cloud`` fixture (reset
before each test).

Fixtures:
- ``deploy_stacks`` (function): creates buckets.yaml then labeling.yaml for a prefix, returns
  the deployment document read back from the stack (cloudformation/deployment_document.py).
- ``deployment``: the behaviour suite's fixture, fed from the CloudFormation stack.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.iam_recording import recording

from gtlocal.deploy import publish_project_config
from gtlocal.testing import LocalCloud

# The behaviour suite's fixtures, so that its tests can run here against the stacks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from behaviour.conftest import project  # noqa: F401  # isort: skip

from cfn_stacks import (  # isort: skip - this directory's helpers
    CODE_BUCKET,
    CODE_KEY,
    REGION,
    DeployStacks,
    create_stack,
    deployment_document,
    lambda_package,
)


@pytest.fixture
def deploy_stacks(cloud: LocalCloud) -> DeployStacks:
    """Create the buckets and labeling stacks of one project; return its deployment document."""

    def deploy(prefix: str, **labeling_parameters: str) -> dict[str, Any]:
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=CODE_BUCKET)
        s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=lambda_package())
        buckets = create_stack(f"{prefix}-buckets", "buckets.yaml", {"ProjectPrefix": prefix})
        parameters = {
            "ProjectPrefix": prefix,
            "InstructionBucketName": buckets["InstructionBucketName"],
            "ArtifactBucketName": buckets["ArtifactBucketName"],
            "LambdaCodeBucket": CODE_BUCKET,
            "LambdaCodeKey": CODE_KEY,
            # The local event-source runner polls the queues instead of Lambda.
            "EventSourceMappingsEnabled": "false",
            **labeling_parameters,
        }
        create_stack(f"{prefix}-labeling", "labeling.yaml", parameters)
        document = deployment_document.stack_deployment_document(f"{prefix}-labeling", REGION)
        return dict(document)

    return deploy


@pytest.fixture
def deployment(deploy_stacks: DeployStacks, cloud: LocalCloud) -> Iterator[dict[str, Any]]:
    """The behaviour suite's ``deployment``, from the CloudFormation stacks (prefix "bt")."""
    document: dict[str, Any] = deploy_stacks("bt", PendingStaleSeconds="0", LedgerDeletionProtection="false")
    publish_project_config(document)
    with recording(cloud, "cloudformation", document):  # the IAM coverage report
        yield document
