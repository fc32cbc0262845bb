"""Deploy one project's resources through boto3 and return the deployment document.

This is the SDK deployment used where terraform is absent (behaviour tests, the demo): the same
resources and the same deployment document (docs/interfaces.md section 2) as the Terraform
module, created against whatever ``AWS_ENDPOINT_URL`` points at. Names are Terraform's and
CloudFormation's: buckets ``<P>-<account>-<kind>``, topics ``<P>-gt-input``, ``<P>-gt-output``,
``<P>-notifications``, queues ``<P>-intake``/``<P>-job-events``/``<P>-worker-events`` (each with
``-dlq``), table ``<P>-ledger``, rules ``<P>-job-state``/``<P>-worker-task``, role
``<P>-groundtruth`` (long prefixes shortened with a hash as the Terraform module does).

    gtlocal deploy --prefix demo --output build/deployment.json [--publish-config]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from gtstream.ledger import table_definition

STATE_CHANGE = "SageMaker Ground Truth Labeling Job State Change"
TASK_CHANGE = "SageMaker Ground Truth Labeling Job Task Status Change"
TEST_TEMPLATE = (
    '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n<crowd-form>'
    '<crowd-image-classifier name="crowd-image-classifier" '
    'src="{{ task.input.taskObject | grant_read_access }}" '
    'categories="{{ task.input.labels | to_json | escape }}" header="Classify the image">'
    "</crowd-image-classifier></crowd-form>\n"
)
BUCKET_KINDS = ("drop", "input", "output", "instructions", "artifacts")
QUEUES = {  # name -> (batch size, max receive count)
    "intake": (10, 3),
    "job_events": (10, 5),
    "worker_events": (10, 3),
}
HANDLERS = {
    "intake": "gtstream.handlers.intake.handler",
    "job_events": "gtstream.handlers.job_events.handler",
    "worker_events": "gtstream.handlers.worker_events.handler",
    "reconcile": "gtstream.handlers.reconcile.handler",
}


def _short(value: str, keep: int, limit: int) -> str:
    """``value``, or past ``limit`` characters its first ``keep`` plus 8 hex of its sha256."""
    if len(value) <= limit:
        return value
    return f"{value[:keep]}-{hashlib.sha256(value.encode()).hexdigest()[:8]}"


def resource_base(prefix: str) -> str:
    """The base of resource names, as Terraform's ``local.name``: the prefix, or past 36
    characters its first 27 plus a hash (``<base>-worker-events-lambda`` fits IAM's 64)."""
    return _short(prefix, 27, 36)


def bucket_name(prefix: str, kind: str, account: str) -> str:
    """``<base>-<account>-<kind>`` as Terraform and CloudFormation: the lower-case prefix, or past
    37 characters its first 28 plus a hash, so that every name fits S3's 63 characters."""
    return f"{_short(prefix.lower(), 28, 37)}-{account}-{kind}"


def deploy_project(
    prefix: str,
    *,
    region: str | None = None,
    visibility_timeout: int = 60,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Create (idempotently) every resource of one project; return the deployment document."""
    import boto3

    from gtstream.config import PREFIX_PATTERN

    if not PREFIX_PATTERN.match(prefix):
        raise ValueError(f"project prefix {prefix!r} must match ^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,55}}$")
    session = boto3.session.Session(region_name=region)
    region = session.region_name or "us-east-1"
    account = session.client("sts").get_caller_identity()["Account"]
    s3, sns, sqs = session.client("s3"), session.client("sns"), session.client("sqs")
    events, dynamodb, iam = session.client("events"), session.client("dynamodb"), session.client("iam")
    low = prefix.lower()
    base = resource_base(prefix)

    buckets = {kind: bucket_name(prefix, kind, account) for kind in BUCKET_KINDS}
    for name in buckets.values():
        kwargs: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(**kwargs)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    s3.put_bucket_cors(  # Ground Truth's worker UI reads input images from the browser
        Bucket=buckets["input"],
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["GET"],
                    "AllowedOrigins": ["*"],
                    "AllowedHeaders": [],
                    "ExposeHeaders": ["Access-Control-Allow-Origin"],
                }
            ]
        },
    )

    topics = {
        kind: sns.create_topic(Name=f"{base}-{topic}")["TopicArn"]
        for kind, topic in (
            ("input", "gt-input"),
            ("output", "gt-output"),
            ("notifications", "notifications"),
        )
    }

    queues: dict[str, dict[str, Any]] = {}
    for kind, (batch_size, max_receive) in QUEUES.items():
        dash = kind.replace("_", "-")
        dlq_url = sqs.create_queue(
            QueueName=f"{base}-{dash}-dlq", Attributes={"MessageRetentionPeriod": "1209600"}
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        url = sqs.create_queue(
            QueueName=f"{base}-{dash}",
            Attributes={
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}
                ),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queues[kind] = {
            "url": url,
            "arn": arn,
            "dlq_url": dlq_url,
            "batch_size": batch_size,
            "max_receive_count": max_receive,
        }

    # S3 -> intake queue, EventBridge -> job/worker event queues: allow exactly those senders.
    sources = {
        "intake": ("s3.amazonaws.com", f"arn:aws:s3:::{buckets['drop']}"),
        "job_events": ("events.amazonaws.com", f"arn:aws:events:{region}:{account}:rule/{base}-job-state"),
        "worker_events": (
            "events.amazonaws.com",
            f"arn:aws:events:{region}:{account}:rule/{base}-worker-task",
        ),
    }
    for kind, (service, source_arn) in sources.items():
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sqs:SendMessage",
                    "Resource": queues[kind]["arn"],
                    "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=queues[kind]["url"], Attributes={"Policy": json.dumps(policy)})

    s3.put_bucket_notification_configuration(
        Bucket=buckets["drop"],
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queues["intake"]["arn"], "Events": ["s3:ObjectCreated:*"]}]
        },
    )

    table = f"{base}-ledger"
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
        dynamodb.create_table(**table_definition(table))

    job_arn_prefix = f"arn:aws:sagemaker:{region}:{account}:labeling-job/{low}-"
    rules = {
        "job_events": (
            f"{base}-job-state",
            {
                "source": ["aws.sagemaker"],
                "detail-type": [STATE_CHANGE],
                "resources": [{"prefix": job_arn_prefix}],
            },
        ),
        "worker_events": (
            f"{base}-worker-task",
            {
                "source": ["aws.sagemaker"],
                "detail-type": [TASK_CHANGE],
                "detail": {"labeling-job-arn": [{"prefix": job_arn_prefix}]},
            },
        ),
    }
    for kind, (rule, pattern) in rules.items():
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queues[kind]["arn"]}])

    role_name = f"{base}-groundtruth"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    except iam.exceptions.EntityAlreadyExistsException:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]

    config_uri = f"s3://{buckets['instructions']}/config/project.json"
    lambda_environment = {
        "PROJECT_PREFIX": prefix,
        "LEDGER_TABLE": table,
        "DROP_BUCKET": buckets["drop"],
        "QUARANTINE_PREFIX": "quarantine/",
        "INPUT_BUCKET": buckets["input"],
        "OUTPUT_BUCKET": buckets["output"],
        "INPUT_TOPIC_ARN": topics["input"],
        "OUTPUT_TOPIC_ARN": topics["output"],
        "NOTIFICATION_TOPIC_ARN": topics["notifications"],
        "PROJECT_CONFIG_URI": config_uri,
        "GROUNDTRUTH_ROLE_ARN": role_arn,
        "POWERTOOLS_SERVICE_NAME": f"gt-streaming-{low}",
        "POWERTOOLS_METRICS_NAMESPACE": "GroundTruthStreaming",
        **(environment or {}),
    }
    return {
        "project_prefix": prefix,
        "region": region,
        "account_id": account,
        "ledger_table": table,
        "buckets": buckets,
        "topics": topics,
        "project_config_uri": config_uri,
        "groundtruth_role_arn": role_arn,
        "queues": queues,
        "handlers": dict(HANDLERS),
        "lambda_environment": lambda_environment,
    }


def publish_project_config(deployment: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Publish a test project config (docs/interfaces.md section 5) with its categories and template."""
    import boto3

    bucket = deployment["buckets"]["instructions"]
    region, account = deployment["region"], deployment["account_id"]
    version = str(overrides.pop("version", "test-1"))
    categories = list(overrides.pop("categories", ["cat", "dog", "bird"]))
    s3 = boto3.session.Session(region_name=region).client("s3")
    s3.put_object(
        Bucket=bucket,
        Key=f"config/{version}/categories.json",
        Body=json.dumps(
            {"document-version": "2018-11-28", "labels": [{"label": c} for c in categories]}
        ).encode(),
    )
    s3.put_object(
        Bucket=bucket,
        Key=f"config/{version}/template.liquid.html",
        Body=TEST_TEMPLATE.encode(),
    )
    config: dict[str, Any] = {
        "schema_version": 1,
        "version": version,
        "task_type": "image-classification",
        "label_attribute_name": "category",
        "categories": categories,
        "task": {"title": "Classify the animal", "description": "Pick the animal", "keywords": ["image"]},
        "template_uri": f"s3://{bucket}/config/{version}/template.liquid.html",
        "label_category_config_uri": f"s3://{bucket}/config/{version}/categories.json",
        "instructions_url": f"https://{bucket}.s3.{region}.amazonaws.com/public/{version}/instructions.html",
        "workteam_arn": f"arn:aws:sagemaker:{region}:{account}:workteam/private-crowd/test-team",
        "workers_per_object": 1,
        "task_time_limit_seconds": 300,
        "task_availability_lifetime_seconds": 864000,
        "max_concurrent_task_count": 1000,
        "pre_human_task_lambda_arn": None,
        "annotation_consolidation_lambda_arn": None,
        "preprocessing": {
            "transform": "gtstream.transforms:default",
            "max_side": 1024,
            "format": "JPEG",
            "quality": 90,
        },
    }
    config.update(overrides)
    config_bucket, key = deployment["project_config_uri"][5:].split("/", 1)
    s3.put_object(Bucket=config_bucket, Key=key, Body=json.dumps(config, indent=2).encode())
    return config


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deploy", help="create one project's resources through boto3 and write the deployment document"
    )
    parser.add_argument("--prefix", required=True, help="project prefix P (job names are P-NNNN)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--output", type=Path, default=None, help="write the document here (default: stdout)")
    parser.add_argument("--publish-config", action="store_true", help="also publish a test project config")
    parser.set_defaults(func=cmd_deploy)


def cmd_deploy(args: argparse.Namespace) -> int:
    try:
        deployment = deploy_project(args.prefix, region=args.region)
    except ValueError as exc:
        print(f"gtlocal deploy: {exc}", file=sys.stderr)
        return 2
    if args.publish_config:
        publish_project_config(deployment)
    text = json.dumps(deployment, indent=2)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
        print(f"deployment of {args.prefix} written to {args.output}")
    else:
        print(text)
    return 0
