"""The local event-source runner: what Lambda's SQS event-source mapping does, for the local cloud.

moto stores Lambda functions but does not run them without Docker, so this runner polls the
project's queues and calls the same handler functions with the same SQS batch event shape Lambda
sends: it deletes what succeeded, leaves failures for retry (they become visible again after
``retry_delay`` seconds instead of the full visibility timeout) and lets the queue's redrive
policy move a message to its DLQ after ``maxReceiveCount`` receives. It runs until every queue
is empty; with ``reconcile`` it also runs the scheduled reconcile handler once per idle round.

It acts as each deployed function, as Lambda does: the credentials of the function's execution role
(``lambda_roles[kind]`` of the deployment, assumed as ``lambda.amazonaws.com`` through the local
cloud's ``POST /_localcloud/iam/service-credentials``, so the role's trust policy is checked) are in
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` during each invocation,
with ``AWS_LAMBDA_FUNCTION_NAME``; the event-source mapping's own SQS calls (GetQueueAttributes,
ReceiveMessage, DeleteMessageBatch) are made with the same credentials, as Lambda's poller uses the
execution role ("Lambda needs the following permissions to manage messages in your Amazon SQS queue:
sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes",
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-permissions).
Sessions are kept between runs and replaced when they are within ``REFRESH_MARGIN`` of their
``Expiration`` (the wall clock: the local cloud checks session expiry on it, as STS does) or when the
local cloud refuses them (``ExpiredToken``, or ``InvalidClientTokenId`` after a moto reset). The
runner's own shortcuts - a failed message made visible again after ``retry_delay``, the DLQ counts
of ``RunStats`` - are not Lambda's calls and use the caller's credentials. ``as_root`` (``--as-root``)
keeps the caller's credentials for everything: for a cloud without the service-credentials route
(e.g. LocalStack) or to compare.

``isolate`` (``--isolate``) runs each invocation in a forked child process, as Lambda runs a function
in an execution environment of its own: a handler that dies there (a signal, no ``finally``, no
``except``) is a crashed invocation - its batch is not deleted and comes back after the visibility
timeout (``retry_delay`` here), as for any failed invocation ("If your function code caused the
error ... After your queue's visibility timeout runs out, the message will again reappear in the
queue", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html). The
child dies of SIGKILL at a call the local cloud answers with a ``kill`` fault (``gtlocal.faults``):
by default (``isolate=None``) the runner forks only while such a fault is pending at the start of a
run, so ordinary runs pay nothing. The child's boto3 clients are its own (``gtstream.aws.Clients``
drops its clients in a forked child: connection pools are not shared across processes); what an
invocation changes in the handler module's memory stays in the child, as a crash would lose it.

    gtlocal run-events --deployment build/deployment.json --reconcile
    gtlocal run-events --terraform-dir terraform/examples/local
    gtlocal run-events --deployment build/deployment.json --as-root
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gtcontract import names
from gtcontract.deployment import DeploymentError, load_deployment_file, load_terraform_deployment

Handler = Callable[[dict[str, Any], Any], Any]
QUEUE_KINDS = names.QUEUE_KINDS
LAMBDA_SERVICE = "lambda.amazonaws.com"
REFRESH_MARGIN = timedelta(minutes=5)
# A session the local cloud does not accept (any more): get a new one and try again.
STALE_SESSION_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "InvalidToken",
        "UnrecognizedClientException",
    }
)


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class RunStats:
    rounds: int = 0
    invocations: dict[str, int] = field(default_factory=dict)
    succeeded: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    handler_errors: int = 0
    reconciles: int = 0
    reconcile_reports: list[Any] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)
    crashes: int = 0  # invocations whose process died (isolate): counted in handler_errors too

    def count(self, table: dict[str, int], kind: str, n: int = 1) -> None:
        table[kind] = table.get(kind, 0) + n

    def summary(self) -> str:
        parts = [f"{self.rounds} round(s)"]
        for kind in QUEUE_KINDS:
            if kind in self.invocations:
                parts.append(
                    f"{kind}: {self.invocations[kind]} batch(es), {self.succeeded.get(kind, 0)} ok, "
                    f"{self.failed.get(kind, 0)} failed"
                )
        if self.reconciles:
            parts.append(f"reconcile: {self.reconciles} run(s)")
        if self.crashes:
            parts.append(f"{self.crashes} crashed invocation(s)")
        dead = {k: v for k, v in self.dead_letters.items() if v}
        if dead:
            parts.append("in DLQs: " + ", ".join(f"{k}={v}" for k, v in dead.items()))
        return "; ".join(parts)


def load_deployment(path: Path | None = None, terraform_dir: Path | None = None) -> dict[str, Any]:
    """The deployment document from a JSON file or from `terraform output -json deployment`,
    validated by the contract's parser (``gtcontract.deployment``)."""
    if path is not None:
        return load_deployment_file(path).document
    if terraform_dir is not None:
        return load_terraform_deployment(terraform_dir).document
    raise DeploymentError("give --deployment FILE or --terraform-dir DIR")


