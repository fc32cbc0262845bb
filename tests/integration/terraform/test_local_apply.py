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
import re
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.iam_recording import recording
from tests.stage_wiring import (
    DECIDING_FUNCTIONS,
    assert_first_stage_has_no_stage_wiring,
    prove_review_stage_wiring,
)

from gtcontract.deployment import Deployment
from gtlocal.deploy import TOPIC_POLICY_ACTIONS
from gtlocal.testing import LocalCloud, clean_project, reset_local_cloud

from .conftest import ROOT, TERRAFORM_DIR, Terraform, copy_repository

EXAMPLE = TERRAFORM_DIR / "examples" / "local"
PREFIX = "tf"
# The module's first test pays `terraform apply` (each terraform command has its own 600 s limit,
# the Terraform class): the suite's 300 s hang limit per test is too short on a loaded machine.
pytestmark = pytest.mark.timeout(1500)
BEHAVIOUR_DIR = ROOT / "tests" / "integration" / "behaviour"
# The fixtures a scenario may take besides its parametrized arguments.
# ``stages``: the two-stage scenario's (behaviour/test_review_stages.py), given here.
SCENARIO_FIXTURES = ("project", "monkeypatch", "capsys", "tmp_path", "local_cloud", "stages")


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
        "-var=review_stage=true",  # module verify: the review stage <PREFIX>-verify, fed by this one
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
    outputs = json.loads(output.stdout)
    yield {
        "apply": apply,
        "plan": plan,
        "state": state,
        "variables": variables,
        # Through the contract's one parser: Terraform's output is a valid deployment document.
        "deployment": Deployment.from_document(
            outputs["deployment"]["value"], "terraform output of examples/local"
        ).document,
        "review": Deployment.from_document(
            outputs["review_deployment"]["value"], "terraform output review_deployment of examples/local"
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


def test_second_plan_has_no_changes(applied: dict[str, Any]) -> None:
    plan = applied["plan"]
    assert plan.returncode == 0, f"second plan is not empty (exit {plan.returncode}):\n{plan.stdout[-6000:]}"


def test_apply_built_the_package_for_the_functions(applied: dict[str, Any]) -> None:
    log = applied["apply"].stdout
    for module in ("module.labeling", "module.verify[0]"):  # both stages build the same zip
        assert f"{module}.terraform_data.package[0]: Provisioning with 'local-exec'..." in log
        assert f"{module}.terraform_data.package[0]: Creation complete" in log
    # ...one after the other (scripts/package_lambda.py locks the zip): the second finds it up to date
    assert log.count("[3/3] wrote") <= 1 and log.count("up to date (inputs unchanged)") >= 1
    package = ROOT / "build" / "lambda-python3.11-x86_64.zip"
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
    assert {"gtstream/handlers/intake.py", "PIL/_imaging.cpython-311-x86_64-linux-gnu.so"} <= names
    functions = boto3.client("lambda").list_functions()["Functions"]
    sizes = {
        f["FunctionName"]: f["CodeSize"] for f in functions if f["FunctionName"].startswith(f"{PREFIX}-")
    }
    assert len(sizes) == 10 and set(sizes.values()) == {package.stat().st_size}, sizes  # two stages


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
    modules = ("module.labeling", "module.verify[0]")
    functions = [
        f'{m}.aws_lambda_function.this["{k}"]' for m in modules for k in applied["deployment"]["handlers"]
    ]
    assert {a: c["actions"] for a, c in changes.items()} == {
        **{f"{m}.terraform_data.package[0]": ["delete", "create"] for m in modules},
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
    names.update({f"lambda_role.{k}": v.rsplit("/")[-1] for k, v in document["lambda_roles"].items()})
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
    # stage (review stages): the SDK deployment writes it when it has a stage (gtlocal.deploy)
    assert {k: v for k, v in shape(document).items() if k != "stage"} == {
        k: v for k, v in shape(sdk).items() if k != "stage"
    }
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


def test_every_log_group_on_the_project_key_is_admitted_by_its_key_policy(applied: dict[str, Any]) -> None:
    # Regression (issue 9): the instructions pipeline's CodeBuild log group is encrypted with the
    # labeling key, whose policy admitted CloudWatch Logs only for /aws/lambda/<name>-*; on AWS
    # CreateLogGroup fails and `terraform apply` of examples/complete with it.
    document = applied["deployment"]
    key = document["lambda_environment"]["OUTPUT_KMS_KEY_ID"]
    region, account = document["region"], document["account_id"]
    policy = json.loads(boto3.client("kms").get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    admitted: set[str] = set()
    for statement in policy["Statement"]:
        if statement.get("Principal", {}).get("Service") == f"logs.{region}.amazonaws.com":
            for keys in statement.get("Condition", {}).values():
                admitted.update(keys.get("kms:EncryptionContext:aws:logs:arn", []))
    groups = [
        group["logGroupName"]
        for page in boto3.client("logs").get_paginator("describe_log_groups").paginate()
        for group in page["logGroups"]
        if group.get("kmsKeyId") == key
    ]
    assert (
        f"/aws/codebuild/{PREFIX}-publish-instructions" in groups and f"/aws/lambda/{PREFIX}-intake" in groups
    )
    for name in groups:
        assert f"arn:aws:logs:{region}:{account}:log-group:{name}" in admitted, name


def test_every_queue_and_topic_is_tls_only_for_every_action_and_topics_use_the_key(
    applied: dict[str, Any],
) -> None:
    # Regression (issue 9): the DLQs had no policy, and the TLS denies covered some actions only.
    document = applied["deployment"]
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    for queue in document["queues"].values():
        for url in (queue["url"], queue["dlq_url"]):
            policy = json.loads(
                sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
            )
            denies = [st for st in policy["Statement"] if st["Effect"] == "Deny"]
            assert [(d["Action"], d["Condition"]) for d in denies] == [
                ("sqs:*", {"Bool": {"aws:SecureTransport": "false"}})
            ], url
    key = document["lambda_environment"]["OUTPUT_KMS_KEY_ID"]
    for kind, arn in document["topics"].items():
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        assert attributes["KmsMasterKeyId"] == key, kind  # with the module's key, every topic uses it
        (deny,) = [st for st in json.loads(attributes["Policy"])["Statement"] if st["Effect"] == "Deny"]
        assert set(deny["Action"]) == set(TOPIC_POLICY_ACTIONS), kind  # as the SDK deployment's


# --- review stages --------------------------------------------------------------------------


def test_the_review_stage_is_fed_by_the_first_one_under_the_strict_local_cloud(
    applied: dict[str, Any], local_cloud: LocalCloud
) -> None:
    """examples/local with review_stage = true: module verify wired to module labeling (both with
    customer managed keys, so the key policies and grants take part)."""
    first, review = applied["deployment"], applied["review"]
    assert review["project_prefix"] == f"{PREFIX}-verify"
    assert_first_stage_has_no_stage_wiring(first)
    prove_review_stage_wiring(local_cloud, first, review)
    # The review stage's grants on the first stage's key, as the module gives them.
    key = first["lambda_environment"]["OUTPUT_KMS_KEY_ID"]
    assert statement_of(review["groundtruth_role_arn"], "UpstreamKey")["Resource"] == key
    for function in DECIDING_FUNCTIONS:
        assert statement_of(review["lambda_roles"][function], "RejectedQueueKey")["Resource"] == key


@pytest.fixture
def stages(applied: dict[str, Any], local_cloud: LocalCloud) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two-stage scenario's stages (behaviour/test_review_stages.py) on the example's two:
    module labeling and module verify, cleaned, their project configs published."""
    from behaviour.test_review_stages import publish_stage_configs

    pair = []
    for key in ("deployment", "review"):
        document = copy.deepcopy(applied[key])
        document["lambda_environment"]["PENDING_STALE_SECONDS"] = "0"  # as the SDK fixture does
        for left in clean_project(local_cloud, document, strict=False):
            print(f"\nnot emptied: {left}")
        pair.append(document)
    label, verify = pair
    publish_stage_configs(label, verify)
    return label, verify


def statement_of(role_arn: str, sid: str) -> dict[str, Any]:
    iam = boto3.client("iam")
    name = role_arn.rsplit("/", 1)[-1]
    (policy,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
    (found,) = [s for s in document["Statement"] if s.get("Sid") == sid]
    return dict(found)


# --- the same IAM in the three deployments ----------------------------------------------------

CFN_PREFIX, SDK_PREFIX = "cfncmp", "sdkcmp"
KMS_ONLY_SIDS = {"ProjectKey"}  # examples/local has a customer managed key; the stacks and the SDK none
STAGE_KMS_SIDS = {"UpstreamKey", "RejectedQueueKey"}  # the review stage's grants on the first one's key


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """A policy document as a comparable value: statements by Sid (or position), lists sorted."""
    result: dict[str, Any] = {}
    for index, statement in enumerate(as_list(document["Statement"])):
        assert isinstance(statement, dict), f"not a statement: {statement!r}"
        key = statement.get("Sid") or f"#{index}"
        result[key] = {
            "Effect": statement["Effect"],
            "Principal": statement.get("Principal"),
            "Action": sorted(as_list(statement.get("Action", []))),
            "Resource": sorted(as_list(statement.get("Resource", []))),
            "Condition": {
                operator: {k: sorted(as_list(v)) for k, v in keys.items()}
                for operator, keys in statement.get("Condition", {}).items()
            },
        }
    return result


def iam_of(document: dict[str, Any], prefix: str, upstream: str | None = None) -> dict[str, Any]:
    """Every role (trust + inline policies) and the operator policy of a deployment, as deployed
    (read back through IAM), with its names, account and region replaced by placeholders (<P>,
    and <U> for the prefix of the stage before it)."""
    iam = boto3.client("iam")
    roles = {"groundtruth": document["groundtruth_role_arn"], **document["lambda_roles"]}
    found: dict[str, Any] = {}
    for key, arn in roles.items():
        name = arn.rsplit("/", 1)[-1]
        found[key] = {
            "trust": iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"],
            **{
                policy: iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
            },
        }
    operator = f"arn:aws:iam::{document['account_id']}:policy/{prefix}-operator"
    version = iam.get_policy(PolicyArn=operator)["Policy"]["DefaultVersionId"]
    found["operator"] = {
        "policy": iam.get_policy_version(PolicyArn=operator, VersionId=version)["PolicyVersion"]["Document"]
    }
    text = json.dumps(found)
    text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(prefix)}(?=-)", "<P>", text)
    if upstream is not None:
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(upstream)}(?=-)", "<U>", text)
    text = text.replace(document["account_id"], "<account>").replace(document["region"], "<region>")
    return {
        role: {name: canonical(doc) for name, doc in documents.items()}
        for role, documents in json.loads(text).items()
    }


def with_shared_instructions(iam: dict[str, Any]) -> dict[str, Any]:
    """A review stage's IAM from the SDK deployment, which gives each stage its own instructions
    bucket (``config/project.json``), as if its config were where examples/local and the stacks put
    it: in the first stage's bucket, ``config/<P>-verify/project.json``. Where the config lives is the
    deployment's choice; the statements that read it are the same."""
    own = "arn:aws:s3:::<P>-<account>-instructions"
    shared = "arn:aws:s3:::<U>-<account>-instructions"
    text = json.dumps(iam).replace(f"{own}/config/project.json", f"{shared}/config/<U>-verify/project.json")
    moved = json.loads(text.replace(own, shared))
    for documents in moved.values():
        for document in documents.values():
            for statement in document.values():
                statement["Resource"] = sorted(statement["Resource"])
    return dict(moved)


def without(iam: dict[str, Any], sids: set[str]) -> dict[str, Any]:
    return {
        role: {name: {k: v for k, v in doc.items() if k not in sids} for name, doc in docs.items()}
        for role, docs in iam.items()
    }


def test_terraform_cloudformation_and_the_sdk_deploy_the_same_iam(
    applied: dict[str, Any], local_cloud: LocalCloud
) -> None:
    """Every role's trust and policies, and the operator policy, statement for statement."""
    sys.path.insert(0, str(ROOT / "tests" / "integration" / "cloudformation"))
    import cfn_stacks

    from gtlocal.deploy import Stage, deploy_project

    # Given the three deployments side by side in one local cloud, each with a review stage
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=cfn_stacks.CODE_BUCKET)
    s3.put_object(Bucket=cfn_stacks.CODE_BUCKET, Key=cfn_stacks.CODE_KEY, Body=cfn_stacks.lambda_package())
    buckets = cfn_stacks.create_stack(f"{CFN_PREFIX}-buckets", "buckets.yaml", {"ProjectPrefix": CFN_PREFIX})
    parameters = {
        "ProjectPrefix": CFN_PREFIX,
        "InstructionBucketName": buckets["InstructionBucketName"],
        "ArtifactBucketName": buckets["ArtifactBucketName"],
        "LambdaCodeBucket": cfn_stacks.CODE_BUCKET,
        "LambdaCodeKey": cfn_stacks.CODE_KEY,
        "EventSourceMappingsEnabled": "false",
    }
    first = cfn_stacks.create_stack(f"{CFN_PREFIX}-labeling", "labeling.yaml", parameters)
    # ...and a review stage wired to the stack as examples/local wires module verify to module labeling
    cfn_stacks.create_stack(
        f"{CFN_PREFIX}-verify-labeling",
        "labeling.yaml",
        {
            **parameters,
            "ProjectPrefix": f"{CFN_PREFIX}-verify",
            "ProjectConfigKey": f"config/{CFN_PREFIX}-verify/project.json",
            "UpstreamOutputTopicArn": first["OutputTopicArn"],
            "UpstreamInputBucketArn": f"arn:aws:s3:::{first['InputBucketName']}",
            "RejectedQueueUrl": first["IntakeQueueUrl"],
            "RejectedQueueArn": first["IntakeQueueArn"],
        },
    )
    review_stack = cfn_stacks.deployment_document.stack_deployment_document(
        f"{CFN_PREFIX}-verify-labeling", local_cloud.region
    )
    stack = cfn_stacks.deployment_document.stack_deployment_document(
        f"{CFN_PREFIX}-labeling", local_cloud.region
    )
    sdk = deploy_project(SDK_PREFIX, region=local_cloud.region)
    sdk_review = deploy_project(f"{SDK_PREFIX}-verify", region=local_cloud.region, stage=Stage.after(sdk))

    # When each one's IAM is read back and its names are replaced by placeholders
    terraform = iam_of(applied["deployment"], PREFIX)
    cloudformation = iam_of(stack, CFN_PREFIX)
    boto_sdk = iam_of(sdk, SDK_PREFIX)

    # Then they are the same, but for the statements of Terraform's customer managed key
    assert set(terraform) == {
        "groundtruth",
        "intake",
        "job_events",
        "worker_events",
        "labels",
        "reconcile",
        "operator",
    }
    assert without(terraform, KMS_ONLY_SIDS) == cloudformation
    assert boto_sdk == cloudformation
    document = applied["deployment"]
    key = document["lambda_environment"]["OUTPUT_KMS_KEY_ID"]
    key = key.replace(document["account_id"], "<account>").replace(document["region"], "<region>")
    for role, documents in terraform.items():
        (policy,) = [doc for name, doc in documents.items() if name != "trust"]
        assert policy["ProjectKey"]["Resource"] == [key], role
    # The review stages grant the same, statement for statement: Terraform's (but for the statements
    # of the customer managed keys), the stack pair's and the SDK deployment's (Stage.after)
    review = iam_of(applied["review"], f"{PREFIX}-verify", upstream=PREFIX)
    policies = {role: next(d for n, d in docs.items() if n != "trust") for role, docs in review.items()}
    assert {"UpstreamImages", "UpstreamKey"} <= set(policies["groundtruth"])
    for function in DECIDING_FUNCTIONS:
        assert {"RejectedQueue", "RejectedQueueKey"} <= set(policies[function]), function
    assert {"LedgerReadObject", "ProjectConfig", "InstructionsList"} <= set(policies["labels"])
    assert not {"RejectedQueue", "RejectedQueueKey"} & set(policies["worker_events"])
    review_cloudformation = iam_of(review_stack, f"{CFN_PREFIX}-verify", upstream=CFN_PREFIX)
    assert without(review, KMS_ONLY_SIDS | STAGE_KMS_SIDS) == review_cloudformation
    sdk_review_iam = iam_of(sdk_review, f"{SDK_PREFIX}-verify", upstream=SDK_PREFIX)
    assert with_shared_instructions(sdk_review_iam) == review_cloudformation
    # ...and gtctl finds the SDK deployment by its prefix, as it finds the others (its Lambdas).
    from click.testing import CliRunner

    from gtctl.__main__ import cli

    result = CliRunner().invoke(cli, ["--prefix", SDK_PREFIX, "status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ledger_table"] == f"{SDK_PREFIX}-ledger"


def behaviour_modules() -> list[str]:
    from behaviour.conftest import SDK_ONLY_MODULES

    return sorted(p.stem for p in BEHAVIOUR_DIR.glob("test_*.py") if p.stem not in SDK_ONLY_MODULES)


def behaviour_scenarios() -> list[Any]:
    """(scenario, variant, arguments): every scenario of every behaviour module but those of
    SDK_ONLY_MODULES, once per value of its ``parametrize`` marks under the documented emulator,
    and under every other variant when the behaviour suite marks it ``across_variants``
    (behaviour/conftest.py)."""
    from behaviour.conftest import DOCUMENTED, VARIANTS

    scenarios = []
    for name in behaviour_modules():
        module = importlib.import_module(f"behaviour.{name}")
        for attr, func in sorted(vars(module).items()):
            if not (attr.startswith("test_") and callable(func) and func.__module__ == module.__name__):
                continue
            marks = [m for m in getattr(func, "pytestmark", []) if m.name == "parametrize"]
            across = any(m.args[0] == "variant" for m in marks)
            cases: list[tuple[str, dict[str, Any]]] = [("", {})]
            for mark in (m for m in marks if m.args[0] != "variant"):
                argname, values = mark.args[0], mark.args[1]
                cases = [
                    (f"{ids}-{value}" if ids else str(value), {**arguments, argname: value})
                    for ids, arguments in cases
                    for value in values
                ]
            unknown = set(inspect.signature(func).parameters) - set(SCENARIO_FIXTURES) - set(cases[0][1])
            assert not unknown, f"{name}::{attr} takes {unknown}: give it here or list it in SDK_ONLY_MODULES"
            # A covering set: every argument under the documented emulator, every variant with the
            # first argument (the SDK deployment runs the full product; the variants are the
            # emulator's, not the deployment's).
            runs = [(case, DOCUMENTED) for case in cases]
            runs += [(cases[0], v) for v in VARIANTS if across and v is not DOCUMENTED]
            for (ids, arguments), variant in runs:
                labels = [x for x in (ids, variant.name if across else "") if x]
                suffix = f"[{'-'.join(labels)}]" if labels else ""
                scenarios.append(pytest.param(func, variant, arguments, id=f"{name}::{attr}{suffix}"))
    return scenarios


def test_behaviour_modules_not_run_here_say_why() -> None:
    from behaviour.conftest import SDK_ONLY_MODULES

    modules = {p.stem for p in BEHAVIOUR_DIR.glob("test_*.py")}
    assert set(SDK_ONLY_MODULES) <= modules, "a module listed as not run here no longer exists"
    for name, why in sorted(SDK_ONLY_MODULES.items()):
        print(f"\nbehaviour/{name}.py does not run on the Terraform deployment: {why}")


@pytest.mark.parametrize(("scenario", "variant", "arguments"), behaviour_scenarios())
def test_behaviour_on_terraform_deployment(
    scenario: Callable[..., None],
    variant: Any,
    arguments: dict[str, Any],
    applied: dict[str, Any],
    local_cloud: LocalCloud,
    request: pytest.FixtureRequest,
) -> None:
    from behaviour.conftest import given_project

    from gtlocal.deploy import publish_project_config

    deployment = copy.deepcopy(applied["deployment"])
    deployment["lambda_environment"]["PENDING_STALE_SECONDS"] = "0"  # as the SDK fixture does
    # Terraform cannot apply again per test: messages an earlier scenario left in flight or
    # delayed stay (receive/delete cannot reach them), as before the shared helper; say which.
    for left in clean_project(local_cloud, deployment, strict=False):
        print(f"\nnot emptied: {left}")
    publish_project_config(deployment)
    wanted = inspect.signature(scenario).parameters
    with recording(local_cloud, "terraform", deployment):  # the IAM coverage report
        kwargs = {"project": given_project(deployment, local_cloud, variant), **arguments}
        for name in set(wanted) - set(kwargs):
            kwargs[name] = request.getfixturevalue(name)
        scenario(**{name: value for name, value in kwargs.items() if name in wanted})


@pytest.mark.timeout(1200)  # a CodeBuild run (the first one of a fresh clone makes the build image)
def test_a_push_to_the_terraform_repository_runs_the_modules_pipeline(
    applied: dict[str, Any], local_cloud: LocalCloud, terraform: Terraform, tmp_path: Path
) -> None:
    """The instructions-pipeline module as applied: its repository, push rule, pipeline (artifact
    store on the project's KMS key) and CodeBuild project, each acting as its own role, publish a
    push with the environment variables the module gives the build."""
    from pipeline.gitpush import Git, PipelineProject

    deployment = applied["deployment"]
    # The behaviour scenarios before this one published configs (roll-over appends a category) and
    # made labels on this deployment: start from an empty project, so that this push is its first
    # config (the publisher rightly refuses a push that drops a category labels refer to).
    clean_project(local_cloud, deployment, strict=False)
    boto3.resource("s3").Bucket(deployment["buckets"]["instructions"]).object_versions.delete()
    clone_url = terraform.run(
        EXAMPLE, "output", "-raw", f"-state={applied['state']}", "repository_clone_url_http"
    ).stdout.strip()
    p = PipelineProject(
        local_cloud,
        {"CloneUrlHttp": clone_url},
        Git(tmp_path / "home"),
        buckets={"InstructionBucketName": deployment["buckets"]["instructions"]},
        pipeline={"PipelineName": f"{PREFIX}-instructions"},
    )
    work, sha = p.push_as_the_readme_says()
    p.wait()
    (execution,) = p.executions()
    if execution["status"] != "Succeeded":
        build = p.build_of(execution["pipelineExecutionId"])
        pytest.fail(f"{execution}\nbuild log:\n" + "\n".join(p.build_log(build)[-60:]))
    assert execution["sourceRevisions"][0]["revisionId"] == sha
    build = p.build_of(execution["pipelineExecutionId"])
    assert build["buildStatus"] == "SUCCEEDED" and build["projectName"] == f"{PREFIX}-publish-instructions"
    assert build["logs"]["groupName"] == f"/aws/codebuild/{PREFIX}-publish-instructions"
    log = "\n".join(p.build_log(build))
    bucket = deployment["buckets"]["instructions"]
    # INSTRUCTIONS_BUCKET, INSTRUCTIONS_PUBLIC, CODEBUILD_RESOLVED_SOURCE_VERSION as the module sets them
    assert f"-{sha[:12]} (public) to s3://{bucket}" in log, log
    published = p.published_config()
    assert published["version"].endswith(sha[:12]) and published["categories"] == ["cat", "dog", "bird"]
    # GT_DEFAULT_WORKTEAM_ARN: the module's labeling_defaults.workteam_arn (the starter leaves it out;
    # examples/local/variables.tf's default)
    assert "workteam_arn" not in json.loads((work / "project.json").read_text())
    assert published["workteam_arn"].endswith(":123456789012:workteam/private-crowd/local-team")


PIPELINE_ROLES = ("instructions-build", "instructions-pipeline", "instructions-trigger")


def pipeline_iam_of(prefix: str, account: str, region: str) -> dict[str, Any]:
    """The instructions pipeline's three roles (trust + inline and attached policies), as deployed."""
    iam = boto3.client("iam")
    found: dict[str, Any] = {}
    for role in PIPELINE_ROLES:
        name = f"{prefix}-{role}"
        documents = {"trust": iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]}
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            documents["inline"] = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            documents["attached"] = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
                "Document"
            ]
        found[role] = documents
    text = json.dumps(found)
    text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(prefix)}(?=-)", "<P>", text)
    text = text.replace(account, "<account>").replace(region, "<region>")
    return {
        role: {name: canonical(doc) for name, doc in documents.items()}
        for role, documents in json.loads(text).items()
    }


def test_terraform_and_cloudformation_give_the_instructions_pipeline_the_same_roles(
    applied: dict[str, Any], local_cloud: LocalCloud
) -> None:
    """The build, pipeline and push-trigger roles statement for statement (but the KMS key's)."""
    sys.path.insert(0, str(ROOT / "tests" / "integration" / "cloudformation"))
    import cfn_stacks

    prefix = "cfnpl"
    repository = cfn_stacks.create_stack(f"{prefix}-repository", "repository.yaml", {"ProjectPrefix": prefix})
    buckets = cfn_stacks.create_stack(f"{prefix}-buckets", "buckets.yaml", {"ProjectPrefix": prefix})
    cfn_stacks.create_stack(
        f"{prefix}-pipeline",
        "pipeline.yaml",
        {
            "ProjectPrefix": prefix,
            "ArtifactBucketName": buckets["ArtifactBucketName"],
            "InstructionBucketName": buckets["InstructionBucketName"],
            "RepositoryName": repository["RepositoryName"],
        },
    )
    document = applied["deployment"]
    account, region = document["account_id"], document["region"]
    terraform = pipeline_iam_of(PREFIX, account, region)
    cloudformation = pipeline_iam_of(prefix, account, region)
    assert set(terraform) == set(PIPELINE_ROLES)
    assert without(terraform, KMS_ONLY_SIDS) == cloudformation
