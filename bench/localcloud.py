"""Local cloud figures: requests/s for a fixed mix, and the local runner's cost per image by queue depth.

Both start ``python -m gtlocal serve`` on a free port (as the test fixtures do) unless
``BENCH_LOCALCLOUD_ENDPOINT`` names a running one (e.g. a server started from another checkout,
for a before/after comparison against the same client code; ``BENCH_LOCALCLOUD_PID`` gives its
process id for the CPU figures). Wall-clock figures move with the machine's load (it is shared);
``server_cpu_ms_per_request`` (the server process's user + system CPU time) moves much less.

- ``localcloud-mix``: one client thread sends a fixed mix of the calls our Lambdas, the runner and
  the emulator make (S3, SQS, DynamoDB conditional writes, SNS -> SQS, EventBridge -> SQS, the
  emulated SageMaker); figures are requests/s and the median milliseconds of each operation.
- ``localcloud-sqs-depth``: N messages queued (N = 100, 1,000, 10,000; ``BENCH_SQS_DEPTHS``), drained
  once by the local runner (``gtlocal.runner.run_until_idle`` with a handler that does nothing) and
  once by a bare loop of the same ReceiveMessage/DeleteMessageBatch calls. The reference is the bare
  loop at the smallest N: ``runner_vs_bare_ref`` stays flat when the cost per image does not grow
  with depth, ``runner_vs_bare`` compares the runner with the bare loop at the same depth.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import register

REGION = "us-east-1"
MIX_ROUNDS = 60
DEFAULT_DEPTHS = (100, 1000, 10000)


class Server:
    """The local cloud under measurement: its endpoint and (when known) its process's CPU time."""

    def __init__(self, endpoint: str, pid: int | None) -> None:
        self.endpoint = endpoint
        self.pid = pid

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds of the server process so far (None when unknown)."""
        if self.pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def local_cloud() -> Iterator[Server]:
    """The server to measure: BENCH_LOCALCLOUD_ENDPOINT, else a fresh `gtlocal serve`."""
    from gtlocal.testing import aws_environment, running_local_cloud

    external = os.environ.get("BENCH_LOCALCLOUD_ENDPOINT")
    saved = dict(os.environ)
    try:
        if external:
            os.environ.update(aws_environment(external, REGION))
            pid = os.environ.get("BENCH_LOCALCLOUD_PID")
            yield Server(external, int(pid) if pid else None)
        else:
            with running_local_cloud() as (endpoint, proc):
                os.environ.update(aws_environment(endpoint, REGION))
                yield Server(endpoint, proc.pid)
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Meter:
    """Wall time, this process's CPU time and the server's CPU time spent inside its `with` block."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.wall = 0.0
        self.client_cpu = 0.0
        self.cpu: float | None = None

    def __enter__(self) -> Meter:
        self._cpu0 = self.server.cpu_seconds()
        self._client0 = time.process_time()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.client_cpu = time.process_time() - self._client0
        cpu1 = self.server.cpu_seconds()
        self.cpu = None if cpu1 is None or self._cpu0 is None else cpu1 - self._cpu0


def _client(service: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=REGION).client(service)  # type: ignore[call-overload]