class RunnerError(Exception):
    """The runner cannot act as a deployed function (one line for the CLI)."""


@dataclass(frozen=True)
class RoleSession:
    """Temporary credentials of one function's execution role."""

    role_arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime

    def environment(self) -> dict[str, str]:
        """What Lambda sets in the environment of an invocation."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def fresh(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) < self.expiration - REFRESH_MARGIN


_sessions: dict[tuple[str, str], RoleSession] = {}
_sessions_lock = threading.Lock()


def role_session(
    endpoint: str, role_arn: str, function_name: str, region: str, *, renew: bool = False
) -> RoleSession:
    """The execution role's credentials as Lambda assumes it (``lambda.amazonaws.com``, session name
    = the function's name); kept per endpoint and role until they near expiry or ``renew``."""
    from gtlocal.client import ControlApiError, GroundTruthControl

    key = (endpoint, role_arn)
    with _sessions_lock:
        found = _sessions.get(key)
    if found is not None and not renew and found.fresh():
        return found
    try:
        answer = GroundTruthControl(endpoint).service_credentials(
            role_arn, LAMBDA_SERVICE, session_name=function_name, region=region
        )
    except ControlApiError as exc:
        raise RunnerError(
            f"cannot act as {function_name}: {LAMBDA_SERVICE} may not assume {role_arn} ({exc}); "
            'Lambda refuses such a function ("The role defined for the function cannot be assumed by '
            'Lambda")'
        ) from exc
    except OSError as exc:
        raise RunnerError(
            f"cannot get the credentials of {role_arn} from the local cloud at {endpoint} ({exc}); "
            "a cloud without /_localcloud/iam/service-credentials needs --as-root"
        ) from exc
    session = RoleSession(
        role_arn,
        answer["AccessKeyId"],
        answer["SecretAccessKey"],
        answer["SessionToken"],
        datetime.fromisoformat(answer["Expiration"]),
    )
    with _sessions_lock:
        _sessions[key] = session
    return session


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class FunctionRoles:
    """Each deployed function's execution role session, and boto3 clients made with it."""

    def __init__(self, deployment: dict[str, Any], endpoint: str | None, *, as_root: bool = False) -> None:
        self.as_root = as_root
        self.region = str(deployment["region"])
        self.prefix = str(deployment["project_prefix"])
        self.roles: dict[str, str] = dict(deployment.get("lambda_roles") or {})
        self.endpoint = endpoint or ""
        if not as_root:
            if not self.roles:
                raise RunnerError(
                    "the deployment document has no lambda_roles (written by an older deploy): deploy "
                    "again, or run with --as-root"
                )
            if not self.endpoint:
                raise RunnerError(
                    "AWS_ENDPOINT_URL is not set: the runner gets each function's role credentials from "
                    "the local cloud there (or run with --as-root)"
                )
        self._clients: dict[tuple[str, str], Any] = {}
        self._memory: dict[str, int | None] = {}
        import boto3

        self._boto3 = boto3.session.Session(region_name=self.region)

    def function_name(self, kind: str) -> str:
        return names.function_name(self.prefix, kind)

    def session(self, kind: str, *, renew: bool = False) -> RoleSession | None:
        if self.as_root:
            return None
        role = self.roles.get(kind)
        if role is None:
            raise RunnerError(f"the deployment document has no lambda_roles[{kind!r}]")
        return role_session(self.endpoint, role, self.function_name(kind), self.region, renew=renew)

    def client(self, service: str, kind: str | None) -> Any:
        """A client of ``service`` as function ``kind`` (None: the caller's own credentials)."""
        session = self.session(kind) if kind is not None else None
        cache_key = (service, session.access_key_id if session is not None else "")
        if cache_key not in self._clients:
            extra: dict[str, Any] = {}
            if session is not None:
                extra = {
                    "aws_access_key_id": session.access_key_id,
                    "aws_secret_access_key": session.secret_access_key,
                    "aws_session_token": session.session_token,
                }
            self._clients[cache_key] = self._boto3.client(service, **extra)  # type: ignore[call-overload]
        return self._clients[cache_key]

    def call(self, kind: str | None, service: str, operation: str, **params: Any) -> Any:
        """One AWS call as function ``kind``; a session the cloud no longer accepts is renewed once."""
        try:
            return getattr(self.client(service, kind), operation)(**params)
        except Exception as exc:
            if kind is None or self.as_root or _error_code(exc) not in STALE_SESSION_CODES:
                raise
        self.session(kind, renew=True)
        return getattr(self.client(service, kind), operation)(**params)

    def check(self, kind: str, queue: dict[str, Any] | None) -> None:
        """Before a run, as Lambda checks a mapping's queue with the execution role (and so that a
        stale session is renewed here, not inside a handler): GetQueueAttributes on the function's
        queue, or GetCallerIdentity for the scheduled function."""
        if self.as_root:
            return
        try:
            if queue is not None:
                self.call(
                    kind,
                    "sqs",
                    "get_queue_attributes",
                    QueueUrl=queue["url"],
                    AttributeNames=["VisibilityTimeout"],
                )
            else:
                self.call(kind, "sts", "get_caller_identity")
        except Exception as exc:
            if _error_code(exc) in ("AccessDenied", "AccessDeniedException"):
                raise RunnerError(
                    f"{self.function_name(kind)}: the provided execution role does not have permissions to "
                    f"call GetQueueAttributes on SQS ({exc})"
                ) from exc
            raise

    def memory_mb(self, kind: str) -> int | None:
        """The function's memory setting (GetFunctionConfiguration's ``MemorySize``, read once), or
        None when the local cloud has no such function (a handler run without a deployment)."""
        if kind not in self._memory:
            try:
                answer = aws_client("lambda", self.region).get_function_configuration(
                    FunctionName=self.function_name(kind)
                )
                self._memory[kind] = int(answer["MemorySize"])
            except Exception as exc:  # only "no such function" is expected here
                if _error_code(exc) != "ResourceNotFoundException":
                    raise
                self._memory[kind] = None
        return self._memory[kind]

    def context(self, kind: str) -> LambdaContext:
        """Lambda's context object for one invocation of ``kind``, with the function's memory (call
        it as the runner, outside ``acting_as``: the function's role may not read its configuration)."""
        memory = self.memory_mb(kind)
        context = LambdaContext(self.function_name(kind))
        if memory is not None:
            context.memory_limit_in_mb = memory
        return context

    @contextmanager
    def acting_as(self, kind: str) -> Iterator[None]:
        """The environment of one invocation of function ``kind`` (restored after): the function's
        name (AWS_LAMBDA_FUNCTION_NAME, docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html)
        and its role's credentials. Not AWS_LAMBDA_FUNCTION_MEMORY_SIZE: the intake bounds a decode
        by that setting less its process's resident memory, and the runner's process (a test run, a
        bench) is not a Lambda execution environment; the bound is tested in a fresh process with the
        deployed setting (tests/unit/gtstream/test_gtstream_hostile_input.py)."""
        values = {"AWS_LAMBDA_FUNCTION_NAME": self.function_name(kind)}
        session = self.session(kind)
        if session is not None:
            values.update(session.environment())
        with _environment(values):
            yield


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def function_environment(deployment: dict[str, Any], kind: str, *, as_root: bool = False) -> Iterator[None]:
    """The environment of one invocation of function ``kind`` outside ``run_until_idle`` (tests that
    call a handler directly): the deployment's Lambda environment and the function's role session."""
    roles = FunctionRoles(deployment, os.environ.get("AWS_ENDPOINT_URL"), as_root=as_root)
    with lambda_environment(deployment), roles.acting_as(kind):
        yield


