"""Names (docs/interfaces.md section 1): the project prefix, ``P-NNNN`` jobs, resource names.

Terraform (``terraform/modules/*/main.tf`` ``local.name`` / ``local.bucket_base``) and
CloudFormation (``cloudformation/*.yaml``) spell the same rules in their own languages; the
tests compare what they create with what these functions return.
"""

from __future__ import annotations

import re

# --- the project prefix -----------------------------------------------------------------------

PREFIX_MAX_LENGTH = 56
PREFIX_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,55}$")
PREFIX_RULE = (
    "1-56 letters, digits and hyphens, starting and ending with a letter or digit "
    "(pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,55}$)"
)


def check_prefix(prefix: str) -> str:
    """``prefix`` when it is a valid project prefix, else a one-line ``ValueError``."""
    if not isinstance(prefix, str) or not PREFIX_PATTERN.match(prefix):
        raise ValueError(f"invalid project prefix {prefix!r}: use {PREFIX_RULE}")
    return prefix


# --- labeling jobs ----------------------------------------------------------------------------
# Ground Truth job names are case-insensitive and its ARNs carry the name in lower case
# (CreateLabelingJob, LabelingJobName: "not case sensitive"); the events we receive name jobs by ARN.

JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # CreateLabelingJob.LabelingJobName


def job_name(prefix: str, index: int) -> str:
    """``P-NNNN``: zero-padded to 4 digits, more digits past 9999, never truncated."""
    return f"{prefix}-{index:04d}"


def job_index(prefix: str, name: str) -> int | None:
    """The chain index of one of this project's job names (any case, as in ARNs); None if not ours."""
    match = re.fullmatch(re.escape(prefix.lower()) + r"-(\d{4,})", name.lower())
    return int(match.group(1)) if match else None


def job_name_from_arn(prefix: str, arn: str) -> str | None:
    """Our job name for a labeling-job ARN (whose name part is lower-case), or None if not ours."""
    if ":labeling-job/" not in arn:
        return None
    index = job_index(prefix, arn.rsplit("/", 1)[-1])
    return None if index is None else job_name(prefix, index)


def job_arn(region: str, account: str, name: str, partition: str = "aws") -> str:
    """The ARN Ground Truth gives the job ``name`` (the name part lower-case)."""
    return f"arn:{partition}:sagemaker:{region}:{account}:labeling-job/{name.lower()}"


def job_arn_prefix(region: str, account: str, prefix: str, partition: str = "aws") -> str:
    """The ARN prefix of every job of the project: what the EventBridge rules match."""
    return f"arn:{partition}:sagemaker:{region}:{account}:labeling-job/{prefix.lower()}-"


# Ground Truth creates one SQS queue per streaming job, named after the job in lower case
# (docs.aws.amazon.com/sagemaker/latest/dg/sms-streaming-how-it-works-sqs.html), and leaves it behind.
GROUNDTRUTH_QUEUE_PREFIX = "GroundTruth-"


def groundtruth_queue_name(job: str) -> str:
    return f"{GROUNDTRUTH_QUEUE_PREFIX}{job.lower()}"


def groundtruth_queue_prefix(prefix: str) -> str:
    """The name prefix of the per-job queues of every job of the project."""
    return f"{GROUNDTRUTH_QUEUE_PREFIX}{prefix.lower()}-"


def job_name_from_groundtruth_queue(prefix: str, queue_name: str) -> str | None:
    """Our job name for one of Ground Truth's per-job queue names, or None if not ours."""
    if not queue_name.startswith(GROUNDTRUTH_QUEUE_PREFIX):
        return None
    index = job_index(prefix, queue_name[len(GROUNDTRUTH_QUEUE_PREFIX) :])
    return None if index is None else job_name(prefix, index)


# --- resource names ---------------------------------------------------------------------------

