"""The documented stacks, created through moto's CloudFormation on the local cloud.

Given the buckets and labeling stacks, then what they created carries the security settings of
the templates, their outputs form a complete deployment document, and a dropped image goes
through the deployed queues into the ledger and a labeling job.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from PIL import Image
from tests.stage_wiring import (
    STAGE_VARIABLES,
    assert_first_stage_has_no_stage_wiring,
    prove_review_stage_wiring,
)

from gtlocal.deploy import publish_project_config
from gtlocal.runner import run_until_idle
from gtlocal.testing import LocalCloud

from cfn_stacks import REGION, DeployStacks, create_stack, deployment_document  # isort: skip

ROOT = Path(__file__).resolve().parents[3]
INTERFACES = (ROOT / "docs" / "interfaces.md").read_text(encoding="utf-8")


def contract_document() -> dict[str, Any]:
    block = re.search(r"## 2\..*?```json\n(.*?)```", INTERFACES, re.S)
    assert block
    document: dict[str, Any] = json.loads(block.group(1))
    return document


def key_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: key_tree(v) for k, v in value.items()}
    return type(value).__name__


def interface_variables() -> set[str]:
    section = re.search(r"## 3\..*?\n(.*?)\n## 4\.", INTERFACES, re.S)
    assert section
    names: set[str] = set()
    for line in section.group(1).splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def jpeg(seed: int) -> bytes:
    image = Image.new("RGB", (64, 48), (seed % 256, 80, 160))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


def test_stacks_create_and_their_outputs_form_the_deployment_document(deploy_stacks: DeployStacks) -> None:
    started = time.monotonic()
    document = deploy_stacks("cats")
    elapsed = time.monotonic() - started

    contract = contract_document()
    structure = key_tree(contract)
    del structure["lambda_environment"]
    actual = key_tree(document)
    del actual["lambda_environment"]
    # A first stage: stage all null (docs/interfaces.md section 2, review stages).
    assert actual.pop("stage") == {"upstream_output_topic_arn": "NoneType", "rejected_queue_url": "NoneType"}
    assert actual == structure
    assert document["project_prefix"] == "cats"
    assert document["ledger_table"] == "cats-ledger"
    assert document["buckets"]["drop"] == f"cats-{document['account_id']}-drop"
    assert document["handlers"] == contract["handlers"]
    assert {k: (q["batch_size"], q["max_receive_count"]) for k, q in document["queues"].items()} == {
        "intake": (10, 3),
        "job_events": (10, 5),
        "worker_events": (10, 3),
        "labels": (10, 3),
    }
    env = document["lambda_environment"]
    # Without a customer managed key OUTPUT_KMS_KEY_ID is left out, and a first stage has no stage
    # variables; every other variable is set.
    assert set(env) == interface_variables() - {"OUTPUT_KMS_KEY_ID"} - STAGE_VARIABLES
    assert env["PROJECT_CONFIG_URI"] == document["project_config_uri"]
    assert env["GROUNDTRUTH_ROLE_ARN"] == document["groundtruth_role_arn"]
    assert env["INPUT_TOPIC_ARN"] == document["topics"]["input"]
    assert all(isinstance(v, str) for v in env.values())
    # lambda_roles: the execution role each deployed function runs with.
    lam = boto3.client("lambda", region_name=REGION)
    for key, function in (("intake", "cats-intake"), ("reconcile", "cats-reconcile")):
        assert document["lambda_roles"][key] == lam.get_function_configuration(FunctionName=function)["Role"]
    print(f"buckets + labeling stacks created in {elapsed:.1f} s")


def test_a_review_stage_stack_is_fed_by_its_upstream_stack_under_the_strict_local_cloud(
    deploy_stacks: DeployStacks, cloud: LocalCloud
) -> None:
    # Given a first stage and a review stage "<P>-verify" wired to it by the stage parameters
    first = deploy_stacks("two")
    review = deploy_stacks(
        "two-verify",
        UpstreamOutputTopicArn=first["topics"]["output"],
        UpstreamInputBucketArn=f"arn:aws:s3:::{first['buckets']['input']}",
        RejectedQueueUrl=first["queues"]["intake"]["url"],
        RejectedQueueArn=first["queues"]["intake"]["arn"],
    )
    # Then the first one has nothing of a stage, and the review stage's wiring works as each
    # service's role uses it (tests/stage_wiring.py)
    assert_first_stage_has_no_stage_wiring(first)
    prove_review_stage_wiring(cloud, first, review)


def test_created_resources_carry_the_security_settings(deploy_stacks: DeployStacks) -> None:
    document = deploy_stacks("sec")
    s3 = boto3.client("s3", region_name=REGION)
    for kind, bucket in document["buckets"].items():
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        public_prefix = kind == "instructions"
        assert block == {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": not public_prefix,
            "RestrictPublicBuckets": not public_prefix,
        }, kind
        ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}], kind
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled", kind
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", kind
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        denies = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, kind
        public = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        if public_prefix:
            assert [s["Resource"] for s in public] == [f"arn:aws:s3:::{bucket}/public/*"]
        else:
            assert public == [], kind
    cors = s3.get_bucket_cors(Bucket=document["buckets"]["input"])["CORSRules"]
    assert cors[0]["AllowedMethods"] == ["GET"] and cors[0]["AllowedOrigins"] == ["*"]
    (notification,) = s3.get_bucket_notification_configuration(Bucket=document["buckets"]["drop"])[
        "QueueConfigurations"
    ]
    assert notification["QueueArn"] == document["queues"]["intake"]["arn"]

    sqs = boto3.client("sqs", region_name=REGION)
    for queue in document["queues"].values():
        attributes = sqs.get_queue_attributes(QueueUrl=queue["url"], AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["maxReceiveCount"] == queue["max_receive_count"]
        assert attributes["SqsManagedSseEnabled"] == "true"
        assert int(attributes["VisibilityTimeout"]) == 6 * 120
        allow = [s for s in json.loads(attributes["Policy"])["Statement"] if s["Effect"] == "Allow"]
        assert allow[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": document["account_id"]}

    mappings = boto3.client("lambda", region_name=REGION).list_event_source_mappings()["EventSourceMappings"]
    assert sorted(m["EventSourceArn"] for m in mappings) == sorted(
        q["arn"] for q in document["queues"].values()
    )
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)

    alarms = boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"]
    assert len(alarms) == 13  # 4 DLQs, 4 oldest-message ages, 5 Lambda error counts
    assert all(a["AlarmActions"] == [document["topics"]["notifications"]] for a in alarms)


def test_job_state_rule_delivers_this_projects_job_events_only(deploy_stacks: DeployStacks) -> None:
    document = deploy_stacks("pets")
    events = boto3.client("events", region_name=REGION)
    sent = [
        ("pets-0001", "Completed"),
        ("pets-0012", "InProgress"),  # AWS documents no event for InProgress
        ("pets-0001", "Initializing"),  # nor for Initializing
        ("petshop-0001", "Completed"),  # another project sharing the first letters
        ("other-0001", "Stopped"),
    ]
    # When Ground Truth state-change events arrive on the default bus
    for job, status in sent:
        arn = f"arn:aws:sagemaker:{REGION}:{document['account_id']}:labeling-job/{job}"
        answer = events.put_events(
            Entries=[
                {
                    "Source": "aws.sagemaker",
                    "DetailType": "SageMaker Ground Truth Labeling Job State Change",
                    "Resources": [arn],
                    "Detail": json.dumps({"LabelingJobStatus": status}),
                }
            ]
        )
        assert answer["FailedEntryCount"] == 0
    # Then the job-events queue holds exactly this project's terminal events
    sqs = boto3.client("sqs", region_name=REGION)
    received = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=document["queues"]["job_events"]["url"], MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            body = json.loads(message["Body"])
            received.append((body["resources"][0].rsplit("/", 1)[1], body["detail"]["LabelingJobStatus"]))
            sqs.delete_message(
                QueueUrl=document["queues"]["job_events"]["url"], ReceiptHandle=message["ReceiptHandle"]
            )
    assert sorted(received) == [("pets-0001", "Completed")]


def test_a_dropped_image_reaches_the_ledger_and_a_labeling_job(deployment: dict[str, Any]) -> None:
    # Given the stacks of project "bt" with a published project config (fixture `deployment`)
    s3 = boto3.client("s3", region_name=REGION)
    # When an image is dropped and the deployed queues are drained into the handlers
    s3.put_object(Bucket=deployment["buckets"]["drop"], Key="batch/one.jpg", Body=jpeg(1))
    run_until_idle(deployment)
    # Then the ledger knows it and a streaming job of this project was started for it
    table = boto3.resource("dynamodb", region_name=REGION).Table(deployment["ledger_table"])
    items = table.scan()["Items"]
    assert [i["pk"] for i in items if str(i["pk"]).startswith("DROP#")] == ["DROP#batch/one.jpg"]
    assert len([i for i in items if str(i["pk"]).startswith("OBJ#")]) == 1
    jobs = boto3.client("sagemaker", region_name=REGION).list_labeling_jobs()["LabelingJobSummaryList"]
    assert [j["LabelingJobName"] for j in jobs] == ["bt-0001"]
    # ...with the role, topic and output bucket the stack created.
    job = boto3.client("sagemaker", region_name=REGION).describe_labeling_job(LabelingJobName="bt-0001")
    assert job["RoleArn"] == deployment["groundtruth_role_arn"]
    assert job["InputConfig"]["DataSource"]["SnsDataSource"]["SnsTopicArn"] == deployment["topics"]["input"]
    assert job["OutputConfig"]["S3OutputPath"] == f"s3://{deployment['buckets']['output']}/jobs/"


def test_deployment_document_rejects_a_stack_that_is_not_a_labeling_stack(cloud: LocalCloud) -> None:
    outputs = create_stack("only-buckets", "buckets.yaml", {"ProjectPrefix": "only"})
    assert "InstructionBucketName" in outputs
    with pytest.raises(deployment_document.StackError, match="not a labeling stack"):
        deployment_document.stack_deployment_document("only-buckets", REGION)
    with pytest.raises(deployment_document.StackError, match="cannot read stack"):
        deployment_document.stack_deployment_document("no-such-stack", REGION)


def test_publish_to_a_cfn_deployment_uses_the_instruction_bucket(deployment: dict[str, Any]) -> None:
    config = publish_project_config(deployment, version="test-2")
    uri = deployment["project_config_uri"]
    assert uri == deployment["lambda_environment"]["PROJECT_CONFIG_URI"]
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()
    assert json.loads(body)["version"] == config["version"] == "test-2"


def test_repository_buckets_and_pipeline_stacks_wire_a_push_to_the_publisher(cloud: LocalCloud) -> None:
    # Given the documented order: repository, buckets, then the pipeline on both
    repository = create_stack("docs-repository", "repository.yaml", {"ProjectPrefix": "docs"})
    buckets = create_stack(
        "docs-buckets", "buckets.yaml", {"ProjectPrefix": "docs", "PublicInstructions": "false"}
    )
    create_stack(
        "docs-pipeline",
        "pipeline.yaml",
        {
            "ProjectPrefix": "docs",
            "ArtifactBucketName": buckets["ArtifactBucketName"],
            "InstructionBucketName": buckets["InstructionBucketName"],
            "RepositoryName": repository["RepositoryName"],
            "BranchName": "main",
            "PublicInstructions": "false",
        },
    )
    assert repository["RepositoryName"] == "docs-instructions"

    # Then the pipeline takes the repository's branch and hands it to the publishing build
    pipeline = boto3.client("codepipeline", region_name=REGION).get_pipeline(name="docs-instructions")[
        "pipeline"
    ]
    source, build = pipeline["stages"]
    (pull,) = source["actions"]
    assert pull["actionTypeId"]["provider"] == "CodeCommit"
    assert pull["configuration"]["RepositoryName"] == "docs-instructions"
    assert pull["configuration"]["BranchName"] == "main"
    (publish,) = build["actions"]
    assert publish["configuration"]["ProjectName"] == "docs-publish-instructions"
    assert pipeline["artifactStore"]["location"] == buckets["ArtifactBucketName"]

    (project,) = boto3.client("codebuild", region_name=REGION).batch_get_projects(
        names=["docs-publish-instructions"]
    )["projects"]
    variables = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
    assert variables["INSTRUCTIONS_BUCKET"] == buckets["InstructionBucketName"]
    assert variables["INSTRUCTIONS_PUBLIC"] == "false"
    assert variables["PUBLISHER_URI"] == f"s3://{buckets['ArtifactBucketName']}/tools/publish_instructions.py"
    assert "GT_DEFAULT_WORKTEAM_ARN" not in variables  # not given, so project.json must name it
    assert project["source"]["buildspec"] == "buildspec.yml"

    # ...and a push to main starts it through EventBridge with a role that trusts EventBridge.
    events = boto3.client("events", region_name=REGION)
    pattern = json.loads(events.describe_rule(Name="docs-instructions-push")["EventPattern"])
    assert pattern["resources"] == [repository["RepositoryArn"]]
    assert pattern["detail"]["referenceName"] == ["main"]
    (target,) = events.list_targets_by_rule(Rule="docs-instructions-push")["Targets"]
    assert target["Arn"].endswith(":docs-instructions")
    iam = boto3.client("iam", region_name=REGION)
    trust = iam.get_role(RoleName=target["RoleArn"].rsplit("/", 1)[1])["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    # With PublicInstructions=false the instruction bucket has no public grant at all.
    policy = json.loads(
        boto3.client("s3", region_name=REGION).get_bucket_policy(Bucket=buckets["InstructionBucketName"])[
            "Policy"
        ]
    )
    assert [s["Effect"] for s in policy["Statement"]] == ["Deny"]


def test_templates_over_cloudformations_size_limits_are_refused_as_aws_refuses_them(
    cloud: LocalCloud,
) -> None:
    # Regression (issue 9): moto created a stack from a template of any size, so the README's
    # inline deploy of the 80 KB labeling.yaml passed here and failed on AWS.
    cfn = boto3.client("cloudformation", region_name=REGION)
    body = (ROOT / "cloudformation" / "labeling.yaml").read_text(encoding="utf-8")
    assert len(body.encode()) > 51_200
    with pytest.raises(ClientError) as inline:
        cfn.create_stack(StackName="too-big-inline", TemplateBody=body)
    error = inline.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith("1 validation error detected: Value '")
    assert error["Message"].endswith(
        "' at 'templateBody' failed to satisfy constraint: "
        "Member must have length less than or equal to 51200"
    )
    # A template in S3 may be up to 1 MB; over that, TemplateURL is refused too.
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="size-limits")
    padded = body + "\n".join("# " + "x" * 98 for _ in range(10_000)) + "\n"
    s3.put_object(Bucket="size-limits", Key="huge.yaml", Body=padded.encode())
    with pytest.raises(ClientError) as via_s3:
        cfn.create_stack(
            StackName="too-big-url", TemplateURL=f"https://size-limits.s3.{REGION}.amazonaws.com/huge.yaml"
        )
    assert via_s3.value.response["Error"]["Message"] == "Template may not exceed 1000000 bytes in size."
    assert [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]] == []