@contextmanager
def lambda_environment(deployment: dict[str, Any]) -> Iterator[None]:
    """Set the Lambda environment of the deployment for the duration (restored after)."""
    with _environment({str(k): str(v) for k, v in deployment["lambda_environment"].items()}):
        yield


def resolve_handler(spec: str) -> Handler:
    module_name, _, name = spec.rpartition(".")
    handler = getattr(importlib.import_module(module_name), name, None)
    if not callable(handler):
        raise DeploymentError(f"handler {spec!r} is not a function")
    return handler  # type: ignore[no-any-return]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event-source mapping passes to the function."""
    records = []
    for message in messages:
        attributes = dict(message.get("Attributes", {}))
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", "0"),
                    "SenderId": attributes.get("SenderId", "local"),
                    "ApproximateFirstReceiveTimestamp": attributes.get(
                        "ApproximateFirstReceiveTimestamp", "0"
                    ),
                },
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


# What a boto3 session reads from the environment; a change gets a new client.
_CLIENT_ENVIRONMENT = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
_clients: dict[tuple[str, ...], Any] = {}
_clients_lock = threading.Lock()


def aws_client(service: str, region: str) -> Any:
    """A boto3 client for the runner (and test helpers), created once per service, region and
    environment, then reused.

    Lambda's poller keeps its connections; so does this one: a client keeps its pooled HTTP/1.1
    connections open between calls and between runs (a new boto3 session would also load the
    service model again, ~50 ms)."""
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}", "")
    key = (service, region, endpoint, *(os.environ.get(name, "") for name in _CLIENT_ENVIRONMENT))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3

            client = boto3.session.Session(region_name=region).client(service)  # type: ignore[call-overload]
            _clients[key] = client
        return client


