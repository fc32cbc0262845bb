"""A real `terraform apply` of examples/local against the local cloud, a second plan with no
changes, the Lambda behaviour scenarios against what Terraform created, then `destroy`.

The behaviour scenarios are the functions of tests/integration/behaviour that take only the
`project` fixture (each under every emulator variant when the suite marks it `across_variants`);
they run here on the Terraform deployment (applied once for the module, its data cleaned between
scenarios) because the suite's own `cloud` fixture resets the whole local cloud before every
test, which would delete what Terraform created.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from gtcontract.deployment import Deployment
from gtlocal.testing import LocalCloud, reset_local_cloud

from .conftest import ROOT, TERRAFORM_DIR, Terraform, copy_repository

EXAMPLE = TERRAFORM_DIR / "examples" / "local"
PREFIX = "tf"
APPLY_BUDGET_SECONDS = 90
BEHAVIOUR_MODULES = [
    "test_lifecycle",
    "test_follow_new_jobs",
    "test_chaining",
    "test_limits",
    "test_quarantine_and_crash",
    "test_reconcile",
]


@pytest.fixture(scope="module")
def applied(
    terraform: Terraform, local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The example applied once on the session local cloud (reset first, so that nothing an
    earlier test left behind meets the apply). No test of this module resets the cloud."""
    reset_local_cloud(local_cloud)
    state = tmp_path_factory.mktemp("tfstate") / "terraform.tfstate"
    variables = [
        f"-var=endpoint={local_cloud.endpoint}",
        f"-var=region={local_cloud.region}",
        f"-var=project_prefix={PREFIX}",
    ]  # no lambda_package: the module builds build/lambda-python3.11-x86_64.zip during apply
    terraform.init(EXAMPLE, extra=())
    apply = terraform.run(
        EXAMPLE, "apply", "-auto-approve", "-no-color", "-parallelism=30", f"-state={state}", *variables
    )
    print(f"\nterraform apply of examples/local: {apply.seconds:.1f} s")
    plan = terraform.run(
        EXAMPLE, "plan", "-detailed-exitcode", "-no-color", f"-state={state}", *variables, check=False
    )
    output = terraform.run(EXAMPLE, "output", "-json", f"-state={state}")
    yield {
        "apply": apply,
        "apply_seconds": apply.seconds,
        "plan": plan,
        "state": state,
        "variables": variables,
        # Through the contract's one parser: Terraform's output is a valid deployment document.
        "deployment": Deployment.from_document(
            json.loads(output.stdout)["deployment"]["value"], "terraform output of examples/local"
        ).document,
    }
    # moto's ListObjectVersions keeps answering with delete markers the provider's force_destroy
    # already removed, so emptying a bucket that has delete markers never ends; empty them here.
    s3 = boto3.resource("s3", region_name=local_cloud.region)
    for bucket in applied_buckets(state):
        s3.Bucket(bucket).object_versions.delete()
    destroy = terraform.run(
        EXAMPLE, "destroy", "-auto-approve", "-no-color", "-parallelism=30", f"-state={state}", *variables,
        timeout=240,
    )  # fmt: skip
    print(f"\nterraform destroy: {destroy.seconds:.1f} s")
    remaining = json.loads(state.read_text()).get("resources", [])
    assert remaining == [], f"destroy left {len(remaining)} resources in the state"


def applied_buckets(state: Path) -> list[str]:
    resources = json.loads(state.read_text()).get("resources", [])
    return [
        instance["attributes"]["bucket"]
        for resource in resources
        if resource["type"] == "aws_s3_bucket"
        for instance in resource["instances"]
    ]


def test_apply_completes_within_budget(applied: dict[str, Any]) -> None:
    assert applied["apply_seconds"] < APPLY_BUDGET_SECONDS, f"apply took {applied['apply_seconds']:.1f} s"


