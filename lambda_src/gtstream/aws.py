"""Small typed gateways to AWS. The only place (with ledger.py) that talks to boto3.

Clients are created lazily (boto3 is imported on first use, so handler modules import fast) and
honour ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` through boto3's own configuration.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gtcontract.states import ACTIVE_JOB_STATUSES, TERMINAL_JOB_STATUSES


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def object_missing(exc: BaseException) -> bool:
    """S3 said the object is not there (GetObject: NoSuchKey; HeadObject: a bare 404)."""
    return error_code(exc) in ("NoSuchKey", "404", "NotFound")


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


# Retries after a call's first attempt (botocore's standard mode: ``max_attempts`` of its Config).
RETRIES = 5
# Threads the job end writes the ledger with (gtstream.ledger.Ledger.run_parallel); the HTTP pool of
# each client holds as many connections, so no thread waits for one.
POOL_CONNECTIONS = 32
# What the Lambdas call, by service: the clients are created, and these operations' models parsed,
# in the init phase by ``Clients.warm`` (gtstream.handlers.common), not on the first call.
OPERATIONS = {
    "dynamodb": ("GetItem", "PutItem", "UpdateItem", "Query", "TransactWriteItems"),
    "s3": ("GetObject", "PutObject", "CopyObject", "DeleteObject", "HeadObject"),
    "sns": ("Publish", "PublishBatch"),
    "sqs": ("SendMessage",),
    "sagemaker": ("DescribeLabelingJob", "CreateLabelingJob"),
}
SERVICES = tuple(OPERATIONS)


CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def environment_credentials() -> tuple[str, str, str | None] | None:
    """The credentials Lambda puts in the environment of an invocation (the execution role's
    session), or None when there are none (boto3's default chain then decides)."""
    key, secret, token = (os.environ.get(name) for name in CREDENTIAL_VARIABLES)
    if not key or not secret:
        return None
    return key, secret, token


def _walk(shape: Any, seen: set[str]) -> None:
    """Touch every member of a botocore shape: botocore builds (and caches) them on first use."""
    if shape is None or shape.name in seen:
        return
    seen.add(shape.name)
    for child in getattr(shape, "members", {}).values():
        _walk(child, seen)
    for attribute in ("member", "key", "value"):
        _walk(getattr(shape, attribute, None), seen)


# The events botocore emits for each API call, by the name's first part (botocore/client.py,
# endpoint.py, signers.py, retryhandler.py): each full name is resolved on its first emission.
CALL_EVENTS = (
    "provide-client-params",
    "before-parameter-build",
    "before-call",
    "request-created",
    "choose-signer",
    "before-sign",
    "before-send",
    "before-parse",
    "response-received",
    "needs-retry",
    "after-call",
)


def _resolve_events(client: Any, operations: Iterable[str]) -> None:
    """Resolve the events of `operations` now: botocore maps each event name through its alias
    table and looks up its handlers on the name's first emission (~0.1 ms each, 11 names per
    operation), then caches both. These caches are botocore's internals: when a botocore release
    renames them, this does nothing and the first call resolves its names as before."""
    events = client.meta.events
    alias = getattr(events, "_alias_event_name", None)
    emitter = getattr(events, "_emitter", None)
    cache = getattr(emitter, "_lookup_cache", None)
    lookup = getattr(getattr(emitter, "_handlers", None), "prefix_search", None)
    if alias is None or not isinstance(cache, dict) or lookup is None:
        return
    service = client.meta.service_model.service_id.hyphenize()
    for operation in operations:
        for event in CALL_EVENTS:
            name = alias(f"{event}.{service}.{operation}")
            if name not in cache:
                cache[name] = lookup(name)


class Clients:
    """Lazily created, shared boto3 clients (thread-safe creation), **one set per credentials**.

    The clients of one session are reused while the environment holds the same credentials; other
    credentials (another function's role, a refreshed session) get clients of their own, so no
    function ever calls AWS with another's credentials. One boto3 session is shared (its service
    models are loaded once); the credentials are given to each client. boto3 clients are
    thread-safe, resources are not: the ledger uses the low-level client."""

    def __init__(self, region: str | None = None) -> None:
        self._region = region
        self._clients: dict[tuple[str, tuple[str, str, str | None] | None], Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None
        self._loader: Any = None  # botocore's model loader (models as data: safe to keep in a child)
        _every_clients.add(self)

    def _forget(self) -> None:
        """Drop every client and the session (a forked child: see ``_after_fork_in_child``); keep the
        models already loaded."""
        self._clients = {}
        self._lock = threading.Lock()
        self._session = None

    def _boto3_session(self) -> Any:
        if self._session is None:
            import boto3
            import botocore.session

            core = botocore.session.Session()
            if self._loader is None:
                self._loader = core.get_component("data_loader")
            else:
                core.register_component("data_loader", self._loader)
            self._session = boto3.session.Session(botocore_session=core, region_name=self._region)
        return self._session

    @staticmethod
    def _credential_kwargs(credentials: tuple[str, str, str | None] | None) -> dict[str, Any]:
        if credentials is None:
            return {}
        key, secret, token = credentials
        return {"aws_access_key_id": key, "aws_secret_access_key": secret, "aws_session_token": token}

    @staticmethod
    def _config() -> Any:
        """botocore's standard retry mode (throttling and transient errors, a retry quota; "Retry
        behavior", https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html) and a
        connection per job-end thread."""
        from botocore.config import Config

        return Config(
            retries={"mode": "standard", "max_attempts": RETRIES}, max_pool_connections=POOL_CONNECTIONS
        )

    def client(self, service: str) -> Any:
        cache_key = (service, environment_credentials())
        found = self._clients.get(cache_key)
        if found is not None:
            return found
        with self._lock:
            if cache_key not in self._clients:
                made = self._boto3_session().client(
                    service, config=self._config(), **self._credential_kwargs(cache_key[1])
                )
                if service == "sns":
                    retry_sns_throttled(made)
                self._clients[cache_key] = made
            return self._clients[cache_key]

    def warm(self, services: Iterable[str] = SERVICES) -> None:
        """Create the clients and parse their operations' models now (a Lambda's init phase)
        rather than on the first call."""
        for service in services:
            model = self.client(service).meta.service_model
            # botocore maps an error code to its shape through a table of every error shape of the
            # service, built on the first error answer (e.g. the first duplicate's failed condition)
            model.shape_for_error_code("")
            _resolve_events(self.client(service), OPERATIONS.get(service, ()))
            for operation in OPERATIONS.get(service, ()):
                op = model.operation_model(operation)
                seen: set[str] = set()
                _walk(op.input_shape, seen)
                _walk(op.output_shape, seen)
                for error in op.error_shapes:
                    _walk(error, seen)

    def created(self) -> dict[str, Any]:
        """The clients created so far for the current credentials, by service (benchmarks and
        tests count their calls)."""
        credentials = environment_credentials()
        with self._lock:
            return {
                service: client for (service, owner), client in self._clients.items() if owner == credentials
            }


def retry_sns_throttled(client: Any) -> None:
    """Retry SNS's ``Throttled`` (HTTP 429) in standard mode whatever the botocore version.

    SNS answers a throttled Publish or PublishBatch ``Throttled`` (ThrottledException, 429: "the
    rate at which requests have been submitted for this action exceeds the limit for your Amazon
    Web Services account", Errors of https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html).
    botocore's standard mode retries it only where it retries a 429 its operation does not model
    (``ThrottlingStatusCodeChecker``: in botocore 1.44, not in 1.40); elsewhere - e.g. the older
    boto3 a Lambda runtime may ship - not at all: ``Throttled`` is not in its list of throttling
    codes and the model gives the error no ``retryable`` trait. This registers one more of
    botocore's own retry handlers on the client: its ``ThrottledRetryableChecker`` for that code,
    within the same attempts, with its backoff and a retry quota. botocore calls every
    ``needs-retry`` handler and takes the first delay: where it retries the error already, its own
    handler's delay is taken and nothing changes."""
    from botocore.retries import quota, standard

    class ThrottledWithinAttempts(standard.BaseRetryableChecker):
        def __init__(self) -> None:
            self._throttled = standard.ThrottledRetryableChecker(["Throttled"])
            self._attempts = standard.MaxAttemptsChecker(RETRIES + 1)

        def is_retryable(self, context: Any) -> bool:
            return bool(self._throttled.is_retryable(context) and self._attempts.is_retryable(context))

    policy = standard.RetryPolicy(
        retry_checker=ThrottledWithinAttempts(), retry_backoff=standard.ExponentialBackoff()
    )
    retry_quota = standard.RetryQuotaChecker(quota.RetryQuota())
    handler = standard.RetryHandler(
        retry_policy=policy,
        retry_event_adapter=standard.RetryEventAdapter(),
        # a RetryQuotaChecker, as botocore's register_retry_handler passes (its stubs say RetryQuota)
        retry_quota=retry_quota,  # type: ignore[arg-type]
    )
    client.meta.events.register("after-call.sns", retry_quota.release_retry_quota)
    client.meta.events.register("needs-retry.sns", handler.needs_retry, unique_id="gtstream-sns-throttled")


_every_clients: weakref.WeakSet[Clients] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child makes its own clients: the parent's pooled connections are not shared across
    processes (two processes on one socket read each other's answers), and a lock another thread
    held at the fork would never be released in the child."""
    for clients in list(_every_clients):
        clients._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)


class ObjectStore:
    """S3."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    @property
    def _s3(self) -> Any:
        return self._clients.client("s3")

    def get_bytes(self, bucket: str, key: str, max_bytes: int | None = None) -> bytes | None:
        """The object's bytes, or None when it does not exist. Reads at most max_bytes + 1 bytes."""
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if object_missing(exc):
                return None
            raise
        body = response["Body"]
        try:
            data: bytes = body.read() if max_bytes is None else body.read(max_bytes + 1)
        finally:
            body.close()
        return data

    def size(self, bucket: str, key: str) -> int | None:
        try:
            return int(self._s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except Exception as exc:
            if object_missing(exc):
                return None
            raise

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        self._s3.put_object(
            Bucket=bucket, Key=key, Body=data, ContentType=content_type, Metadata=metadata or {}
        )

    def put_bytes_if_absent(
        self, bucket: str, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
    ) -> bool:
        """PutObject unless the key exists (``If-None-Match: *``); False when it already does.

        S3 answers 412 PreconditionFailed when the key exists ("Add preconditions to S3 operations
        with conditional requests", docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
        Its 409 ConditionalRequestConflict (a concurrent write to the key) raises: that write may
        still fail, so the caller's retry decides."""
        try:
            self._s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                Metadata=metadata or {},
                IfNoneMatch="*",
            )
        except Exception as exc:
            if error_code(exc) in ("PreconditionFailed", "412"):
                return False
            raise
        return True

    def copy(self, bucket: str, key: str, dst_bucket: str, dst_key: str, metadata: dict[str, str]) -> None:
        self._s3.copy_object(
            Bucket=dst_bucket,
            Key=dst_key,
            CopySource={"Bucket": bucket, "Key": key},
            Metadata=metadata,
            MetadataDirective="REPLACE",
        )

    def delete(self, bucket: str, key: str) -> None:
        self._s3.delete_object(Bucket=bucket, Key=key)

    def iter_lines(self, uri: str) -> Iterator[bytes] | None:
        """Stream an object line by line (never loaded whole); None when it does not exist."""
        bucket, key = split_s3_uri(uri)
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if object_missing(exc):
                return None
            raise
        body = response["Body"]

        def lines() -> Iterator[bytes]:
            try:
                for line in body.iter_lines(chunk_size=64 * 1024):
                    if line.strip():
                        yield line
            finally:
                body.close()

        return lines()

    def get_json(self, uri: str) -> Any | None:
        bucket, key = split_s3_uri(uri)
        data = self.get_bytes(bucket, key)
        return None if data is None else json.loads(data)

    def put_lines(self, uri: str, lines: Iterable[str]) -> int:
        """Write lines through a temporary file (bounded memory), return how many were written."""
        bucket, key = split_s3_uri(uri)
        count = 0
        with tempfile.TemporaryFile() as spool:
            for line in lines:
                spool.write(line.encode("utf-8") + b"\n")
                count += 1
            spool.seek(0)
            self._s3.upload_fileobj(spool, bucket, key)
        return count

    def list_keys(self, bucket: str, prefix: str = "") -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield str(item["Key"])


class Topics:
    """SNS."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def publish_batch(self, topic_arn: str, messages: Sequence[str]) -> list[int]:
        """Publish in batches of 10 (PublishBatch); return the indexes that were not sent.

        Only an entry listed under ``Successful`` counts as sent: PublishBatch answers each entry
        in ``Successful`` or ``Failed`` (API_PublishBatch), so an entry in neither is not known to
        be sent and is reported failed with the ``Failed`` ones (the caller keeps it PENDING)."""
        sns = self._clients.client("sns")
        failed: list[int] = []
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [{"Id": str(start + i), "Message": m} for i, m in enumerate(chunk)]
            try:
                response = sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
            except Exception:
                failed.extend(range(start, start + len(chunk)))
                continue
            succeeded = {str(entry.get("Id")) for entry in response.get("Successful", [])}
            failed.extend(start + i for i in range(len(chunk)) if str(start + i) not in succeeded)
        return failed

    def publish(self, topic_arn: str, subject: str, message: str) -> None:
        self._clients.client("sns").publish(TopicArn=topic_arn, Subject=subject[:100], Message=message)


@dataclass(frozen=True)
class JobDescription:
    name: str
    status: str
    label_attribute_name: str
    output_manifest_uri: str | None
    output_s3_path: str
    failure_reason: str | None
    counters: dict[str, int]
    creation_time: datetime | None
    arn: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_JOB_STATUSES

    def expected_output_manifest_uri(self) -> str:
        """Where Ground Truth writes the output manifest, even before it says so."""
        if self.output_manifest_uri:
            return self.output_manifest_uri
        base = self.output_s3_path if self.output_s3_path.endswith("/") else self.output_s3_path + "/"
        return f"{base}{self.name}/manifests/output/output.manifest"


class LabelingJobs:
    """SageMaker labeling-job operations."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def describe(self, name: str) -> JobDescription | None:
        try:
            raw = self._clients.client("sagemaker").describe_labeling_job(LabelingJobName=name)
        except Exception as exc:
            if error_code(exc) in ("ResourceNotFound", "ValidationException"):
                return None
            raise
        output = raw.get("LabelingJobOutput") or {}
        return JobDescription(
            name=raw["LabelingJobName"],
            status=raw["LabelingJobStatus"],
            label_attribute_name=raw.get("LabelAttributeName", ""),
            output_manifest_uri=output.get("OutputDatasetS3Uri"),
            output_s3_path=raw.get("OutputConfig", {}).get("S3OutputPath", ""),
            failure_reason=raw.get("FailureReason"),
            counters={k: int(v) for k, v in (raw.get("LabelCounters") or {}).items()},
            creation_time=raw.get("CreationTime"),
            arn=raw.get("LabelingJobArn", ""),
            raw=raw,
        )

    def create(self, request: dict[str, Any]) -> bool:
        """Create the job; False when a job of that name already exists (ResourceInUse)."""
        try:
            self._clients.client("sagemaker").create_labeling_job(**request)
        except Exception as exc:
            if error_code(exc) == "ResourceInUse":
                return False
            raise
        return True

    def stop(self, name: str) -> None:
        self._clients.client("sagemaker").stop_labeling_job(LabelingJobName=name)


class Queues:
    """SQS: the delayed job checks on the job-events queue; the ``GroundTruth-<job>`` queues Ground
    Truth leaves behind, addressed by name."""

    # GetQueueUrl/DeleteQueue of a queue that does not exist: the JSON protocol's code and the
    # query-compatible one botocore reports for it.
    MISSING = frozenset({"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"})

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def send(self, url: str, body: str, delay_seconds: int = 0) -> str:
        """SendMessage with a per-message timer (DelaySeconds 0-900: "Amazon SQS message timers",
        docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-timers.html);
        returns the MessageId."""
        response = self._clients.client("sqs").send_message(
            QueueUrl=url, MessageBody=body, DelaySeconds=delay_seconds
        )
        return str(response["MessageId"])

    def delete_queue_named(self, name: str) -> bool:
        """GetQueueUrl then DeleteQueue; False when no queue has that name (never created, or gone)."""
        sqs = self._clients.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.delete_queue(QueueUrl=url)
        except Exception as exc:
            if error_code(exc) in self.MISSING:
                return False
            raise
        return True


class Notifier:
    """Human notifications (SNS topic, e.g. e-mail). Each message is JSON with a stable `event` field."""

    def __init__(self, topics: Topics, topic_arn: str, project: str) -> None:
        self._topics = topics
        self._topic_arn = topic_arn
        self._project = project

    def notify(self, event: str, summary: str, **details: Any) -> None:
        message = json.dumps(
            {"project": self._project, "event": event, "summary": summary, **details}, default=str
        )
        self._topics.publish(self._topic_arn, f"[{self._project}] {summary}", message)


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: str, value: float) -> None: ...


class NullMetrics:
    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def add_metric(self, name: str, unit: str, value: float) -> None:
        self.values[name] = self.values.get(name, 0) + value
