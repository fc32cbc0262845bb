"""Helpers of the CloudFormation integration tests (shared by conftest.py and the tests)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
CFN = ROOT / "cloudformation"
REGION = "us-east-1"
CODE_BUCKET = "lambda-code"
CODE_KEY = "lambda/gtstream.zip"
TEMPLATE_BUCKET = "cfn-templates"
TEMPLATE_BODY_MAX_BYTES = 51_200

DeployStacks = Callable[..., dict[str, Any]]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


deployment_document = _load("cfn_tests_deployment_document", CFN / "deployment_document.py")
package_lambda = _load("cfn_tests_package_lambda", ROOT / "scripts" / "package_lambda.py")


def lambda_package() -> bytes:
    """The Lambda package to upload: build/lambda-python3.11-x86_64.zip (the stack's default
    runtime and architecture) when it was built, else our sources only (``--no-deps``).

    moto stores the package without running it (the local event-source runner calls the same
    handlers in-process), so the sources are enough for a local stack."""
    built = package_lambda.default_output()
    if not built.is_file():
        built = ROOT / "build" / "lambda-sources-only.zip"
        package_lambda.build(built, with_dependencies=False)
    return built.read_bytes()


def template_source(template: str) -> dict[str, str]:
    """How the README deploys ``template``: inline up to CloudFormation's 51,200-byte TemplateBody
    limit, else through S3 (TemplateURL, up to 1 MB), as ``aws cloudformation deploy --s3-bucket``
    does - the local cloud refuses an over-size TemplateBody as AWS does (gtlocal.shims)."""
    body = (CFN / template).read_bytes()
    if len(body) <= TEMPLATE_BODY_MAX_BYTES:
        return {"TemplateBody": body.decode("utf-8")}
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=TEMPLATE_BUCKET)
    s3.put_object(Bucket=TEMPLATE_BUCKET, Key=f"cloudformation/{template}", Body=body)
    return {"TemplateURL": f"https://{TEMPLATE_BUCKET}.s3.{REGION}.amazonaws.com/cloudformation/{template}"}


def create_stack(name: str, template: str, parameters: dict[str, str]) -> dict[str, str]:
    """Create a stack, fail with its events unless CREATE_COMPLETE; return its outputs."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName=name,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
        **template_source(template),
    )
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
