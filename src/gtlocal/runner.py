"""The local event-source runner: what Lambda's SQS event-source mapping does, for the local cloud.

moto stores Lambda functions but does not run them without Docker, so this runner polls the
project's queues and calls the same handler functions with the same SQS batch event shape Lambda
sends: it deletes what succeeded, leaves failures for retry (they become visible again after
``retry_delay`` seconds instead of the full visibility timeout) and lets the queue's redrive
policy move a message to its DLQ after ``maxReceiveCount`` receives. It runs until every queue
is empty; with ``reconcile`` it also runs the scheduled reconcile handler once per idle round.

    gtlocal run-events --deployment build/deployment.json --reconcile
    gtlocal run-events --terraform-dir terraform/examples/local
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtcontract.deployment import DeploymentError, load_deployment_file, load_terraform_deployment

Handler = Callable[[dict[str, Any], Any], Any]
QUEUE_KINDS = ("intake", "job_events", "worker_events")


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


@contextmanager
def lambda_environment(deployment: dict[str, Any]) -> Iterator[None]:
    """Set the Lambda environment of the deployment for the duration (restored after)."""
    values = {str(k): str(v) for k, v in deployment["lambda_environment"].items()}
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


def run_until_idle(
    deployment: dict[str, Any],
    *,
    reconcile: bool = False,
    max_rounds: int = 200,
    retry_delay: int = 0,
    handlers: dict[str, Handler] | None = None,
    echo: Callable[[str], None] | None = None,
) -> RunStats:
    """Drain the project's queues into its handlers until all are empty; return what happened.

    `handlers` overrides handler functions by kind (tests inject crashes this way)."""
    region = deployment["region"]
    sqs = aws_client("sqs", region)
    stats = RunStats()
    say = echo or (lambda _text: None)
    with lambda_environment(deployment):
        resolved = {
            kind: (handlers or {}).get(kind) or resolve_handler(deployment["handlers"][kind])
            for kind in (*QUEUE_KINDS, "reconcile")
            if kind in deployment["handlers"] or kind in (handlers or {})
        }
        reconciled_since_activity = False
        while stats.rounds < max_rounds:
            stats.rounds += 1
            activity = False
            for kind in QUEUE_KINDS:
                queue = deployment["queues"].get(kind)
                if queue is None or kind not in resolved:
                    continue
                if _poll_once(sqs, kind, queue, region, resolved[kind], stats, retry_delay, say):
                    activity = True
            if activity:
                reconciled_since_activity = False
                continue
            if reconcile and "reconcile" in resolved and not reconciled_since_activity:
                report = resolved["reconcile"](
                    {"source": "aws.scheduler", "detail-type": "Scheduled Event"}, LambdaContext("reconcile")
                )
                stats.reconciles += 1
                stats.reconcile_reports.append(report)
                say(f"reconcile: {report}")
                reconciled_since_activity = True
                continue
            break
        for kind in QUEUE_KINDS:
            queue = deployment["queues"].get(kind)
            if queue and queue.get("dlq_url"):
                attrs = sqs.get_queue_attributes(
                    QueueUrl=queue["dlq_url"], AttributeNames=["ApproximateNumberOfMessages"]
                )
                stats.dead_letters[kind] = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
    return stats


def _poll_once(
    sqs: Any,
    kind: str,
    queue: dict[str, Any],
    region: str,
    handler: Handler,
    stats: RunStats,
    retry_delay: int,
    say: Callable[[str], None],
) -> bool:
    messages = sqs.receive_message(
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
        response = handler(event, LambdaContext(kind))
        failed_ids = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
    except Exception as exc:  # the whole batch failed, as when a Lambda invocation errors
        stats.handler_errors += 1
        failed_ids = {m["MessageId"] for m in messages}
        say(f"{kind}: handler raised {type(exc).__name__}: {exc}; the batch will be retried")
    done = [m for m in messages if m["MessageId"] not in failed_ids]
    for start in range(0, len(done), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(done[start : start + 10])
        ]
        sqs.delete_message_batch(QueueUrl=queue["url"], Entries=entries)
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
    parser.set_defaults(func=cmd_run_events)


def cmd_run_events(args: argparse.Namespace) -> int:
    try:
        deployment = load_deployment(args.deployment, args.terraform_dir)
    except DeploymentError as exc:
        print(f"gtlocal run-events: {exc}", file=sys.stderr)
        return 2
    stats = run_until_idle(
        deployment,
        reconcile=args.reconcile,
        max_rounds=args.max_rounds,
        retry_delay=args.retry_delay,
        echo=print,
    )
    print(stats.summary())
    return 0
