"""Print the deployment document (docs/interfaces.md section 2) of a deployed labeling stack.

    python cloudformation/deployment_document.py --stack-name cats-labeling > deployment.json

The values come from the stack outputs of cloudformation/labeling.yaml; ``lambda_environment``
is the Environment of the deployed intake function (all five functions share it), so the
document describes what actually runs. The document goes through the contract's one parser
(``gtcontract.deployment``), so a stack whose outputs drifted from docs/interfaces.md section 2
is named here, problem by problem. boto3 honours AWS_ENDPOINT_URL, so the same command works
against the local cloud. Run it where the project is installed (``make install``: ``.venv``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import boto3

from gtcontract.deployment import Deployment, DeploymentError

QUEUES = {"intake": "Intake", "job_events": "JobEvents", "worker_events": "WorkerEvents", "labels": "Labels"}
HANDLERS = {
    "intake": "Intake",
    "job_events": "JobEvents",
    "worker_events": "WorkerEvents",
    "labels": "Labels",
    "reconcile": "Reconcile",
}


class StackError(RuntimeError):
    """The stack is missing, not in a complete state, or not a labeling stack."""


def document_from_outputs(outputs: dict[str, str], lambda_environment: dict[str, str]) -> dict[str, Any]:
    """Assemble the deployment document from the labeling stack's outputs and validate it."""
    missing = [k for k in ("ProjectPrefix", "LedgerTableName", "IntakeQueueUrl") if k not in outputs]
    if missing:
        raise StackError(
            f"not a labeling stack (cloudformation/labeling.yaml): no output {', '.join(missing)}"
        )
    document = {
        "project_prefix": outputs["ProjectPrefix"],
        "region": outputs["Region"],
        "account_id": outputs["AccountId"],
        "ledger_table": outputs["LedgerTableName"],
        "buckets": {
            "drop": outputs["DropBucketName"],
            "input": outputs["InputBucketName"],
            "output": outputs["OutputBucketName"],
            "instructions": outputs["InstructionBucketName"],
            "artifacts": outputs["ArtifactBucketName"],
        },
        "topics": {
            "input": outputs["InputTopicArn"],
            "output": outputs["OutputTopicArn"],
            "notifications": outputs["NotificationTopicArn"],
        },
        "project_config_uri": outputs["ProjectConfigUri"],
        "groundtruth_role_arn": outputs["GroundTruthRoleArn"],
        "lambda_roles": {key: outputs[f"{name}RoleArn"] for key, name in HANDLERS.items()},
        "queues": {
            key: {
                "url": outputs[f"{name}QueueUrl"],
                "arn": outputs[f"{name}QueueArn"],
                "dlq_url": outputs[f"{name}DlqUrl"],
                "batch_size": int(outputs[f"{name}BatchSize"]),
                "max_receive_count": int(outputs[f"{name}MaxReceiveCount"]),
            }
            for key, name in QUEUES.items()
        },
        "handlers": {key: outputs[f"{name}Handler"] for key, name in HANDLERS.items()},
        "lambda_environment": {k: str(v) for k, v in lambda_environment.items()},
        # Review stages (docs/interfaces.md "Stages"): what the deployed functions were given.
        "stage": {
            "upstream_output_topic_arn": lambda_environment.get("UPSTREAM_OUTPUT_TOPIC_ARN") or None,
            "rejected_queue_url": lambda_environment.get("REJECTED_QUEUE_URL") or None,
        },
    }
    try:
        return Deployment.from_document(document, f"stack of project {outputs['ProjectPrefix']}").document
    except DeploymentError as exc:
        raise StackError(str(exc)) from None


def stack_deployment_document(stack_name: str, region: str | None = None) -> dict[str, Any]:
    """Read a deployed labeling stack and return its deployment document."""
    session = boto3.session.Session(region_name=region)
    cfn = session.client("cloudformation")
    try:
        (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except cfn.exceptions.ClientError as exc:
        raise StackError(f"cannot read stack {stack_name!r}: {exc}") from exc
    status = stack["StackStatus"]
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
        raise StackError(f"stack {stack_name!r} is {status}, not complete")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if "IntakeFunctionName" not in outputs:
        raise StackError(f"stack {stack_name!r} is not a labeling stack: no output IntakeFunctionName")
    function = session.client("lambda").get_function_configuration(FunctionName=outputs["IntakeFunctionName"])
    return document_from_outputs(outputs, function.get("Environment", {}).get("Variables", {}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack-name", required=True, help="name of the deployed labeling stack")
    parser.add_argument("--region", default=None, help="AWS region (default: the SDK's)")
    args = parser.parse_args(argv)
    try:
        document = stack_deployment_document(args.stack_name, args.region)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    json.dump(document, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
