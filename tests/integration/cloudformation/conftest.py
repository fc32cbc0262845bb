"""The CloudFormation stacks, created by moto's CloudFormation on a local cloud.

moto needs the gap-fillers of ``moto_cfn`` in the process that serves the local cloud, so these
tests start their own local cloud (``gtlocal.server.LocalCloud``, moto + the Ground Truth
emulator) in a thread of the test process, on a free port, for this directory only; the
environment that points boto3 at it is restored afterwards.

Fixtures:
- ``cfn_cloud`` (package): that local cloud, as a ``gtlocal.testing.LocalCloud``.
- ``cloud`` (function, overrides the shared one here): ``cfn_cloud`` after a reset.
- ``deploy_stacks`` (function): creates buckets.yaml then labeling.yaml for a prefix, returns
  the deployment document read back from the stack (cloudformation/deployment_document.py).
- ``deployment``: the behaviour suite's fixture, fed from the CloudFormation stack.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from gtlocal.client import GroundTruthControl
from gtlocal.deploy import publish_project_config
from gtlocal.server import LocalCloud as LocalCloudServer
from gtlocal.testing import LocalCloud, aws_environment, free_port

# The behaviour suite's fixtures, so that its tests can run here against the stacks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from behaviour.conftest import project  # noqa: F401  # isort: skip

from cfn_stacks import (  # isort: skip - this directory's helpers
    CODE_BUCKET,
    CODE_KEY,
    ENV_KEYS,
    REGION,
    DeployStacks,
    create_stack,
    deployment_document,
    lambda_package,
    moto_cfn,
)


@pytest.fixture(scope="package")
def cfn_cloud() -> Iterator[LocalCloud]:
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    server = LocalCloudServer("127.0.0.1", free_port())
    thread = server.start_in_thread()
    try:
        os.environ.update(aws_environment(server.url, REGION))
        os.environ.pop("AWS_PROFILE", None)
        moto_cfn.install(server.url)
        yield LocalCloud(endpoint=server.url, region=REGION, control=GroundTruthControl(server.url))
    finally:
        server.shutdown()
        thread.join(timeout=10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def cloud(cfn_cloud: LocalCloud) -> LocalCloud:
    request = urllib.request.Request(f"{cfn_cloud.endpoint}/moto-api/reset", data=b"", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local endpoint
        response.read()
    cfn_cloud.control.reset()
    return cfn_cloud


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
def deployment(deploy_stacks: DeployStacks) -> dict[str, Any]:
    """The behaviour suite's ``deployment``, from the CloudFormation stacks (prefix "bt")."""
    document: dict[str, Any] = deploy_stacks("bt", PendingStaleSeconds="0", LedgerDeletionProtection="false")
    publish_project_config(document)
    return document