class HandlerCrashed(Exception):
    """The handler's process died before it answered (isolate): the invocation crashed."""


class HandlerFailed(Exception):
    """The handler raised in its child process (isolate): its type and message, as text."""


def _die_at_kill_fault(response_dict: dict[str, Any] | None = None, **_: Any) -> None:
    """botocore ``before-parse`` hook of the handler's process: an answer marked by a ``kill`` fault
    ends the process at once (before any retry, ``finally`` or ``except`` of the handler)."""
    from gtlocal.faults import KILL_HEADER

    headers = (response_dict or {}).get("headers") or {}
    if headers.get(KILL_HEADER) == "kill" or headers.get(KILL_HEADER.lower()) == "kill":
        os.kill(os.getpid(), signal.SIGKILL)


def _child(handler: Handler, event: dict[str, Any], context: LambdaContext, answer_fd: int) -> None:
    """The invocation in the forked child: the handler's JSON answer (or its error) on ``answer_fd``,
    then ``os._exit`` (never back into the caller's stack)."""
    try:
        import botocore.handlers

        # Every botocore session made in this process from now on (the handler's clients are made
        # anew after the fork) registers the hook.
        botocore.handlers.BUILTIN_HANDLERS.append(("before-parse", _die_at_kill_fault))
        try:
            outcome: dict[str, Any] = {"response": handler(event, context)}
        except BaseException as exc:
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            data = json.dumps(outcome).encode()
        except (TypeError, ValueError) as exc:  # Lambda answers Runtime.MarshalError
            data = json.dumps({"error": f"Runtime.MarshalError: {exc}"}).encode()
        with os.fdopen(answer_fd, "wb") as out:
            out.write(data)
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0)


