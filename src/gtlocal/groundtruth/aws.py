"""Every AWS call the emulator makes, through boto3 against ``aws_endpoint`` (its own URL by default).

- ``JobAws``: the calls Ground Truth makes **for a job, as the job's role** (``RoleArn``): read the
  input manifest and the label categories, create and subscribe the ``GroundTruth-*`` queue,
  read it, write the output, publish to the output topic. ``AwsClients.for_job`` is the one seam
  that makes them; it is the place to assume the job's role (as ``sagemaker.amazonaws.com``)
  once the local cloud enforces IAM. A refusal (``AccessDenied``, ``AccessDeniedException``,
  SNS ``AuthorizationError``, a bare S3 403) raises ``JobAccessDenied``, whose ``reason`` names
  the action and the resource: the backend fails the job with it, as Ground Truth reports a
  permission error.
- ``ServiceAws``: the calls Ground Truth makes as the service: events on the default bus and the
  input-topic check of ``CreateLabelingJob``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError"})
T = TypeVar("T")


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def s3_resource(uri: str) -> str:
    bucket, key = split_s3(uri)
    return f"arn:aws:s3:::{bucket}/{key}"


class JobAccessDenied(Exception):
    """An AWS call made for a job was refused; ``reason`` is the job's ``FailureReason``."""

    def __init__(self, role_arn: str, action: str, resource: str, error: ClientError) -> None:
        message = str(error.response.get("Error", {}).get("Message", ""))
        if "not authorized to perform" in message:
            detail = message
        else:
            detail = f"{role_arn} is not authorized to perform: {action} on resource: {resource}"
        super().__init__(detail)
        self.action = action
        self.resource = resource
        self.reason = f"ClientError: {detail}"


class JobAws:
    """The AWS calls made for one job, as its role. Every method names its IAM action."""

    def __init__(self, role_arn: str, region: str, account: str, client: Callable[[str], Any]) -> None:
        self.role_arn = role_arn
        self.region = region
        self.account = account
        self._client = client

    def _call(self, action: str, resource: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            # S3 answers a denied GetObject/HeadObject with a bare 403 (no error body).
            if code in ACCESS_DENIED or status == 403:
                raise JobAccessDenied(self.role_arn, action, resource, err) from err
            raise

    def _queue_arn(self, url: str) -> str:
        name = urlparse(url).path.rstrip("/").rpartition("/")[2]
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"

    # S3 ---------------------------------------------------------------------------------------
    def read_object(self, uri: str) -> bytes:
        bucket, key = split_s3(uri)
        s3 = self._client("s3")
        body: bytes = self._call(
            "s3:GetObject", s3_resource(uri), lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        )
        return body

    def write_object(self, uri: str, body: bytes, kms_key_id: str | None = None) -> None:
        bucket, key = split_s3(uri)
        extra: dict[str, str] = {}
        if kms_key_id:  # OutputConfig.KmsKeyId: the output is encrypted with it
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
        s3 = self._client("s3")
        self._call(
            "s3:PutObject",
            s3_resource(uri),
            lambda: s3.put_object(Bucket=bucket, Key=key, Body=body, **extra),
        )

    # SQS: the job's GroundTruth-<name> queue --------------------------------------------------
    def create_queue(self, name: str, attributes: dict[str, str]) -> tuple[str, str]:
        """Create the queue (or find it) and return its URL and ARN."""
        sqs = self._client("sqs")
        arn = f"arn:aws:sqs:{self.region}:{self.account}:{name}"
        url: str = self._call(
            "sqs:CreateQueue",
            arn,
            lambda: sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"],
        )
        return url, arn

    def allow_topic(self, queue_url: str, topic_arn: str) -> None:
        """The queue policy that lets the input topic deliver to the queue."""
        queue_arn = self._queue_arn(queue_url)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        sqs = self._client("sqs")
        self._call(
            "sqs:SetQueueAttributes",
            queue_arn,
            lambda: sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)}),
        )

    def receive(self, queue_url: str) -> list[dict[str, Any]]:
        sqs = self._client("sqs")
        messages: list[dict[str, Any]] = self._call(
            "sqs:ReceiveMessage",
            self._queue_arn(queue_url),
            lambda: sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
            ).get("Messages", []),
        )
        return messages

    def delete(self, queue_url: str, receipt_handle: str) -> None:
        sqs = self._client("sqs")
        self._call(
            "sqs:DeleteMessage",
            self._queue_arn(queue_url),
            lambda: sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle),
        )

    # SNS --------------------------------------------------------------------------------------
    def subscribe(self, topic_arn: str, queue_arn: str) -> str:
        sns = self._client("sns")
        arn: str = self._call(
            "sns:Subscribe",
            topic_arn,
            lambda: sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"],
        )
        return arn

    def unsubscribe(self, subscription_arn: str) -> None:
        sns = self._client("sns")
        topic = subscription_arn.rpartition(":")[0]
        self._call("sns:Unsubscribe", topic, lambda: sns.unsubscribe(SubscriptionArn=subscription_arn))

    def publish(self, topic_arn: str, message: str) -> None:
        sns = self._client("sns")
        self._call("sns:Publish", topic_arn, lambda: sns.publish(TopicArn=topic_arn, Message=message))


class ServiceAws:
    """The calls Ground Truth makes as the service, not as a job's role."""

    def __init__(self, client: Callable[[str], Any]) -> None:
        self._client = client

    def topic_exists(self, topic_arn: str) -> bool:
        try:
            self._client("sns").get_topic_attributes(TopicArn=topic_arn)
        except ClientError:
            return False
        return True

    def put_events(self, entries: list[dict[str, Any]]) -> int:
        """PutEvents in batches of 10; returns how many entries were not accepted."""
        failed = 0
        events = self._client("events")
        for start in range(0, len(entries), 10):
            answer = events.put_events(Entries=entries[start : start + 10])
            failed += int(answer.get("FailedEntryCount", 0))
        return failed


class AwsClients:
    """boto3 clients against the configured endpoint, cached per service and region."""

    def __init__(self, endpoint: str = "http://127.0.0.1:4566") -> None:
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - dummy local credentials
        )

    def configure(self, endpoint: str) -> None:
        with self._lock:
            self.endpoint = endpoint
            self._clients.clear()

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=region,
                    endpoint_url=self.endpoint,
                    config=Config(
                        retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30
                    ),
                )
            return self._clients[key]

    def for_job(self, role_arn: str, region: str, account: str) -> JobAws:
        """The seam: the clients a job's work goes through (today the emulator's own credentials)."""
        return JobAws(role_arn, region, account, lambda service: self.client(service, region))

    def service(self, region: str) -> ServiceAws:
        return ServiceAws(lambda service: self.client(service, region))