BUCKET_KINDS = ("drop", "input", "output", "instructions", "artifacts")
TOPIC_KINDS = ("input", "output", "notifications")
QUEUE_KINDS = ("intake", "job_events", "worker_events", "labels")
FUNCTION_KINDS = ("intake", "job_events", "worker_events", "labels", "reconcile")
_TOPIC_SUFFIX = {"input": "gt-input", "output": "gt-output", "notifications": "notifications"}
_RULE_SUFFIX = {"job_events": "job-state", "worker_events": "worker-task", "reconcile": "reconcile"}


def _short(value: str, keep: int, limit: int) -> str:
    """``value``, or past ``limit`` characters its first ``keep`` plus 8 hex of its sha256."""
    if len(value) <= limit:
        return value
    import hashlib  # here: a Lambda reading only names at cold start does not pay for it

    return f"{value[:keep]}-{hashlib.sha256(value.encode()).hexdigest()[:8]}"


def resource_base(prefix: str) -> str:
    """The base of resource names, as Terraform's ``local.name``: the prefix, or past 36
    characters its first 27 plus a hash (``<base>-worker-events-lambda`` fits IAM's 64)."""
    return _short(prefix, 27, 36)


def bucket_name(prefix: str, kind: str, account: str) -> str:
    """``<base>-<account>-<kind>`` as Terraform and CloudFormation: the lower-case prefix, or past
    37 characters its first 28 plus a hash, so that every name fits S3's 63 characters."""
    return f"{_short(prefix.lower(), 28, 37)}-{account}-{kind}"


def topic_name(prefix: str, kind: str) -> str:
    """``<base>-gt-input``, ``<base>-gt-output``, ``<base>-notifications``."""
    return f"{resource_base(prefix)}-{_TOPIC_SUFFIX[kind]}"


def queue_name(prefix: str, kind: str) -> str:
    """``<base>-intake``, ``<base>-job-events``, ``<base>-worker-events``."""
    return f"{resource_base(prefix)}-{kind.replace('_', '-')}"


def dlq_name(prefix: str, kind: str) -> str:
    return f"{queue_name(prefix, kind)}-dlq"


def function_name(prefix: str, kind: str) -> str:
    """The Lambda function of ``kind`` (``FUNCTION_KINDS``): ``<base>-intake`` ..."""
    return f"{resource_base(prefix)}-{kind.replace('_', '-')}"


def lambda_role_name(prefix: str, kind: str) -> str:
    """The execution role of the Lambda function of ``kind``: ``<base>-intake-lambda`` ..."""
    return f"{function_name(prefix, kind)}-lambda"


def rule_name(prefix: str, kind: str) -> str:
    """EventBridge rules: ``<base>-job-state``, ``<base>-worker-task``, ``<base>-reconcile``."""
    return f"{resource_base(prefix)}-{_RULE_SUFFIX[kind]}"


def ledger_table_name(prefix: str) -> str:
    return f"{resource_base(prefix)}-ledger"


def groundtruth_role_name(prefix: str) -> str:
    """The role passed to CreateLabelingJob."""
    return f"{resource_base(prefix)}-groundtruth"


def service_name(prefix: str) -> str:
    """``POWERTOOLS_SERVICE_NAME`` of the project's Lambdas."""
    return f"gt-streaming-{prefix.lower()}"


# --- object locations -------------------------------------------------------------------------

PROJECT_CONFIG_KEY = "config/project.json"


def project_config_uri(instructions_bucket: str) -> str:
    """Where the publisher writes, and the Lambdas read, the project config (section 5)."""
    return f"s3://{instructions_bucket}/{PROJECT_CONFIG_KEY}"


def output_s3_path(output_bucket: str) -> str:
    """``S3OutputPath`` of every job of the project."""
    return f"s3://{output_bucket}/jobs/"


def input_manifest_uri(input_bucket: str, job: str) -> str:
    """The input manifest of a chained job (section 4)."""
    return f"s3://{input_bucket}/manifests/{job}/input.manifest"