def test_second_plan_has_no_changes(applied: dict[str, Any]) -> None:
    plan = applied["plan"]
    assert plan.returncode == 0, f"second plan is not empty (exit {plan.returncode}):\n{plan.stdout[-6000:]}"


def test_apply_built_the_package_for_the_functions(applied: dict[str, Any]) -> None:
    log = applied["apply"].stdout
    assert "module.labeling.terraform_data.package[0]: Provisioning with 'local-exec'..." in log
    assert "module.labeling.terraform_data.package[0]: Creation complete" in log
    package = ROOT / "build" / "lambda-python3.11-x86_64.zip"
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
    assert {"gtstream/handlers/intake.py", "PIL/_imaging.cpython-311-x86_64-linux-gnu.so"} <= names
    functions = boto3.client("lambda").list_functions()["Functions"]
    sizes = {
        f["FunctionName"]: f["CodeSize"] for f in functions if f["FunctionName"].startswith(f"{PREFIX}-")
    }
    assert len(sizes) == 4 and set(sizes.values()) == {package.stat().st_size}, sizes


def test_a_source_change_rebuilds_the_package_and_updates_the_functions(
    applied: dict[str, Any], terraform: Terraform, tmp_path: Path
) -> None:
    """The applied state, planned with a copy of the repository whose Lambda source changed."""
    repo = copy_repository(tmp_path / "clone")
    changed = repo / "lambda_src" / "gtstream" / "__init__.py"
    changed.write_text(changed.read_text() + "\n# a change\n")
    example = repo / "terraform" / "examples" / "local"
    terraform.init(example, extra=())
    plan_file = tmp_path / "source-change.tfplan"
    terraform.run(
        example, "plan", "-no-color", f"-state={applied['state']}", f"-out={plan_file}", *applied["variables"]
    )
    shown = json.loads(terraform.run(example, "show", "-json", str(plan_file)).stdout)
    changes = {
        rc["address"]: rc["change"]
        for rc in shown["resource_changes"]
        if rc["change"]["actions"] not in (["no-op"], ["read"])
    }
    functions = [
        f'module.labeling.aws_lambda_function.this["{k}"]' for k in applied["deployment"]["handlers"]
    ]
    assert {a: c["actions"] for a, c in changes.items()} == {
        "module.labeling.terraform_data.package[0]": ["delete", "create"],
        **{address: ["update"] for address in functions},
    }
    for address in functions:
        before, after = changes[address]["before"], changes[address]["after"]
        assert after["source_code_hash"] != before["source_code_hash"]
        assert after["filename"] == before["filename"]  # same zip path, new content


def resource_names(document: dict[str, Any]) -> dict[str, str]:
    """The names a deployment document refers to (last part of each ARN/URL), keyed by place."""
    names = {
        "ledger_table": document["ledger_table"],
        "role": document["groundtruth_role_arn"].rsplit("/")[-1],
    }
    names.update({f"bucket.{k}": v for k, v in document["buckets"].items()})
    names.update({f"topic.{k}": v.rsplit(":")[-1] for k, v in document["topics"].items()})
    for kind, queue in document["queues"].items():
        names[f"queue.{kind}"] = queue["url"].rsplit("/")[-1]
        names[f"dlq.{kind}"] = queue["dlq_url"].rsplit("/")[-1]
    return names


def test_deployment_document_has_the_sdk_deployments_shape_and_names(
    applied: dict[str, Any], local_cloud: LocalCloud
) -> None:
    from gtlocal.deploy import deploy_project

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items() if k != "lambda_environment"}
        return type(value).__name__

    sdk = deploy_project("shape", region=local_cloud.region)
    document = applied["deployment"]
    assert shape(document) == shape(sdk)
    # The SDK deployment names every resource as the Terraform module does.
    sdk_names = {k: v.replace("shape", PREFIX) for k, v in resource_names(sdk).items()}
    assert sdk_names == resource_names(document)
    # Lambda environment: the terraform one sets every variable of docs/interfaces.md section 3.
    assert set(sdk["lambda_environment"]) <= set(document["lambda_environment"])
    assert document["lambda_environment"]["PROJECT_PREFIX"] == PREFIX
    assert document["buckets"]["drop"] != document["buckets"]["input"]


