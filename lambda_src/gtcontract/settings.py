"""The Lambda settings (docs/interfaces.md section 3): the environment, parsed once at cold start.

``Settings.from_env`` is the one parser of the Lambda environment: the Lambdas use it at cold
start, ``gtctl`` on the environment of a deployed function, ``gtcontract.deployment`` on the
``lambda_environment`` of a deployment document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gtcontract.names import PREFIX_PATTERN, PREFIX_RULE, output_s3_path

_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$")
_BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_S3_URI_PATTERN = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$")
# An SQS queue URL: <endpoint>/<account id>/<queue name> (CreateQueue QueueName: 1-80 of [A-Za-z0-9_-]).
_QUEUE_URL_PATTERN = re.compile(r"^https?://[^/\s]+/\d{12}/[A-Za-z0-9_-]{1,80}$")
# SQS SendMessage DelaySeconds: 0 to 900 seconds ("Amazon SQS message timers",
# docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-timers.html).
MAX_DELAY_SECONDS = 900
DEFAULT_JOB_CHECK_SECONDS = 60


class SettingsError(ValueError):
    """Raised at cold start when the environment is incomplete or invalid; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid Lambda environment: " + "; ".join(problems))


@dataclass(frozen=True)
class Settings:
    project_prefix: str
    ledger_table: str
    drop_bucket: str
    input_bucket: str
    output_bucket: str
    input_topic_arn: str
    output_topic_arn: str
    notification_topic_arn: str
    project_config_uri: str
    groundtruth_role_arn: str
    job_events_queue_url: str
    quarantine_prefix: str = "quarantine/"
    output_kms_key_id: str | None = None
    max_chain_depth: int = 100
    max_object_failures: int = 3
    max_image_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 100_000_000
    pending_stale_seconds: int = 900
    idle_warn_seconds: int = 8 * 24 * 3600
    job_check_seconds: int = DEFAULT_JOB_CHECK_SECONDS
    # Review stages (docs/interfaces.md "Stages"): the output topic feeding this stage's intake
    # queue, where the labels function sends the objects its review rejects, and how many labeling
    # rounds an object gets before a rejection holds it back.
    upstream_output_topic_arn: str | None = None
    rejected_queue_url: str | None = None
    max_review_rounds: int = 3

    @property
    def output_s3_path(self) -> str:
        return output_s3_path(self.output_bucket)

    @property
    def region(self) -> str:
        return self.input_topic_arn.split(":")[3]

    @property
    def account_id(self) -> str:
        return self.input_topic_arn.split(":")[4]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse and validate; raise one SettingsError naming every missing or invalid variable."""
        problems: list[str] = []

        def required(name: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is required")
            elif pattern is not None and not pattern.match(value):
                problems.append(f"{name}={value!r} is not a valid {what}")
            return value

        def optional(name: str, pattern: re.Pattern[str], what: str) -> str | None:
            value = env.get(name, "").strip()
            if value and not pattern.match(value):
                problems.append(f"{name}={value!r} is not a valid {what}")
            return value or None

        def integer(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not an integer")
                return default
            if value < minimum:
                problems.append(f"{name}={value} must be >= {minimum}")
            elif maximum is not None and value > maximum:
                problems.append(f"{name}={value} must be <= {maximum}")
            return value

        prefix = required("PROJECT_PREFIX", PREFIX_PATTERN, f"project prefix: {PREFIX_RULE}")
        quarantine = env.get("QUARANTINE_PREFIX", "").strip() or "quarantine/"
        if not quarantine.endswith("/"):
            problems.append(f"QUARANTINE_PREFIX={quarantine!r} must end with '/'")
        project_config_uri = required("PROJECT_CONFIG_URI", _S3_URI_PATTERN, "s3:// URI")
        settings = cls(
            project_prefix=prefix,
            ledger_table=required("LEDGER_TABLE"),
            drop_bucket=required("DROP_BUCKET", _BUCKET_PATTERN, "bucket name"),
            input_bucket=required("INPUT_BUCKET", _BUCKET_PATTERN, "bucket name"),
            output_bucket=required("OUTPUT_BUCKET", _BUCKET_PATTERN, "bucket name"),
            input_topic_arn=required("INPUT_TOPIC_ARN", _ARN_PATTERN, "ARN"),
            output_topic_arn=required("OUTPUT_TOPIC_ARN", _ARN_PATTERN, "ARN"),
            notification_topic_arn=required("NOTIFICATION_TOPIC_ARN", _ARN_PATTERN, "ARN"),
            project_config_uri=project_config_uri,
            groundtruth_role_arn=required("GROUNDTRUTH_ROLE_ARN", _ARN_PATTERN, "ARN"),
            job_events_queue_url=required("JOB_EVENTS_QUEUE_URL", _QUEUE_URL_PATTERN, "SQS queue URL"),
            quarantine_prefix=quarantine,
            output_kms_key_id=env.get("OUTPUT_KMS_KEY_ID", "").strip() or None,
            max_chain_depth=integer("MAX_CHAIN_DEPTH", 100, 1),
            max_object_failures=integer("MAX_OBJECT_FAILURES", 3, 1),
            max_image_bytes=integer("MAX_IMAGE_BYTES", 20 * 1024 * 1024, 1),
            max_image_pixels=integer("MAX_IMAGE_PIXELS", 100_000_000, 1),
            pending_stale_seconds=integer("PENDING_STALE_SECONDS", 900, 0),
            idle_warn_seconds=integer("IDLE_WARN_SECONDS", 8 * 24 * 3600, 0),
            job_check_seconds=integer("JOB_CHECK_SECONDS", DEFAULT_JOB_CHECK_SECONDS, 1, MAX_DELAY_SECONDS),
            upstream_output_topic_arn=optional("UPSTREAM_OUTPUT_TOPIC_ARN", _ARN_PATTERN, "ARN"),
            rejected_queue_url=optional("REJECTED_QUEUE_URL", _QUEUE_URL_PATTERN, "SQS queue URL"),
            max_review_rounds=integer("MAX_REVIEW_ROUNDS", 3, 1),
        )
        if problems:
            raise SettingsError(problems)
        return settings


ENV_VARIABLES: tuple[str, ...] = (
    "PROJECT_PREFIX",
    "LEDGER_TABLE",
    "DROP_BUCKET",
    "QUARANTINE_PREFIX",
    "INPUT_BUCKET",
    "OUTPUT_BUCKET",
    "INPUT_TOPIC_ARN",
    "OUTPUT_TOPIC_ARN",
    "NOTIFICATION_TOPIC_ARN",
    "PROJECT_CONFIG_URI",
    "GROUNDTRUTH_ROLE_ARN",
    "JOB_EVENTS_QUEUE_URL",
    "OUTPUT_KMS_KEY_ID",
    "MAX_CHAIN_DEPTH",
    "MAX_OBJECT_FAILURES",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "PENDING_STALE_SECONDS",
    "IDLE_WARN_SECONDS",
    "JOB_CHECK_SECONDS",
    "UPSTREAM_OUTPUT_TOPIC_ARN",
    "REJECTED_QUEUE_URL",
    "MAX_REVIEW_ROUNDS",
)
