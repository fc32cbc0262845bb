"""The instructions pipeline on the local cloud: the documented CloudFormation stacks, plain git.

Why the CloudFormation stacks and not the Terraform example: ``repository.yaml``, ``buckets.yaml``,
``pipeline.yaml`` and ``labeling.yaml`` create the same repository, push rule, pipeline, CodeBuild
project, roles and Lambdas as ``terraform/examples/local`` in seconds, so each test gets a fresh
project (the ``cloud`` fixture resets the local cloud) instead of sharing one ``terraform apply``
(70+ s, module-scoped in ``tests/integration/terraform``). The publisher and the contract are
uploaded to the artifact bucket as cloudformation/README.md step 3 says.

Git and the pipeline's API as a user sees them: ``gitpush.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
import pytest

from gtlocal.testing import LocalCloud

INTEGRATION = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(INTEGRATION))
sys.path.insert(0, str(INTEGRATION / "cloudformation"))
from behaviour.conftest import DOCUMENTED, given_project  # noqa: E402  # isort: skip
from cfn_stacks import CODE_BUCKET, CODE_KEY, REGION, create_stack, deployment_document, lambda_package  # noqa: E402  # isort: skip

from .gitpush import ROOT, Git, PipelineProject  # noqa: E402

PREFIX = "pl"
WORKTEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers"


def upload_publisher(artifacts_bucket: str) -> None:
    """cloudformation/README.md step 3: the publisher and the contract it validates with."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.upload_file(
        str(ROOT / "scripts" / "publish_instructions.py"), artifacts_bucket, "tools/publish_instructions.py"
    )
    for path in sorted((ROOT / "lambda_src" / "gtcontract").iterdir()):
        if path.suffix in (".py", ".json"):
            s3.upload_file(str(path), artifacts_bucket, f"tools/gtcontract/{path.name}")


@pytest.fixture
def pipeline_project(cloud: LocalCloud, tmp_path: Path) -> PipelineProject:
    """Repository, buckets, pipeline and labeling stacks of project ``pl`` on a fresh local cloud."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=CODE_BUCKET)
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=lambda_package())
    repository = create_stack(f"{PREFIX}-repository", "repository.yaml", {"ProjectPrefix": PREFIX})
    buckets = create_stack(f"{PREFIX}-buckets", "buckets.yaml", {"ProjectPrefix": PREFIX})
    upload_publisher(buckets["ArtifactBucketName"])
    pipeline = create_stack(
        f"{PREFIX}-pipeline",
        "pipeline.yaml",
        {
            "ProjectPrefix": PREFIX,
            "ArtifactBucketName": buckets["ArtifactBucketName"],
            "InstructionBucketName": buckets["InstructionBucketName"],
            "RepositoryName": repository["RepositoryName"],
            "DefaultWorkteamArn": WORKTEAM,
        },
    )
    create_stack(
        f"{PREFIX}-labeling",
        "labeling.yaml",
        {
            "ProjectPrefix": PREFIX,
            "InstructionBucketName": buckets["InstructionBucketName"],
            "ArtifactBucketName": buckets["ArtifactBucketName"],
            "LambdaCodeBucket": CODE_BUCKET,
            "LambdaCodeKey": CODE_KEY,
            "EventSourceMappingsEnabled": "false",  # the local event-source runner polls the queues
            "PendingStaleSeconds": "0",
        },
    )
    document = dict(deployment_document.stack_deployment_document(f"{PREFIX}-labeling", REGION))
    project = given_project(document, cloud, DOCUMENTED)  # the emulator's documented behaviour
    return PipelineProject(cloud, repository, Git(tmp_path / "home"), buckets, pipeline, project)


@pytest.fixture
def repository(cloud: LocalCloud, tmp_path: Path) -> PipelineProject:
    """Only the repository stack (for what needs no pipeline)."""
    made = create_stack(f"{PREFIX}-repository", "repository.yaml", {"ProjectPrefix": PREFIX})
    return PipelineProject(cloud, made, Git(tmp_path / "home"))
