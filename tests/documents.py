"""Valid contract documents for tests that need one without deploying anything.

Built from the contract's own naming rules (``gtcontract.names``), so a test that changes one
field starts from a document the parser accepts. Import as ``from tests.documents import ...``.
"""

from __future__ import annotations

from typing import Any

from gtcontract import names
from gtcontract.deployment import DEFAULT_HANDLERS, environment_from_document

ACCOUNT = "123456789012"
TEAM = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/team"


def deployment_document(
    prefix: str = "demo",
    region: str = "us-east-1",
    account: str = ACCOUNT,
    sqs_endpoint: str | None = None,
) -> dict[str, Any]:
    """The deployment document (docs/interfaces.md section 2) of project ``prefix``."""
    sqs = sqs_endpoint or f"https://sqs.{region}.amazonaws.com"
    buckets = {kind: names.bucket_name(prefix, kind, account) for kind in names.BUCKET_KINDS}
    topics = {
        kind: f"arn:aws:sns:{region}:{account}:{names.topic_name(prefix, kind)}" for kind in names.TOPIC_KINDS
    }
    queues = {
        kind: {
            "url": f"{sqs}/{account}/{names.queue_name(prefix, kind)}",
            "arn": f"arn:aws:sqs:{region}:{account}:{names.queue_name(prefix, kind)}",
            "dlq_url": f"{sqs}/{account}/{names.dlq_name(prefix, kind)}",
            "batch_size": 10,
            "max_receive_count": 5 if kind == "job_events" else 3,
        }
        for kind in names.QUEUE_KINDS
    }
    document: dict[str, Any] = {
        "project_prefix": prefix,
        "region": region,
        "account_id": account,
        "ledger_table": names.ledger_table_name(prefix),
        "buckets": buckets,
        "topics": topics,
        "project_config_uri": names.project_config_uri(buckets["instructions"]),
        "groundtruth_role_arn": f"arn:aws:iam::{account}:role/{names.groundtruth_role_name(prefix)}",
        "lambda_roles": {
            kind: f"arn:aws:iam::{account}:role/{names.lambda_role_name(prefix, kind)}"
            for kind in names.FUNCTION_KINDS
        },
        "queues": queues,
        "handlers": dict(DEFAULT_HANDLERS),
    }
    document["lambda_environment"] = {
        **environment_from_document(document),
        "QUARANTINE_PREFIX": "quarantine/",
    }
    return document


def published_config(**changes: Any) -> dict[str, Any]:
    """A published project config (docs/interfaces.md section 5) that the Lambdas accept."""
    config: dict[str, Any] = {
        "schema_version": 1,
        "version": "v1",
        "task_type": "image-classification",
        "label_attribute_name": "category",
        "categories": ["cat", "dog"],
        "task": {"title": "t", "description": "d", "keywords": ["image"]},
        "template_uri": "s3://b/config/v1/template.liquid.html",
        "label_category_config_uri": "s3://b/config/v1/categories.json",
        "workteam_arn": TEAM,
        # workers, time limits, concurrency and the Lambda ARNs: the schema's defaults
        "preprocessing": {"transform": "gtstream.transforms:default", "max_side": 512},
    }
    config.update(changes)
    return config