def test_buckets_are_private_encrypted_and_tls_only(applied: dict[str, Any]) -> None:
    s3 = boto3.client("s3")
    document = applied["deployment"]
    for role in ("drop", "input", "output", "artifacts"):
        bucket = document["buckets"][role]
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()), (role, block)
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", role
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert any(
            st["Effect"] == "Deny" and st["Condition"]["Bool"]["aws:SecureTransport"] == "false"
            for st in policy["Statement"]
        ), role
    cors = s3.get_bucket_cors(Bucket=document["buckets"]["input"])["CORSRules"][0]
    assert cors["AllowedMethods"] == ["GET"] and cors["AllowedOrigins"] == ["*"]


def clean_project(deployment: dict[str, Any], cloud: LocalCloud) -> None:
    """Empty the project's data (objects, ledger, messages, Ground Truth queues); keep its resources."""
    region = deployment["region"]
    s3 = boto3.resource("s3", region_name=region)
    for role in ("drop", "input", "output"):
        s3.Bucket(deployment["buckets"][role]).object_versions.delete()
    table = boto3.resource("dynamodb", region_name=region).Table(deployment["ledger_table"])
    with table.batch_writer() as batch:
        for page in table.meta.client.get_paginator("scan").paginate(TableName=table.name):
            for item in page["Items"]:
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
    sqs = boto3.client("sqs", region_name=region)
    for queue in deployment["queues"].values():
        for url in (queue["url"], queue["dlq_url"]):  # drain: PurgeQueue is limited to once a minute
            while True:
                batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
                if not batch.get("Messages"):
                    break
                for message in batch["Messages"]:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    for prefix in ("GroundTruth-", f"{PREFIX}-test-"):
        for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
            sqs.delete_queue(QueueUrl=url)
    sns = boto3.client("sns", region_name=region)
    for topic in deployment["topics"].values():
        for sub in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
            if sub["SubscriptionArn"].startswith("arn:"):
                sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    cloud.control.reset()


def behaviour_scenarios() -> list[Any]:
    """(scenario, emulator variant): each scenario under the documented emulator, and under every
    variant when the behaviour suite marks it ``across_variants`` (behaviour/conftest.py)."""
    from behaviour.conftest import DOCUMENTED, VARIANTS

    scenarios = []
    for name in BEHAVIOUR_MODULES:
        module = importlib.import_module(f"behaviour.{name}")
        for attr, func in sorted(vars(module).items()):
            if (
                attr.startswith("test_")
                and callable(func)
                and list(inspect.signature(func).parameters) == ["project"]
            ):
                across = any(
                    m.name == "parametrize" and m.args[0] == "variant"
                    for m in getattr(func, "pytestmark", [])
                )
                for variant in VARIANTS if across else (DOCUMENTED,):
                    suffix = f"[{variant.name}]" if across else ""
                    scenarios.append(pytest.param(func, variant, id=f"{name}::{attr}{suffix}"))
    return scenarios


@pytest.mark.parametrize(("scenario", "variant"), behaviour_scenarios())
def test_behaviour_on_terraform_deployment(
    scenario: Callable[[Any], None], variant: Any, applied: dict[str, Any], local_cloud: LocalCloud
) -> None:
    from behaviour.conftest import given_project

    from gtlocal.deploy import publish_project_config

    deployment = copy.deepcopy(applied["deployment"])
    deployment["lambda_environment"]["PENDING_STALE_SECONDS"] = "0"  # as the SDK fixture does
    clean_project(deployment, local_cloud)
    publish_project_config(deployment)
    scenario(given_project(deployment, local_cloud, variant))
