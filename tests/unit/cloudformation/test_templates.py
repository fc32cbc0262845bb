"""Static checks of the CloudFormation stacks: security bar, contract coverage, event scoping.

The templates are parsed with cfn-lint's decoder (it understands the short-form tags such as
``!Sub``), and the expectations that belong to the contract are read from docs/interfaces.md,
so a change on either side that breaks the contract fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from gtlocal.deploy import RESOURCE_STAR_EXCEPTIONS

ROOT = Path(__file__).resolve().parents[3]
CFN = ROOT / "cloudformation"
TEMPLATES = sorted(p.name for p in CFN.glob("*.yaml"))
INTERFACES = (ROOT / "docs" / "interfaces.md").read_text(encoding="utf-8")

POLICY_RESOURCE_TYPES = {"AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"}
JOB_ARN_PREFIX = (
    "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:labeling-job/${ProjectPrefix}-"
)
JOB_ARNS = [{"Fn::Sub": JOB_ARN_PREFIX + "????"}, {"Fn::Sub": JOB_ARN_PREFIX + "?????"}]
GROUNDTRUTH_QUEUES = [
    {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:GroundTruth-${ProjectPrefix}-"
        + n
    }
    for n in ("????", "?????")
]
# Actions that support no resource-level permission (IAM requires Resource "*"), each kept narrow:
# the one list, with the Sid and reason of each (tests/unit/gtlocal/test_policies.py checks it
# against the Service Authorization Reference).
RESOURCE_STAR_ACTIONS = set(RESOURCE_STAR_EXCEPTIONS)
TOPIC_POLICY_ACTIONS = {
    "sns:AddPermission",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:Publish",
    "sns:RemovePermission",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
}


def load(name: str) -> dict[str, Any]:
    template, errors = decode(str(CFN / name))
    assert not errors, errors
    assert isinstance(template, dict)
    return template


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def branches(value: Any) -> Iterator[Any]:
    """Every concrete value a (possibly Fn::If-wrapped) value can take; AWS::NoValue yields nothing."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, when_true, when_false = value["Fn::If"]
        yield from branches(when_true)
        yield from branches(when_false)
    elif isinstance(value, dict) and value == {"Ref": "AWS::NoValue"}:
        return
    else:
        yield value


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource name, kind, document) for every IAM policy document of a template."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            yield name, "trust", props["AssumeRolePolicyDocument"]
            for policy in props.get("Policies", []):
                yield name, "identity", policy["PolicyDocument"]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield name, "identity", props["PolicyDocument"]
        elif resource["Type"] in POLICY_RESOURCE_TYPES:
            yield name, "resource", props["PolicyDocument"]


def statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for statement in as_list(document["Statement"]):
        yield from branches(statement)


