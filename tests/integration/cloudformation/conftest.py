"""The CloudFormation stacks, created by moto's CloudFormation on the session local cloud.

The local cloud serves the CloudFormation models moto lacks (``gtlocal.cfn_models``, installed by
``gtlocal.shims`` in every local cloud), so these tests use the shared ``cloud`` fixture (reset
before each test).

Fixtures:
- ``deploy_stacks`` (function): creates buckets.yaml then labeling.yaml for a prefix, returns
  the deployment document read back from the stack (cloudformation/deployment_document.py).
- ``deployment``: the behaviour suite's fixture, fed from the CloudFormation stack; the stacks
  are created once per test module and the project cleaned before each test
  (``gtlocal.testing.KeptDeployment``).
- ``stages``: the two-stage scenario's fixture (behaviour/test_review_stages.py): that project and
  a review stage ``<P>-verify`` stack pair wired to it by the stage parameters (created once per
  test module, when first asked for), both cleaned, their project configs published.
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
from gtlocal.testing import KeptDeployment, LocalCloud, clean_project

# The behaviour suite's fixtures, so that its tests can run here against the stacks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from behaviour.conftest import project, variant  # noqa: F401  # isort: skip
from behaviour.test_review_stages import publish_stage_configs  # isort: skip

from cfn_stacks import (  # isort: skip - this directory's helpers
    CODE_BUCKET,
    CODE_KEY,
    REGION,
    DeployStacks,
    create_stack,
    deployment_document,
    lambda_package,
)


def deploy(prefix: str, **labeling_parameters: str) -> dict[str, Any]:
    """Create the buckets and labeling stacks of one project; return its deployment document."""
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


@pytest.fixture
def deploy_stacks(cloud: LocalCloud) -> DeployStacks:
    """Create the buckets and labeling stacks of one project; return its deployment document."""
    return deploy


@pytest.fixture(scope="module")
def deployed(local_cloud: LocalCloud) -> KeptDeployment:
    """The behaviour suite's project as CloudFormation stacks (prefix "bt"), created once per
    test module on a reset local cloud and cleaned before each test."""
    return KeptDeployment(
        local_cloud, lambda _cloud: deploy("bt", PendingStaleSeconds="0", LedgerDeletionProtection="false")
    )


@pytest.fixture
def deployment(deployed: KeptDeployment) -> Iterator[dict[str, Any]]:
    """The behaviour suite's ``deployment``, from the CloudFormation stacks: it behaves as freshly
    created (``gtlocal.testing.clean_project``)."""
    document = deployed.clean()
    cloud = deployed.cloud
    publish_project_config(document)
    with recording(cloud, "cloudformation", document):  # the IAM coverage report
        yield document


def _deployed(document: dict[str, Any]) -> bool:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    try:
        dynamodb.describe_table(TableName=document["ledger_table"])
    except dynamodb.exceptions.ResourceNotFoundException:
        return False  # the local cloud was reset meanwhile
    return True


@pytest.fixture(scope="module")
def review_stacks() -> dict[str, dict[str, Any]]:
    """The review stage's deployment document of this module, once its stacks exist."""
    return {}


@pytest.fixture
def stages(
    deployed: KeptDeployment, review_stacks: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The behaviour suite's stacks as stage 1 and a ``<P>-verify`` stack pair as its review stage
    (fed by its output topic, rejected objects back to its intake queue), as a user wires them with
    the labeling.yaml stage parameters; both behave as freshly created."""
    first = deployed.clean()  # may reset the local cloud and create the stacks again
    review = review_stacks.get("document")
    if (
        review is None
        or not _deployed(review)
        or review["stage"]["upstream_output_topic_arn"] != (first["topics"]["output"])
    ):
        review = deploy(
            f"{first['project_prefix']}-verify",
            PendingStaleSeconds="0",
            LedgerDeletionProtection="false",
            UpstreamOutputTopicArn=first["topics"]["output"],
            UpstreamInputBucketArn=f"arn:aws:s3:::{first['buckets']['input']}",
            RejectedQueueUrl=first["queues"]["intake"]["url"],
            RejectedQueueArn=first["queues"]["intake"]["arn"],
        )
        review_stacks["document"] = review
    else:
        clean_project(deployed.cloud, review)
    publish_stage_configs(first, review)
    return first, dict(review)