def invoke(handler: Handler, event: dict[str, Any], context: LambdaContext, *, isolate: bool) -> Any:
    """One invocation; ``isolate``: in a forked child process (module docstring), whose death raises
    HandlerCrashed and whose error raises HandlerFailed."""
    if not isolate:
        return handler(event, context)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends in os._exit
        os.close(read_fd)
        _child(handler, event, context, write_fd)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as answer:
        data = answer.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise HandlerCrashed(f"the handler's process died of {signal.Signals(os.WTERMSIG(status)).name}")
    if not data:
        raise HandlerCrashed(f"the handler's process exited ({os.waitstatus_to_exitcode(status)}) unanswered")
    outcome = json.loads(data)
    if "error" in outcome:
        raise HandlerFailed(outcome["error"])
    return outcome["response"]


def kill_fault_pending(endpoint: str | None) -> bool:
    """The local cloud at ``endpoint`` has a pending ``kill`` call fault (False for a cloud without
    the fault route)."""
    if not endpoint:
        return False
    from gtlocal.client import ControlApiError, GroundTruthControl

    try:
        pending = GroundTruthControl(endpoint).faults()["calls"]
    except (ControlApiError, OSError, KeyError, TypeError):
        return False
    return any(fault.get("kind") == "kill" for fault in pending)


def run_until_idle(
    deployment: dict[str, Any],
    *,
    reconcile: bool = False,
    max_rounds: int = 200,
    retry_delay: int = 0,
    handlers: dict[str, Handler] | None = None,
    echo: Callable[[str], None] | None = None,
    as_root: bool = False,
    isolate: bool | None = None,
) -> RunStats:
    """Drain the project's queues into its handlers until all are empty; return what happened.

    Each handler runs as its function's execution role (module docstring); ``as_root`` keeps the
    caller's credentials. ``handlers`` overrides handler functions by kind (tests inject crashes
    this way). ``isolate``: each invocation in a forked child process (None: while the local cloud
    has a ``kill`` fault pending at the start of the run)."""
    region = deployment["region"]
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    roles = FunctionRoles(deployment, endpoint, as_root=as_root)
    if isolate is None:
        isolate = kill_fault_pending(endpoint)
    stats = RunStats()
    say = echo or (lambda _text: None)
    with lambda_environment(deployment):
        resolved = {
            kind: (handlers or {}).get(kind) or resolve_handler(deployment["handlers"][kind])
            for kind in (*QUEUE_KINDS, "reconcile")
            if kind in deployment["handlers"] or kind in (handlers or {})
        }
        polled = [kind for kind in QUEUE_KINDS if kind in resolved and deployment["queues"].get(kind)]
        for kind in polled:
            roles.check(kind, deployment["queues"][kind])
        if reconcile and "reconcile" in resolved:
            roles.check("reconcile", None)
        reconciled_since_activity = False
        while stats.rounds < max_rounds:
            stats.rounds += 1
            activity = False
            for kind in polled:
                queue = deployment["queues"][kind]
                if _poll_once(roles, kind, queue, region, resolved[kind], stats, retry_delay, say, isolate):
                    activity = True
            if activity:
                reconciled_since_activity = False
                continue
            if reconcile and "reconcile" in resolved and not reconciled_since_activity:
                stats.reconciles += 1
                reconciled_since_activity = True
                try:
                    context = roles.context("reconcile")  # read as the runner, not as the function
                    with roles.acting_as("reconcile"):
                        report = invoke(
                            resolved["reconcile"],
                            {"source": "aws.scheduler", "detail-type": "Scheduled Event"},
                            context,
                            isolate=isolate,
                        )
                except RunnerError:
                    raise
                except Exception as exc:  # a failed scheduled invocation: the next schedule tries again
                    stats.handler_errors += 1
                    stats.crashes += isinstance(exc, HandlerCrashed)
                    say(f"reconcile: handler raised {type(exc).__name__}: {exc}")
                    continue
                stats.reconcile_reports.append(report)
                say(f"reconcile: {report}")
                continue
            break
        for kind in QUEUE_KINDS:  # the runner's bookkeeping, not a call Lambda makes
            queue = deployment["queues"].get(kind)
            if queue and queue.get("dlq_url"):
                attrs = roles.client("sqs", None).get_queue_attributes(
                    QueueUrl=queue["dlq_url"], AttributeNames=["ApproximateNumberOfMessages"]
                )
                stats.dead_letters[kind] = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
    return stats