def all_statements(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, kind, document in policy_documents(template):
        for statement in statements(document):
            yield name, kind, statement


def is_tls_deny(statement: dict[str, Any]) -> bool:
    return (
        statement["Effect"] == "Deny"
        and statement.get("Principal") == "*"
        and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    )


def interface_lambda_variables() -> set[str]:
    """The variable names of docs/interfaces.md section 3 (first column of its table)."""
    section = re.search(r"## 3\..*?\n(.*?)\n## 4\.", INTERFACES, re.S)
    assert section, "docs/interfaces.md has no section 3"
    names: set[str] = set()
    for line in section.group(1).splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def deployment_document_paths() -> set[str]:
    """Dotted paths of every leaf of the deployment document of docs/interfaces.md section 2."""
    block = re.search(r"## 2\..*?```json\n(.*?)```", INTERFACES, re.S)
    assert block, "docs/interfaces.md has no deployment document"
    paths: set[str] = set()

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and prefix != "lambda_environment":
            for key, child in value.items():
                walk(f"{prefix}.{key}" if prefix else key, child)
        else:
            paths.add(prefix)

    walk("", json.loads(block.group(1)))
    return paths


# --- lint -------------------------------------------------------------------------------------


def test_templates_are_cfn_lint_clean() -> None:
    # The same command as `make lint` (errors and warnings; informational rules off by default).
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), *(str(CFN / n) for n in TEMPLATES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_documented_stacks_exist() -> None:
    assert set(TEMPLATES) >= {"repository.yaml", "buckets.yaml", "pipeline.yaml", "labeling.yaml"}


# --- IAM ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_allow_statement_has_a_wildcard_action_or_resource(name: str) -> None:
    template = load(name)
    checked = 0
    for resource, kind, statement in all_statements(template):
        if statement["Effect"] != "Allow":
            continue
        checked += 1
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{resource}: Allow {action}"
        if kind == "identity":
            for target in as_list(statement["Resource"]):
                if target == "*":
                    assert set(as_list(statement["Action"])) <= RESOURCE_STAR_ACTIONS, (
                        f"{resource}: Resource *"
                    )
                    for action in as_list(statement["Action"]):  # in the statement the list names
                        assert statement.get("Sid") == RESOURCE_STAR_EXCEPTIONS[action][0], resource
    if template["Resources"] and name != "repository.yaml":
        assert checked > 0


@pytest.mark.parametrize("name", TEMPLATES)
def test_wildcard_actions_only_in_tls_denies(name: str) -> None:
    for resource, _, statement in all_statements(load(name)):
        if any("*" in a for a in as_list(statement["Action"])):
            assert is_tls_deny(statement), f"{resource}: a wildcard outside a TLS-only deny"


def test_cloudwatch_metrics_are_limited_to_ground_truths_namespaces() -> None:
    (statement,) = [
        s
        for _, _, s in all_statements(load("labeling.yaml"))
        if s["Effect"] == "Allow" and s.get("Resource") == "*" and s["Action"] == "cloudwatch:PutMetricData"
    ]
    namespaces = statement["Condition"]["StringEquals"]["cloudwatch:namespace"]
    assert sorted(namespaces) == ["AWS/SageMaker/Workteam", "AWS/Sagemaker/LabelingJobs"]


def test_lambda_roles_scope_sagemaker_to_the_project_jobs_and_pass_role_to_sagemaker_only() -> None:
    template = load("labeling.yaml")
    sagemaker_statements = 0
    pass_role_statements = 0
    for resource, kind, statement in all_statements(template):
        if kind != "identity":
            continue
        actions = as_list(statement["Action"])
        if actions == ["sagemaker:ListLabelingJobs"]:
            assert resource == "OperatorPolicy" and statement["Resource"] == "*"
        elif any(a.startswith("sagemaker:") for a in actions):
            sagemaker_statements += 1
            assert as_list(statement["Resource"]) == JOB_ARNS, resource
        if "iam:PassRole" in actions:
            pass_role_statements += 1
            assert actions == ["iam:PassRole"]
            assert statement["Resource"] == {"Fn::GetAtt": ["GroundTruthRole", "Arn"]}
            assert statement["Condition"] == {
                "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
            }
    # intake, job_events and reconcile describe and create jobs; worker_events never calls SageMaker;
    # reconcile also stops the running job (on_publish: roll-over); the operator policy manages the
    # project's jobs (gtctl chain --stop-active).
    assert sagemaker_statements == 3 * 2 + 1 + 1
    assert pass_role_statements == 3 + 1


def test_the_roles_that_create_jobs_may_send_the_checks_that_follow_them() -> None:
    template = load("labeling.yaml")
    followers = {
        resource: statement
        for resource, kind, statement in all_statements(template)
        if kind == "identity" and statement.get("Sid") == "FollowNewJobs"
    }
    assert set(followers) == {"IntakeRole", "JobEventsRole", "ReconcileRole"}
    for statement in followers.values():
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Resource"] == {"Fn::GetAtt": ["JobEventsQueue", "Arn"]}


def test_groundtruth_role_is_assumed_by_sagemaker_of_this_account_only() -> None:
    role = load("labeling.yaml")["Resources"]["GroundTruthRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role


def test_events_role_trusts_eventbridge() -> None:
    role = load("pipeline.yaml")["Resources"]["SourceChangeRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    (policy,) = role["Policies"]
    (allow,) = policy["PolicyDocument"]["Statement"]
    assert allow["Action"] == "codepipeline:StartPipelineExecution"


# --- buckets ------------------------------------------------------------------------------------


def all_buckets() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for name in TEMPLATES:
        template = load(name)
        for logical, bucket in resources(template, "AWS::S3::Bucket").items():
            yield name, logical, bucket["Properties"], template


def test_there_are_five_project_buckets() -> None:
    found = {(name, logical) for name, logical, _, _ in all_buckets()}
    assert found == {
        ("buckets.yaml", "ArtifactBucket"),
        ("buckets.yaml", "InstructionBucket"),
        ("labeling.yaml", "DropBucket"),
        ("labeling.yaml", "InputBucket"),
        ("labeling.yaml", "OutputBucket"),
    }


def test_block_public_access_everywhere_except_the_instruction_bucket_policy_switch() -> None:
    for name, logical, props, _ in all_buckets():
        assert "AccessControl" not in props, f"{logical}: no ACLs"
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        block = props["PublicAccessBlockConfiguration"]
        assert block["BlockPublicAcls"] is True and block["IgnorePublicAcls"] is True, logical
        if (name, logical) == ("buckets.yaml", "InstructionBucket"):
            switch = {"Fn::If": ["IsPublic", False, True]}
            assert block["BlockPublicPolicy"] == switch
            assert block["RestrictPublicBuckets"] == switch
        else:
            assert block["BlockPublicPolicy"] is True and block["RestrictPublicBuckets"] is True, logical


def test_the_only_public_grant_is_get_object_on_the_public_prefix() -> None:
    public = []
    for name in TEMPLATES:
        for resource, _, statement in all_statements(load(name)):
            if statement["Effect"] == "Allow" and statement.get("Principal") == "*":
                public.append((name, resource, statement))
    assert len(public) == 1
    name, resource, statement = public[0]
    assert (name, resource) == ("buckets.yaml", "InstructionBucketPolicy")
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"] == {"Fn::Sub": "${InstructionBucket.Arn}/public/*"}
    # ...and it exists only when PublicInstructions=true.
    policy = load("buckets.yaml")["Resources"]["InstructionBucketPolicy"]["Properties"]["PolicyDocument"]
    (switched,) = [s for s in policy["Statement"] if "Fn::If" in s]
    assert switched["Fn::If"][0] == "IsPublic" and switched["Fn::If"][2] == {"Ref": "AWS::NoValue"}


def test_every_bucket_has_a_tls_only_policy_covering_bucket_and_objects() -> None:
    for _, logical, _, template in all_buckets():
        policies = [
            p["Properties"]
            for p in resources(template, "AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": logical}
        ]
        assert len(policies) == 1, logical
        denies = [s for s in statements(policies[0]["PolicyDocument"]) if is_tls_deny(s)]
        assert len(denies) == 1, logical
        assert denies[0]["Action"] == "s3:*"
        assert as_list(denies[0]["Resource"]) == [
            {"Fn::GetAtt": [logical, "Arn"]},
            {"Fn::Sub": f"${{{logical}.Arn}}/*"},
        ]


def test_every_bucket_is_encrypted_and_versioned() -> None:
    for _, logical, props, _ in all_buckets():
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        algorithms = {b["SSEAlgorithm"] for b in branches(rule["ServerSideEncryptionByDefault"])}
        assert algorithms <= {"AES256", "aws:kms"} and algorithms, logical
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical


def test_input_bucket_has_the_cors_ground_truth_needs() -> None:
    props = load("labeling.yaml")["Resources"]["InputBucket"]["Properties"]
    (rule,) = props["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["GET"]
    assert rule["AllowedOrigins"] == ["*"]
    assert "Access-Control-Allow-Origin" in rule["ExposedHeaders"]


def test_drop_bucket_notifies_the_intake_queue_only_after_its_policy_exists() -> None:
    template = load("labeling.yaml")
    drop = template["Resources"]["DropBucket"]
    (config,) = drop["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Queue"] == {"Fn::GetAtt": ["IntakeQueue", "Arn"]}
    assert config["Event"] == "s3:ObjectCreated:*"
    assert drop["DependsOn"] == "IntakeQueuePolicy"
    # The queue policy names the drop bucket by the same name the bucket gets (a review stage's
    # intake queue also admits its upstream output topic: AllowUpstreamOutputTopic).
    (allow,) = [
        s
        for s in statements(template["Resources"]["IntakeQueuePolicy"]["Properties"]["PolicyDocument"])
        if s["Effect"] == "Allow" and s["Sid"] == "AllowProjectSender"
    ]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    source = allow["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    assert source == "arn:${AWS::Partition}:s3:::" + drop["Properties"]["BucketName"]["Fn::Sub"]


# --- queues, topics -----------------------------------------------------------------------------


def test_queues_have_dlqs_tls_only_policies_and_scoped_senders() -> None:
    template = load("labeling.yaml")
    queues = resources(template, "AWS::SQS::Queue")
    sources = {k: v for k, v in queues.items() if "RedrivePolicy" in v["Properties"]}
    assert set(sources) == {"IntakeQueue", "JobEventsQueue", "WorkerEventsQueue", "LabelsQueue"}
    policies = resources(template, "AWS::SQS::QueuePolicy")
    for logical, queue in sources.items():
        dlq = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dlq in queues and dlq != logical
        (policy,) = [p for p in policies.values() if p["Properties"]["Queues"] == [{"Ref": logical}]]
        doc = policy["Properties"]["PolicyDocument"]
        assert any(is_tls_deny(s) for s in statements(doc)), logical
        allows = [s for s in statements(doc) if s["Effect"] == "Allow"]
        assert [s["Sid"] for s in allows] == ["AllowProjectSender"] + (
            ["AllowUpstreamOutputTopic"] if logical == "IntakeQueue" else []
        )
        for allow in allows:
            assert allow["Action"] == "sqs:SendMessage"
            assert set(allow["Condition"]) == {"ArnEquals", "StringEquals"}
            assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    for queue in queues.values():
        props = queue["Properties"]
        assert "SqsManagedSseEnabled" in props and "KmsMasterKeyId" in props


def test_a_review_stage_gets_its_upstream_topic_raw_and_exactly_its_stage_grants() -> None:
    template = load("labeling.yaml")
    conditions, res = template["Conditions"], template["Resources"]
    subscription = res["UpstreamSubscription"]
    assert (
        subscription["Condition"] == "HasUpstreamTopic" and subscription["DependsOn"] == "IntakeQueuePolicy"
    )
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "UpstreamOutputTopicArn"},
        "Protocol": "sqs",
        "Endpoint": {"Fn::GetAtt": ["IntakeQueue", "Arn"]},
        "RawMessageDelivery": True,
    }
    assert conditions["HasUpstreamTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "UpstreamOutputTopicArn"}, ""]}]
    }
    policy = res["IntakeQueuePolicy"]["Properties"]["PolicyDocument"]
    (upstream,) = [s for s in as_list(policy["Statement"]) if "Fn::If" in s]
    assert upstream["Fn::If"][0] == "HasUpstreamTopic" and upstream["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    allow = upstream["Fn::If"][1]
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Condition"]["ArnEquals"] == {"aws:SourceArn": {"Ref": "UpstreamOutputTopicArn"}}

    def stage_statements(role: str) -> dict[str, tuple[str, Any]]:
        (policy,) = res[role]["Properties"]["Policies"]
        return {
            s["Fn::If"][1]["Sid"]: (s["Fn::If"][0], s["Fn::If"][1]["Action"], s["Fn::If"][1]["Resource"])
            for s in as_list(policy["PolicyDocument"]["Statement"])
            if "Fn::If" in s and s["Fn::If"][1]["Sid"] not in ("ProjectKey", "LambdaFunctions")
        }

    assert stage_statements("GroundTruthRole") == {
        "UpstreamImages": (
            "HasUpstreamBucket",
            "s3:GetObject",
            {"Fn::Sub": "${UpstreamInputBucketArn}/images/*"},
        ),
        "UpstreamKey": ("HasUpstreamKey", "kms:Decrypt", {"Ref": "UpstreamKmsKeyArn"}),
    }
    rejected = {
        "RejectedQueue": ("HasRejectedQueue", "sqs:SendMessage", {"Ref": "RejectedQueueArn"}),
        "RejectedQueueKey": (
            "HasRejectedQueueKey",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            {"Ref": "RejectedQueueKmsKeyArn"},
        ),
    }
    # The functions that decide on a label (labels live; intake, job_events, reconcile at a job
    # end: gtstream.stages.decide) may send a rejected object; the labels function also reads the
    # config (a stage) and the object (when rejected objects go back).
    instructions = "arn:${AWS::Partition}:s3:::${InstructionBucketName}"
    assert stage_statements("LabelsRole") == {
        **rejected,
        "ProjectConfig": ("IsStage", "s3:GetObject", {"Fn::Sub": f"{instructions}/${{ProjectConfigKey}}"}),
        "InstructionsList": ("IsStage", "s3:ListBucket", {"Fn::Sub": instructions}),
        "LedgerReadObject": ("HasRejectedQueue", "dynamodb:GetItem", {"Fn::GetAtt": ["LedgerTable", "Arn"]}),
    }
    assert conditions["IsStage"] == {
        "Fn::Or": [{"Condition": "HasUpstreamTopic"}, {"Condition": "HasRejectedQueue"}]
    }
    for role in ("IntakeRole", "JobEventsRole", "ReconcileRole"):
        assert stage_statements(role) == rejected, role
    assert stage_statements("WorkerEventsRole") == {}
    for function in resources(template, "AWS::Lambda::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["UPSTREAM_OUTPUT_TOPIC_ARN"] == {
            "Fn::If": ["HasUpstreamTopic", {"Ref": "UpstreamOutputTopicArn"}, {"Ref": "AWS::NoValue"}]
        }
        assert variables["REJECTED_QUEUE_URL"] == {
            "Fn::If": ["HasRejectedQueue", {"Ref": "RejectedQueueUrl"}, {"Ref": "AWS::NoValue"}]
        }
        assert variables["MAX_REVIEW_ROUNDS"] == {
            "Fn::If": ["HasMaxReviewRounds", {"Ref": "MaxReviewRounds"}, {"Ref": "AWS::NoValue"}]
        }


def test_the_labels_queue_gets_the_output_topic_raw_and_admits_only_that_topic() -> None:
    template = load("labeling.yaml")
    subscription = template["Resources"]["LabelsSubscription"]
    assert subscription["DependsOn"] == "LabelsQueuePolicy"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "OutputTopic"},
        "Protocol": "sqs",
        "Endpoint": {"Fn::GetAtt": ["LabelsQueue", "Arn"]},
        "RawMessageDelivery": True,
    }
    policy = template["Resources"]["LabelsQueuePolicy"]["Properties"]["PolicyDocument"]
    (allow,) = [s for s in statements(policy) if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
    assert allow["Condition"]["ArnEquals"] == {"aws:SourceArn": {"Ref": "OutputTopic"}}


def test_topics_have_account_scoped_tls_only_policies() -> None:
    template = load("labeling.yaml")
    topics = set(resources(template, "AWS::SNS::Topic"))
    assert topics == {"InputTopic", "OutputTopic", "NotificationTopic"}
    covered: set[str] = set()
    for policy in resources(template, "AWS::SNS::TopicPolicy").values():
        doc = policy["Properties"]["PolicyDocument"]
        assert any(is_tls_deny(s) for s in statements(doc))
        for statement in statements(doc):
            if statement["Effect"] == "Allow":
                condition = statement["Condition"]
                scoped = condition.get("StringEquals", {})
                assert {"AWS:SourceOwner", "aws:SourceAccount"} & set(scoped), statement["Sid"]
        covered.update(t["Ref"] for t in policy["Properties"]["Topics"])
    assert covered == topics


# --- Lambdas ------------------------------------------------------------------------------------


def test_every_lambda_has_exactly_the_interface_environment_and_all_four_agree() -> None:
    expected = interface_lambda_variables()
    assert {"PROJECT_PREFIX", "LEDGER_TABLE", "GROUNDTRUTH_ROLE_ARN", "POWERTOOLS_LOG_LEVEL"} <= expected
    functions = resources(load("labeling.yaml"), "AWS::Lambda::Function")
    assert len(functions) == 5
    environments = [f["Properties"]["Environment"]["Variables"] for f in functions.values()]
    for env in environments:
        assert set(env) == expected
        assert env == environments[0]
    # The only optional one without a default is set only with a customer managed key.
    assert environments[0]["OUTPUT_KMS_KEY_ID"] == {
        "Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]
    }


def test_handlers_are_those_of_the_deployment_document() -> None:
    block = re.search(r"## 2\..*?```json\n(.*?)```", INTERFACES, re.S)
    assert block
    handlers = json.loads(block.group(1))["handlers"]
    functions = resources(load("labeling.yaml"), "AWS::Lambda::Function")
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == sorted(handlers.values())


def test_event_source_mappings_report_batch_item_failures() -> None:
    template = load("labeling.yaml")
    mappings = resources(template, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 4
    fed = set()
    for mapping in mappings.values():
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        fed.add(props["FunctionName"]["Ref"])
        queue = props["EventSourceArn"]["Fn::GetAtt"][0]
        assert "RedrivePolicy" in template["Resources"][queue]["Properties"]
    assert fed == {"IntakeFunction", "JobEventsFunction", "WorkerEventsFunction", "LabelsFunction"}


def test_queue_visibility_is_six_times_every_allowed_lambda_timeout() -> None:
    template = load("labeling.yaml")
    allowed = template["Parameters"]["LambdaTimeout"]["AllowedValues"]
    mapping = template["Mappings"]["QueueVisibility"]
    assert {int(k): v["Seconds"] for k, v in mapping.items()} == {int(t): int(t) * 6 for t in allowed}


# --- EventBridge --------------------------------------------------------------------------------


def test_job_state_rule_matches_only_this_projects_jobs_and_the_documented_statuses() -> None:
    rule = load("labeling.yaml")["Resources"]["JobStateRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["detail-type"] == ["SageMaker Ground Truth Labeling Job State Change"]
    assert pattern["resources"] == [{"prefix": {"Fn::Sub": f"{JOB_ARN_PREFIX}{d}"}} for d in range(10)]
    # "Monitor Labeling Job Status": events for Completed, Failed and Stopped only.
    assert sorted(pattern["detail"]["LabelingJobStatus"]) == ["Completed", "Failed", "Stopped"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["JobEventsQueue", "Arn"]}


def test_worker_task_rule_is_scoped_to_this_projects_jobs() -> None:
    rule = load("labeling.yaml")["Resources"]["WorkerTaskRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["labeling-job-arn"] == [
        {"prefix": {"Fn::Sub": f"{JOB_ARN_PREFIX}{d}"}} for d in range(10)
    ]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["WorkerEventsQueue", "Arn"]}


def test_schedule_invokes_reconcile_with_a_rule_scoped_permission() -> None:
    template = load("labeling.yaml")
    rule = template["Resources"]["ReconcileScheduleRule"]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}
    (permission,) = resources(template, "AWS::Lambda::Permission").values()
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": ["ReconcileScheduleRule", "Arn"]}
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"


def test_alarms_notify_the_notification_topic() -> None:
    alarms = resources(load("labeling.yaml"), "AWS::CloudWatch::Alarm")
    assert len(alarms) == 13  # 4 DLQs, 4 oldest-message ages, 5 Lambda error counts
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "NotificationTopic"}]


# --- outputs and parameters ---------------------------------------------------------------------


def test_outputs_cover_every_value_of_the_deployment_document() -> None:
    outputs = load("labeling.yaml")["Outputs"]
    described = {o["Description"].split(" ")[0] for o in outputs.values()}
    missing = deployment_document_paths() - described - {"lambda_environment"}
    assert not missing, f"no stack output for {sorted(missing)}"
    # lambda_environment is read from the deployed function named by this output.
    assert outputs["IntakeFunctionName"]["Value"] == {"Ref": "IntakeFunction"}


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_constrained_parameter_says_what_to_write_instead(name: str) -> None:
    for key, parameter in load(name)["Parameters"].items():
        constrained = {"AllowedPattern", "MinValue", "MaxValue", "MinLength", "MaxLength"} & set(parameter)
        if constrained and "AllowedValues" not in parameter:
            assert parameter.get("ConstraintDescription"), f"{name}: {key}"
        if parameter["Type"] == "Number":
            assert "AllowedValues" in parameter or {"MinValue", "MaxValue"} <= set(parameter), key


@pytest.mark.parametrize("name", TEMPLATES)
def test_project_prefix_is_lower_case_and_fits_bucket_and_job_names(name: str) -> None:
    parameter = load(name)["Parameters"]["ProjectPrefix"]
    pattern = re.compile(parameter["AllowedPattern"])
    longest = "a" * parameter["MaxLength"]
    for good in ("demo", "cats-and-dogs", "a", "a--b", longest):
        assert pattern.fullmatch(good), good
    for bad in ("Demo", "-demo", "demo-", "demo_1", "", longest + "a"):
        assert not pattern.fullmatch(bad), bad
    # The longest bucket name and the longest job name stay inside their limits.
    assert len(f"{longest}-123456789012-instructions") <= 63
    job_pattern = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    assert job_pattern.fullmatch(f"{longest}-9999") and len(f"{longest}-99999999") <= 63
    # ...and every lower-case prefix allowed here is allowed by the contract.
    contract = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,55}$")
    assert contract.fullmatch(longest)


# --- issue 9: what a real account would have refused -------------------------------------------


def role_statements(template: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    """The statements of a role's inline policies, by Sid (KMS/custom-Lambda branches included)."""
    props = template["Resources"][role]["Properties"]
    found: dict[str, dict[str, Any]] = {}
    for policy in props["Policies"]:
        for statement in statements(policy["PolicyDocument"]):
            found[statement["Sid"]] = statement
    return found


def resolve(value: Any, prefix: str) -> str:
    """A ``!Sub`` string of labeling.yaml with the pseudo parameters of a sample account."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    for name, sample in {
        "${AWS::Partition}": "aws",
        "${AWS::Region}": "us-east-1",
        "${AWS::AccountId}": "123456789012",
        "${ProjectPrefix}": prefix,
    }.items():
        text = text.replace(name, sample)
    assert "${" not in text, text
    return str(text)


def iam_matches(pattern: str, value: str) -> bool:
    """IAM's ARN matching: ``*`` any run of characters, ``?`` exactly one, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


OUR_JOBS = ["cats-0001", "cats-0042", "cats-9999", "cats-10000", "cats-99999"]
THEIR_JOBS = ["cats-v2-0001", "cats-x-0001", "cats-1-0001", "cats-ab-0001", "cats-v2-10000", "catsup-0001"]


def test_iam_job_and_queue_patterns_reach_this_projects_jobs_and_no_other_projects() -> None:
    template = load("labeling.yaml")
    checked = 0
    for resource, kind, statement in all_statements(template):
        if kind != "identity" or statement["Effect"] != "Allow":
            continue
        values = as_list(statement["Resource"]) + as_list(
            statement.get("Condition", {}).get("StringLike", {}).get("sns:Endpoint", [])
        )
        for marker in (":labeling-job/", ":GroundTruth-"):
            patterns = [
                resolve(v, "cats") for v in values if isinstance(v, dict) and marker in v.get("Fn::Sub", "")
            ]
            if not patterns:
                continue
            checked += 1
            base = patterns[0][: patterns[0].index(marker) + len(marker)]
            for job in OUR_JOBS:
                assert any(iam_matches(p, base + job) for p in patterns), (resource, job)
            for job in THEIR_JOBS:
                assert not any(iam_matches(p, base + job) for p in patterns), (resource, job)
    # Lambda roles (Describe, Create) x3, reconcile's StopJobs, operator, reconcile's queues, Ground
    # Truth queue + subscribe.
    assert checked == 3 * 2 + 1 + 1 + 1 + 2


def test_event_rules_no_longer_match_another_project_named_prefix_dash_letters() -> None:
    template = load("labeling.yaml")
    rules = [
        template["Resources"]["JobStateRule"]["Properties"]["EventPattern"]["resources"],
        template["Resources"]["WorkerTaskRule"]["Properties"]["EventPattern"]["detail"]["labeling-job-arn"],
    ]
    base = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/"
    for matchers in rules:
        prefixes = [resolve(m["prefix"], "cats") for m in matchers]
        for job in OUR_JOBS:
            assert any((base + job).startswith(p) for p in prefixes), job
        # The residual overlap EventBridge cannot express away: a project named "cats-<digit>...".
        for job in ("cats-v2-0001", "cats-x-0001", "cats-ab-0001", "catsup-0001"):
            assert not any((base + job).startswith(p) for p in prefixes), job


def test_event_patterns_fit_eventbridges_2048_characters_for_the_longest_prefix() -> None:
    template = load("labeling.yaml")
    longest = "a" * template["Parameters"]["ProjectPrefix"]["MaxLength"]
    for rule in ("JobStateRule", "WorkerTaskRule"):
        pattern = json.dumps(template["Resources"][rule]["Properties"]["EventPattern"])
        pattern = re.sub(r'\{"Fn::Sub": ("[^"]*")\}', lambda m: m.group(1), pattern)
        for name, sample in {
            "${AWS::Partition}": "aws-us-gov",
            "${AWS::Region}": "ap-southeast-3",
            "${AWS::AccountId}": "123456789012",
            "${ProjectPrefix}": longest,
        }.items():
            pattern = pattern.replace(name, sample)
        assert len(pattern) <= 2048, (rule, len(pattern))


def test_groundtruth_role_has_the_documented_streaming_statements() -> None:
    text = (CFN / "labeling.yaml").read_text(encoding="utf-8")
    assert "sms-security-permission-execution-role.html" in text  # the page is cited
    found = role_statements(load("labeling.yaml"), "GroundTruthRole")
    assert set(found) == {
        "S3ViewBuckets",
        "S3ReadInputs",
        "S3GetPutObjects",
        "CloudWatchMetrics",
        "CloudWatchLogs",
        "StreamingQueue",
        "StreamingTopicSubscribe",
        "StreamingTopic",
        "StreamingTopicUnsubscribe",
        "LambdaFunctions",
        "ProjectKey",
        "UpstreamImages",  # a review stage only (UpstreamInputBucketArn)
        "UpstreamKey",
    }
    assert sorted(found["StreamingQueue"]["Action"]) == [
        "sqs:CreateQueue",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:SendMessage",
        "sqs:SetQueueAttributes",
    ]
    assert found["StreamingQueue"]["Resource"] == GROUNDTRUTH_QUEUES
    subscribe = found["StreamingTopicSubscribe"]
    assert subscribe["Condition"]["StringEquals"] == {"sns:Protocol": "sqs"}
    assert subscribe["Condition"]["StringLike"] == {"sns:Endpoint": GROUNDTRUTH_QUEUES}
    for sid in ("StreamingTopicSubscribe", "StreamingTopic"):
        assert found[sid]["Resource"] == [{"Ref": "InputTopic"}, {"Ref": "OutputTopic"}], sid
    assert found["StreamingTopicUnsubscribe"]["Resource"] == "*"  # no resource type (SAR)
    assert found["LambdaFunctions"] == {
        "Sid": "LambdaFunctions",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": {"Ref": "CustomTaskLambdaArns"},
    }
    switched = role_statements_switches(load("labeling.yaml"), "GroundTruthRole")
    assert switched == {
        "LambdaFunctions": "HasCustomTaskLambdas",
        "ProjectKey": "HasKmsKey",
        "UpstreamImages": "HasUpstreamBucket",
        "UpstreamKey": "HasUpstreamKey",
    }


def role_statements_switches(template: dict[str, Any], role: str) -> dict[str, str]:
    """Sid -> condition name of the statements a role has only under a condition."""
    switches: dict[str, str] = {}
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        for statement in as_list(policy["PolicyDocument"]["Statement"]):
            if isinstance(statement, dict) and "Fn::If" in statement:
                condition, when_true, _ = statement["Fn::If"]
                switches[when_true["Sid"]] = condition
    return switches


def test_reconcile_deletes_ground_truth_queues_by_name_and_nobody_lists_queues() -> None:
    template = load("labeling.yaml")
    found = role_statements(template, "ReconcileRole")
    assert sorted(found["GroundTruthQueues"]["Action"]) == ["sqs:DeleteQueue", "sqs:GetQueueUrl"]
    assert found["GroundTruthQueues"]["Resource"] == GROUNDTRUTH_QUEUES
    for _, _, statement in all_statements(template):
        assert "sqs:ListQueues" not in as_list(statement["Action"])


def test_intake_may_read_the_output_manifest_it_can_reach_through_the_chaining_decision() -> None:
    found = role_statements(load("labeling.yaml"), "IntakeRole")
    assert found["OutputManifests"]["Resource"] == {"Fn::Sub": "${OutputBucket.Arn}/jobs/*"}
    assert found["OutputList"]["Resource"] == {"Fn::GetAtt": ["OutputBucket", "Arn"]}


def test_every_queue_and_dead_letter_queue_denies_every_sqs_action_without_tls() -> None:
    template = load("labeling.yaml")
    queues = set(resources(template, "AWS::SQS::Queue"))
    assert len(queues) == 8
    covered: set[str] = set()
    for policy in resources(template, "AWS::SQS::QueuePolicy").values():
        (queue,) = policy["Properties"]["Queues"]
        (deny,) = [s for s in statements(policy["Properties"]["PolicyDocument"]) if is_tls_deny(s)]
        assert deny["Action"] == "sqs:*"
        assert deny["Resource"] == {"Fn::GetAtt": [queue["Ref"], "Arn"]}
        covered.add(queue["Ref"])
    assert covered == queues


def test_every_topic_denies_every_topic_action_without_tls() -> None:
    template = load("labeling.yaml")
    for name, policy in resources(template, "AWS::SNS::TopicPolicy").items():
        (deny,) = [s for s in statements(policy["Properties"]["PolicyDocument"]) if is_tls_deny(s)]
        assert set(deny["Action"]) == TOPIC_POLICY_ACTIONS, name


def test_topics_without_a_customer_key_are_not_on_the_aws_managed_sns_key_where_aws_forbids_it() -> None:
    topics = resources(load("labeling.yaml"), "AWS::SNS::Topic")
    no_key = {"Ref": "AWS::NoValue"}
    assert topics["InputTopic"]["Properties"]["KmsMasterKeyId"] == {
        "Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, "alias/aws/sns"]
    }
    for name in ("OutputTopic", "NotificationTopic"):  # Ground Truth / CloudWatch alarms publish here
        assert topics[name]["Properties"]["KmsMasterKeyId"] == {
            "Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, no_key]
        }


def test_max_chain_depth_keeps_job_names_to_five_digits() -> None:
    parameter = load("labeling.yaml")["Parameters"]["MaxChainDepth"]
    assert parameter["MaxValue"] == 99999


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_checkov_skip_is_justified_in_the_resources_metadata(name: str) -> None:
    # `make checkov` runs on cloudformation/ with 0 failed checks; what it skips says why, here.
    for logical, resource in load(name)["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (logical, skip)
            assert len(skip.get("comment", "")) >= 40, f"{name} {logical}: {skip['id']} has no reason"