class Mix:
    """The fixed mix: resources created once, then `round()` sends one call of each operation."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.s3, self.sqs, self.ddb = _client("s3"), _client("sqs"), _client("dynamodb")
        self.sns, self.events, self.sm = _client("sns"), _client("events"), _client("sagemaker")
        self.bucket = f"bench-mix-{tag}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.queue = self.sqs.create_queue(QueueName=f"bench-mix-{tag}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.table = f"bench-mix-{tag}"
        self.ddb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.topic = self.sns.create_topic(Name=f"bench-mix-{tag}")["TopicArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        self.events.put_rule(Name=f"bench-mix-{tag}", EventPattern=json.dumps({"source": [f"bench.{tag}"]}))
        self.events.put_targets(Rule=f"bench-mix-{tag}", Targets=[{"Id": "q", "Arn": queue_arn}])
        self.source = f"bench.{tag}"
        self.n = 0

    def operations(self) -> list[tuple[str, Callable[[], Any]]]:
        n = self.n
        key = f"images/{n}.jpg"
        return [
            ("s3.PutObject", lambda: self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"x" * 2048)),
            ("s3.GetObject", lambda: self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()),
            ("s3.HeadObject", lambda: self.s3.head_object(Bucket=self.bucket, Key=key)),
            (
                "dynamodb.PutItem",
                lambda: self.ddb.put_item(
                    TableName=self.table,
                    Item={"pk": {"S": f"OBJ#{n}"}, "state": {"S": "PENDING"}},
                    ConditionExpression="attribute_not_exists(pk)",
                ),
            ),
            (
                "dynamodb.GetItem",
                lambda: self.ddb.get_item(TableName=self.table, Key={"pk": {"S": f"OBJ#{n}"}}),
            ),
            (
                "dynamodb.UpdateItem",
                lambda: self.ddb.update_item(
                    TableName=self.table,
                    Key={"pk": {"S": f"OBJ#{n}"}},
                    UpdateExpression="SET #s = :new",
                    ConditionExpression="#s = :old",
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={":new": {"S": "SENT"}, ":old": {"S": "PENDING"}},
                ),
            ),
            ("sns.Publish", lambda: self.sns.publish(TopicArn=self.topic, Message=json.dumps({"n": n}))),
            (
                "events.PutEvents",
                lambda: self.events.put_events(
                    Entries=[{"Source": self.source, "DetailType": "bench", "Detail": json.dumps({"n": n})}]
                ),
            ),
            ("sqs.SendMessage", lambda: self.sqs.send_message(QueueUrl=self.queue, MessageBody=str(n))),
            ("sqs.ReceiveDelete", self._receive_delete),
            ("sagemaker.ListLabelingJobs", lambda: self.sm.list_labeling_jobs(MaxResults=10)),
        ]

    def _receive_delete(self) -> None:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        if messages:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def round(self, timings: dict[str, list[float]]) -> None:
        for name, call in self.operations():
            started = time.perf_counter()
            call()
            timings.setdefault(name, []).append(time.perf_counter() - started)
        self.n += 1


@register("localcloud-mix")
def localcloud_mix() -> dict[str, Any]:
    rounds = int(os.environ.get("BENCH_MIX_ROUNDS", str(MIX_ROUNDS)))
    with local_cloud() as server:
        mix = Mix()
        mix.round({})  # warm-up: clients, connections, moto's first-call imports
        timings: dict[str, list[float]] = {}
        with Meter(server) as meter:
            for _ in range(rounds):
                mix.round(timings)
    # sqs.ReceiveDelete is two requests when it found messages; count what was sent.
    requests = sum(len(v) for v in timings.values()) + len(timings.get("sqs.ReceiveDelete", []))
    figures: dict[str, Any] = {
        "requests": requests,
        "requests_per_s": round(requests / meter.wall, 1),
        "ms_per_request": round(1000 * meter.wall / requests, 2),
    }
    if meter.cpu is not None:
        figures["server_cpu_ms_per_request"] = round(1000 * meter.cpu / requests, 2)
    figures["client_cpu_ms_per_request"] = round(1000 * meter.client_cpu / requests, 2)  # botocore
    for name, values in timings.items():
        figures[f"{name}_ms_median"] = round(1000 * statistics.median(values), 2)
    return figures


# --- SQS depth ---------------------------------------------------------------------------------


def _fill(sqs: Any, url: str, count: int) -> None:
    body = json.dumps({"Records": [{"s3": {"object": {"key": "x" * 64}}}]})
    for start in range(0, count, 10):
        entries = [{"Id": str(i), "MessageBody": body} for i in range(min(10, count - start))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def _bare_drain(sqs: Any, url: str) -> int:
    """The reference: the runner's own calls (receive 10 with attributes, delete the batch), nothing else."""
    drained = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return drained
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        drained += len(messages)


def _runner_drain(sqs: Any, url: str, count: int) -> int:
    from gtlocal.runner import run_until_idle

    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    seen = 0

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal seen
        seen += len(event["Records"])
        return {"batchItemFailures": []}

    deployment = {
        "region": REGION,
        "queues": {"intake": {"url": url, "arn": arn, "batch_size": 10}},
        "handlers": {},
        "lambda_environment": {},
    }
    run_until_idle(deployment, handlers={"intake": handler}, max_rounds=count // 10 + 10)
    return seen


def _per_image(server: Server, drain: Callable[[], int], count: int) -> tuple[float, float | None]:
    """(wall ms, server CPU ms) per message of one drain of `count` messages."""
    with Meter(server) as meter:
        drained = drain()
    if drained != count:
        raise RuntimeError(f"drained {drained} of {count} messages")
    return 1000 * meter.wall / count, None if meter.cpu is None else 1000 * meter.cpu / count


@register("localcloud-sqs-depth")
def localcloud_sqs_depth() -> dict[str, Any]:
    given = os.environ.get("BENCH_SQS_DEPTHS")
    depths = [int(d) for d in given.split(",")] if given else list(DEFAULT_DEPTHS)
    figures: dict[str, Any] = {}
    with local_cloud() as server:
        sqs = _client("sqs")
        reference: float | None = None
        for depth in depths:
            url = sqs.create_queue(QueueName=f"bench-depth-{depth}-{uuid.uuid4().hex[:6]}")["QueueUrl"]
            _fill(sqs, url, depth)
            bare, bare_cpu = _per_image(server, functools.partial(_bare_drain, sqs, url), depth)
            _fill(sqs, url, depth)
            ours, ours_cpu = _per_image(server, functools.partial(_runner_drain, sqs, url, depth), depth)
            sqs.delete_queue(QueueUrl=url)
            reference = bare if reference is None else reference
            figures[f"n{depth}_runner_ms_per_image"] = round(ours, 3)
            figures[f"n{depth}_bare_ms_per_image"] = round(bare, 3)
            figures[f"n{depth}_runner_vs_bare"] = round(ours / bare, 2)
            figures[f"n{depth}_runner_vs_bare_ref"] = round(ours / reference, 2)
            if ours_cpu is not None and bare_cpu is not None:
                figures[f"n{depth}_server_cpu_ms_per_image_runner"] = round(ours_cpu, 3)
                figures[f"n{depth}_server_cpu_ms_per_image_bare"] = round(bare_cpu, 3)
    figures["bare_ref"] = f"bare loop at n={depths[0]}"
    return figures