def _poll_once(
    roles: FunctionRoles,
    kind: str,
    queue: dict[str, Any],
    region: str,
    handler: Handler,
    stats: RunStats,
    retry_delay: int,
    say: Callable[[str], None],
    isolate: bool = False,
) -> bool:
    messages = roles.call(
        kind,
        "sqs",
        "receive_message",
        QueueUrl=queue["url"],
        MaxNumberOfMessages=min(int(queue.get("batch_size", 10)), 10),
        WaitTimeSeconds=0,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    if not messages:
        return False
    stats.count(stats.invocations, kind)
    event = sqs_event(messages, queue["arn"], region)
    failed_ids: set[str]
    try:
        context = roles.context(kind)  # the function's configuration, read as the runner (Lambda)
        with roles.acting_as(kind):
            response = invoke(handler, event, context, isolate=isolate)
        failed_ids = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
    except RunnerError:
        raise
    except Exception as exc:  # the whole batch failed, as when a Lambda invocation errors or crashes
        stats.handler_errors += 1
        stats.crashes += isinstance(exc, HandlerCrashed)
        failed_ids = {m["MessageId"] for m in messages}
        say(f"{kind}: handler raised {type(exc).__name__}: {exc}; the batch will be retried")
    done = [m for m in messages if m["MessageId"] not in failed_ids]
    for start in range(0, len(done), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(done[start : start + 10])
        ]
        roles.call(kind, "sqs", "delete_message_batch", QueueUrl=queue["url"], Entries=entries)
    sqs = roles.client("sqs", None)  # retry_delay is the runner's shortcut, not a call Lambda makes
    for message in messages:
        if message["MessageId"] in failed_ids:
            sqs.change_message_visibility(
                QueueUrl=queue["url"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=retry_delay
            )
    stats.count(stats.succeeded, kind, len(done))
    stats.count(stats.failed, kind, len(failed_ids))
    say(f"{kind}: batch of {len(messages)}: {len(done)} ok, {len(failed_ids)} failed")
    return True


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run-events", help="drain a deployed project's queues into its Lambda handlers until idle"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--deployment", type=Path, help="deployment document (JSON)")
    source.add_argument("--terraform-dir", type=Path, help="read `terraform output -json deployment` here")
    parser.add_argument(
        "--reconcile", action="store_true", help="run the reconcile handler once per idle round"
    )
    parser.add_argument("--max-rounds", type=int, default=200)
    parser.add_argument(
        "--retry-delay", type=int, default=0, help="seconds before a failed message is retried"
    )
    parser.add_argument(
        "--isolate",
        action="store_true",
        default=None,
        help="run each invocation in a forked child process (default: while a kill fault is pending)",
    )
    parser.add_argument(
        "--as-root",
        action="store_true",
        help="call the handlers with your own credentials instead of each function's execution role "
        "(for a cloud without /_localcloud/iam/service-credentials, e.g. LocalStack)",
    )
    parser.set_defaults(func=cmd_run_events)


def cmd_run_events(args: argparse.Namespace) -> int:
    try:
        deployment = load_deployment(args.deployment, args.terraform_dir)
    except DeploymentError as exc:
        print(f"gtlocal run-events: {exc}", file=sys.stderr)
        return 2
    try:
        stats = run_until_idle(
            deployment,
            reconcile=args.reconcile,
            max_rounds=args.max_rounds,
            retry_delay=args.retry_delay,
            echo=print,
            as_root=args.as_root,
            isolate=args.isolate,
        )
    except RunnerError as exc:
        print(f"gtlocal run-events: {exc}", file=sys.stderr)
        return 2
    print(stats.summary())
    return 0
