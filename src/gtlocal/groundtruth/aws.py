"""Every AWS call the emulator makes, through boto3 against ``aws_endpoint`` (its own URL by default).

- ``JobAws``: the calls Ground Truth makes **for a job, as the job's role** (``RoleArn``): read the
  input manifest and the label categories, create and subscribe the ``GroundTruth-*`` queue,
  read it, write the output, publish to the output topic, unsubscribe the queue of a stopped job,
  invoke the job's own pre-annotation / consolidation Lambdas ("Create a SageMaker Execution Role for
  a Ground Truth Labeling Job" lists each of them as a permission of the execution role:
  https://docs.aws.amazon.com/sagemaker/latest/dg/sms-security-permission-execution-role.html).
  ``AwsClients.for_job`` is the one seam that makes them: it assumes the job's role as
  ``sagemaker.amazonaws.com`` with ``aws:SourceAccount`` = the job's account (in process, through
  ``gtlocal.iam.assume_role_as_service``, so the role's trust policy decides), and makes every call
  with that session. A trust refusal, and any refusal of a call (``AccessDenied``,
  ``AccessDeniedException``, SNS ``AuthorizationError``, a bare S3 403), raises ``JobAccessDenied``,
  whose ``reason`` names the action and the resource: the backend fails the job with it, as Ground
  Truth reports a permission error.
- ``ServiceAws``: the calls Ground Truth makes as the service, with its own identity: events on the
  default bus (AWS services put their events on the bus themselves; the execution role's documented
  policy has no ``events:PutEvents``) and the input-topic check of ``CreateLabelingJob`` (an API-time
  validation of the request, before any job exists; the role's documented policy has no
  ``sns:GetTopicAttributes``).

When the local cloud does not enforce IAM (``--iam off``), or the emulator talks to another endpoint
(``--aws-endpoint``, e.g. a LocalStack whose IAM is not this process's), every call is made with the
emulator's own credentials, as before.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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

    def __init__(self, role_arn: str, action: str, resource: str, error: ClientError | str) -> None:
        message = error if isinstance(error, str) else str(error.response.get("Error", {}).get("Message", ""))
        if "not authorized to perform" in message:
            detail = message
        else:
            detail = f"{role_arn} is not authorized to perform: {action} on resource: {resource}"
        super().__init__(detail)
        self.action = action
        self.resource = resource
        self.reason = f"ClientError: {detail}"


# A session the local cloud no longer accepts (expired, or issued before a moto reset): renew it.
STALE_SESSION = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "InvalidToken",
        "UnrecognizedClientException",
    }
)
SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"
REFRESH_MARGIN_SECONDS = 300.0


@dataclass
class RoleSession:
    """The job role's temporary credentials (``None`` fields: the emulator's own credentials)."""

    access_key_id: str | None
    secret_access_key: str | None
    session_token: str | None
    expires_at: float  # epoch seconds (wall clock, as the local cloud checks session expiry)

    def fresh(self) -> bool:
        return time.time() < self.expires_at - REFRESH_MARGIN_SECONDS


class JobAws:
    """The AWS calls made for one job, as its role. Every method names its IAM action."""

    def __init__(
        self,
        role_arn: str,
        region: str,
        account: str,
        client: Callable[[str], Any],
        renew: Callable[[], None] | None = None,
        authorize: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.role_arn = role_arn
        self.region = region
        self.account = account
        self._client = client
        self._renew = renew
        self._authorize = authorize

    def _call(self, action: str, resource: str, call: Callable[[], T]) -> T:
        for attempt in (1, 2):
            try:
                return call()
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code")
                status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code in STALE_SESSION and self._renew is not None and attempt == 1:
                    self._renew()
                    continue
                # S3 answers a denied GetObject/HeadObject with a bare 403 (no error body).
                if code in ACCESS_DENIED or status == 403:
                    raise JobAccessDenied(self.role_arn, action, resource, err) from err
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _queue_arn(self, url: str) -> str:
        name = urlparse(url).path.rstrip("/").rpartition("/")[2]
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"

    # S3 ---------------------------------------------------------------------------------------
    def read_object(self, uri: str) -> bytes:
        bucket, key = split_s3(uri)
        body: bytes = self._call(
            "s3:GetObject",
            s3_resource(uri),
            lambda: self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read(),
        )
        return body

    def write_object(self, uri: str, body: bytes, kms_key_id: str | None = None) -> None:
        bucket, key = split_s3(uri)
        extra: dict[str, str] = {}
        if kms_key_id:  # OutputConfig.KmsKeyId: the output is encrypted with it
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
        self._call(
            "s3:PutObject",
            s3_resource(uri),
            lambda: self._client("s3").put_object(Bucket=bucket, Key=key, Body=body, **extra),
        )

    # SQS: the job's GroundTruth-<name> queue --------------------------------------------------
    def create_queue(self, name: str, attributes: dict[str, str]) -> tuple[str, str]:
        """Create the queue (or find it) and return its URL and ARN."""
        arn = f"arn:aws:sqs:{self.region}:{self.account}:{name}"
        url: str = self._call(
            "sqs:CreateQueue",
            arn,
            lambda: self._client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"],
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
        self._call(
            "sqs:SetQueueAttributes",
            queue_arn,
            lambda: self._client("sqs").set_queue_attributes(
                QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)}
            ),
        )

    def receive(self, queue_url: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self._call(
            "sqs:ReceiveMessage",
            self._queue_arn(queue_url),
            lambda: (
                self._client("sqs")
                .receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
                )
                .get("Messages", [])
            ),
        )
        return messages

    def delete(self, queue_url: str, receipt_handle: str) -> None:
        self._call(
            "sqs:DeleteMessage",
            self._queue_arn(queue_url),
            lambda: self._client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle),
        )

    # SNS --------------------------------------------------------------------------------------
    def subscribe(self, topic_arn: str, queue_arn: str) -> str:
        arn: str = self._call(
            "sns:Subscribe",
            topic_arn,
            lambda: self._client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)[
                "SubscriptionArn"
            ],
        )
        return arn

    def unsubscribe(self, subscription_arn: str) -> None:
        topic = subscription_arn.rpartition(":")[0]
        self._call(
            "sns:Unsubscribe",
            topic,
            lambda: self._client("sns").unsubscribe(SubscriptionArn=subscription_arn),
        )

    def publish(self, topic_arn: str, message: str) -> None:
        self._call(
            "sns:Publish", topic_arn, lambda: self._client("sns").publish(TopicArn=topic_arn, Message=message)
        )

    # Lambda -----------------------------------------------------------------------------------
    def invoke(self, function_arn: str) -> None:
        """Ground Truth invokes the job's own pre-annotation / consolidation Lambda as the role
        (``lambda:InvokeFunction``). moto stores functions without running them, so the emulator
        only authorizes the invocation here and answers as the documented stand-in does (see
        ``workforce``); a refusal fails the job like any other."""
        if self._authorize is None:
            return
        refused = self._authorize("lambda:InvokeFunction", function_arn)
        if refused is not None:
            raise JobAccessDenied(self.role_arn, "lambda:InvokeFunction", function_arn, refused)


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
    """boto3 clients against the configured endpoint: the emulator's own (cached per service and
    region) and each job role's session (cached per role, region and account until it nears expiry)."""

    def __init__(self, endpoint: str = "http://127.0.0.1:4566") -> None:
        self.endpoint = endpoint
        self.own_cloud = True  # the endpoint is this process's cloud: its IAM can issue sessions
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        self._sessions: dict[tuple[str, str, str], RoleSession] = {}
        self._session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - dummy local credentials
        )

    def configure(self, endpoint: str, own_cloud: bool = True) -> None:
        with self._lock:
            self.endpoint = endpoint
            self.own_cloud = own_cloud
            self._clients.clear()
            self._sessions.clear()

    def reset(self) -> None:
        """Forget the job roles' sessions (after a reset of the local cloud)."""
        with self._lock:
            self._sessions.clear()

    def client(self, service: str, region: str, session: RoleSession | None = None) -> Any:
        key = (service, region, session.access_key_id if session is not None else None)
        with self._lock:
            if key not in self._clients:
                credentials: dict[str, Any] = {}
                if session is not None and session.access_key_id is not None:
                    credentials = {
                        "aws_access_key_id": session.access_key_id,
                        "aws_secret_access_key": session.secret_access_key,
                        "aws_session_token": session.session_token,
                    }
                self._clients[key] = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=region,
                    endpoint_url=self.endpoint,
                    config=Config(
                        retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30
                    ),
                    **credentials,
                )
            return self._clients[key]

    def _enforcer(self) -> Any:
        from gtlocal.iam import enforce

        enforcer = enforce.current()
        return enforcer if enforcer is not None and enforcer.enforcing and self.own_cloud else None

    def role_session(self, role_arn: str, region: str, account: str, *, renew: bool = False) -> RoleSession:
        """The job's role as Ground Truth assumes it: ``sagemaker.amazonaws.com`` with
        ``aws:SourceAccount`` = the job's account (the condition AWS's confused-deputy guidance puts
        in the trust policy). Raises ``JobAccessDenied`` when the trust policy refuses it."""
        key = (role_arn, region, account)
        with self._lock:
            found = self._sessions.get(key)
        if found is not None and found.fresh() and not renew:
            return found
        if self._enforcer() is None:
            session = RoleSession(None, None, None, math.inf)
        else:
            from gtlocal.iam.principals import AssumeRoleError, assume_role_as_service

            try:
                answer = assume_role_as_service(
                    role_arn,
                    SAGEMAKER_SERVICE,
                    source_account=account,
                    session_name="SageMaker",
                    region=region,
                )
            except AssumeRoleError as err:
                # Ground Truth documents no text for this case: the reason names the refused action
                # like every other permission error of the job.
                message = err.message
                if "not authorized to perform" not in message:  # e.g. NoSuchEntity
                    message = (
                        f"{SAGEMAKER_SERVICE} is not authorized to perform: sts:AssumeRole on resource: "
                        f"{role_arn} ({message})"
                    )
                raise JobAccessDenied(role_arn, "sts:AssumeRole", role_arn, message) from err
            session = RoleSession(
                answer["AccessKeyId"],
                answer["SecretAccessKey"],
                answer["SessionToken"],
                datetime.fromisoformat(answer["Expiration"]).timestamp(),
            )
        with self._lock:
            self._sessions[key] = session
        return session

    def _authorize(self, role_arn: str, region: str, account: str) -> Callable[[str, str], str | None]:
        """A permission check of the job role's session, for a call the emulator cannot make for real."""

        def authorize(action: str, resource: str) -> str | None:
            enforcer = self._enforcer()
            session = self.role_session(role_arn, region, account)
            if enforcer is None or session.access_key_id is None:
                return None
            from gtlocal.iam.principals import Signature

            service = action.partition(":")[0]
            principal = enforcer.principals.resolve(
                Signature(session.access_key_id, region, service, session.session_token, signed=True)
            )
            decision = enforcer.check(principal, action, resource, region=region)
            return None if decision.allowed else str(decision.message(principal.caller))

        return authorize

    def for_job(self, role_arn: str, region: str, account: str) -> JobAws:
        """The seam: the clients a job's work goes through, as the job's role."""

        def client(service: str) -> Any:
            return self.client(service, region, self.role_session(role_arn, region, account))

        def renew() -> None:
            self.role_session(role_arn, region, account, renew=True)

        return JobAws(role_arn, region, account, client, renew, self._authorize(role_arn, region, account))

    def service(self, region: str) -> ServiceAws:
        return ServiceAws(lambda service: self.client(service, region))
