"""cloudformation/deployment_document.py: the document from stack outputs, through the contract's parser."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from tests.documents import deployment_document

ROOT = Path(__file__).resolve().parents[3]


def load() -> ModuleType:
    name = "cfn_unit_deployment_document"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "cloudformation" / "deployment_document.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def outputs_of(doc: dict[str, object]) -> dict[str, str]:
    """The labeling stack's outputs (all strings, as CloudFormation returns them) for ``doc``."""
    names = {
        "intake": "Intake",
        "job_events": "JobEvents",
        "worker_events": "WorkerEvents",
        "labels": "Labels",
        "reconcile": "Reconcile",
    }
    buckets, topics, queues, handlers = (doc[k] for k in ("buckets", "topics", "queues", "handlers"))
    assert isinstance(buckets, dict) and isinstance(topics, dict) and isinstance(queues, dict)
    assert isinstance(handlers, dict)
    outputs = {
        "ProjectPrefix": doc["project_prefix"],
        "Region": doc["region"],
        "AccountId": doc["account_id"],
        "LedgerTableName": doc["ledger_table"],
        "DropBucketName": buckets["drop"],
        "InputBucketName": buckets["input"],
        "OutputBucketName": buckets["output"],
        "InstructionBucketName": buckets["instructions"],
        "ArtifactBucketName": buckets["artifacts"],
        "InputTopicArn": topics["input"],
        "OutputTopicArn": topics["output"],
        "NotificationTopicArn": topics["notifications"],
        "ProjectConfigUri": doc["project_config_uri"],
        "GroundTruthRoleArn": doc["groundtruth_role_arn"],
    }
    for kind, queue in queues.items():
        name = names[kind]
        outputs.update(
            {
                f"{name}QueueUrl": queue["url"],
                f"{name}QueueArn": queue["arn"],
                f"{name}DlqUrl": queue["dlq_url"],
                f"{name}BatchSize": str(queue["batch_size"]),
                f"{name}MaxReceiveCount": str(queue["max_receive_count"]),
            }
        )
    outputs.update({f"{names[kind]}Handler": handler for kind, handler in handlers.items()})
    roles = doc["lambda_roles"]
    assert isinstance(roles, dict)
    outputs.update({f"{names[kind]}RoleArn": arn for kind, arn in roles.items()})
    return {k: str(v) for k, v in outputs.items()}


FIRST_STAGE = {"upstream_output_topic_arn": None, "rejected_queue_url": None}


def test_stack_outputs_give_the_contracts_document() -> None:
    doc = deployment_document("cats")
    assert load().document_from_outputs(outputs_of(doc), dict(doc["lambda_environment"])) == {
        **doc,
        "stage": FIRST_STAGE,
    }


def test_a_review_stage_names_its_upstream_topic_and_rejected_queue_as_its_functions_have_them() -> None:
    first, doc = deployment_document("cats"), deployment_document("cats-verify")
    stage = {
        "upstream_output_topic_arn": first["topics"]["output"],
        "rejected_queue_url": first["queues"]["intake"]["url"],
    }
    environment = {
        **doc["lambda_environment"],
        "UPSTREAM_OUTPUT_TOPIC_ARN": stage["upstream_output_topic_arn"],
        "REJECTED_QUEUE_URL": stage["rejected_queue_url"],
    }
    document = load().document_from_outputs(outputs_of(doc), environment)
    assert document["stage"] == stage and document["lambda_environment"] == environment


def test_a_stack_that_drifted_from_the_contract_is_named_field_by_field() -> None:
    doc = deployment_document("cats")
    outputs = outputs_of(doc) | {"IntakeBatchSize": "0", "GroundTruthRoleArn": "cats-groundtruth"}
    module = load()
    with pytest.raises(module.StackError) as caught:
        module.document_from_outputs(outputs, dict(doc["lambda_environment"]))
    message = str(caught.value)
    assert "queues.intake.batch_size: 0 is below the minimum 1" in message
    assert 'groundtruth_role_arn: "cats-groundtruth": use an IAM role ARN' in message
    assert "\n" not in message
    # Outputs that disagree with what the deployed function runs with are named too.
    with pytest.raises(module.StackError, match=r"lambda_environment\.LEDGER_TABLE: 'cats-ledger' differs"):
        module.document_from_outputs(
            outputs_of(doc) | {"LedgerTableName": "cats-other"}, dict(doc["lambda_environment"])
        )
