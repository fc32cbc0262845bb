"""Helpers for tests: start a local cloud on a free port and describe it as ``LocalCloud``;
empty a deployed project's data but keep its resources (``clean_project``, ``KeptDeployment``);
count the connections and requests boto3 clients make (``counting_connections``,
``requests_sent``)."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gtlocal.client import ControlApiError, GroundTruthControl


@dataclass(frozen=True)
class LocalCloud:
    endpoint: str
    region: str
    control: GroundTruthControl


def reset_local_cloud(cloud: LocalCloud) -> None:
    """Reset moto's state and the emulator (jobs, clock, settings)."""
    request = urllib.request.Request(f"{cloud.endpoint}/moto-api/reset", data=b"", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local endpoint
        response.read()
    cloud.control.reset()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_health(
    endpoint: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None
) -> float:
    """Wait until ``/_groundtruth/health`` answers; return the seconds it took.

    The local cloud starts in about a second on an idle machine; on a shared, loaded one
    (several test sessions on two cores) it has taken over 15 s, hence the generous limit."""
    control = GroundTruthControl(endpoint, timeout=2)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"local cloud exited with code {proc.returncode} before answering")
        try:
            control.health()
            return time.monotonic() - started
        except (OSError, ControlApiError):
            time.sleep(0.05)
    raise TimeoutError(f"local cloud at {endpoint} did not answer within {timeout} s")


@contextmanager
def running_local_cloud(port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``python -m gtlocal serve`` on a free port; stop it (and wait) at exit."""
    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "GTLOCAL_AWS_ENDPOINT"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gtlocal", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None,
    )
    try:
        wait_for_health(endpoint, proc=proc)
        yield endpoint, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def aws_environment(endpoint: str, region: str = "us-east-1") -> dict[str, str]:
    """The environment variables that point boto3 at the local cloud."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
    }


def allow_delivery(sqs: Any, queue_url: str, service: str, source_arn: str) -> None:
    """Give ``queue_url`` the queue policy AWS requires before ``service`` (``s3.amazonaws.com``,
    ``events.amazonaws.com``, ``sns.amazonaws.com``) delivers to it from ``source_arn`` (the local
    cloud drops deliveries the policy does not allow, as AWS does)."""
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sqs:SendMessage",
        "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
    }
    policy = {"Version": "2012-10-17", "Statement": [grant]}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})


def requests_sent(client: Any) -> int:
    """How many HTTP requests a boto3 client (or resource) has sent, over all its pools."""
    resource_client = getattr(getattr(client, "meta", None), "client", None)
    http = resource_client if resource_client is not None else client
    manager = http._endpoint.http_session._manager
    total = 0
    for key in manager.pools.keys():  # noqa: SIM118 - urllib3's pool container cannot be iterated
        pool = manager.pools.get(key)
        total += pool.num_requests if pool is not None else 0
    return total


@dataclass
class ConnectionCount:
    opened: int = 0


@contextmanager
def counting_connections() -> Iterator[ConnectionCount]:
    """Count the TCP connections this process opens meanwhile (every boto3 client: urllib3).

    urllib3 reconnects a pooled connection the server closed without a new pool entry, so its
    own counters do not show a server that answers ``Connection: close``; sockets do."""
    import urllib3.util.connection

    count = ConnectionCount()
    lock = threading.Lock()
    original = urllib3.util.connection.create_connection

    def create_connection(*args: Any, **kwargs: Any) -> Any:
        with lock:
            count.opened += 1
        return original(*args, **kwargs)

    urllib3.util.connection.create_connection = create_connection
    try:
        yield count
    finally:
        urllib3.util.connection.create_connection = original


DATA_BUCKETS = ("drop", "input", "output")
PASSING_TIME_SECONDS = 15 * 86_400  # > SQS's longest retention (14 days), visibility (12 h), delay


def clean_project(cloud: LocalCloud, deployment: dict[str, Any], *, strict: bool = True) -> list[str]:
    """Empty one deployed project's data and keep its resources: it then behaves as freshly deployed.

    Removed: every object version, delete marker and unfinished upload in its drop, input and
    output buckets, and the published project config (the folder of ``project_config_uri``) in
    its instructions bucket; every ledger item; the messages of its queues, their DLQs and every
    other SQS queue subscribed to its topics (e.g. a test's notification queue); the emulator's
    ``GroundTruth-<job>`` queues of its jobs and their subscriptions to its input topic; the
    emulator's jobs, clock and settings (``control.reset()``, which is not per project); the project
    config its functions' warm execution environments in this process cache (the runner's
    in-process handlers: ``gtstream.handlers.common.forget_project_configs``).
    Kept: the resources themselves, their settings and the deployment's own subscriptions, and
    the artifacts bucket (its objects may be deployed ones, e.g. the publisher script).

    PurgeQueue is not used (once per queue per 60 s: it would make a test's own purge fail):
    messages are received and deleted, those in flight or delayed after the emulated clock has
    passed their timers (``PASSING_TIME_SECONDS``). A message that still cannot be removed (e.g.
    a local cloud whose SQS does not follow the emulated clock) makes ``strict`` raise
    ``ProjectNotClean``; otherwise it is left and the queues holding such messages are returned
    (``[]``: everything was removed)."""
    from gtlocal.runner import aws_client

    region = deployment["region"]
    s3 = aws_client("s3", region)
    for role in DATA_BUCKETS:
        _empty_bucket(s3, deployment["buckets"][role])
    config_bucket, _, config_key = deployment["project_config_uri"][len("s3://") :].partition("/")
    _empty_bucket(s3, config_bucket, config_key.rpartition("/")[0] + "/")
    _empty_table(aws_client("dynamodb", region), deployment["ledger_table"])

    sqs, sns = aws_client("sqs", region), aws_client("sns", region)
    ground_truth = f"GroundTruth-{deployment['project_prefix'].lower()}-"
    queue_urls = [url for queue in deployment["queues"].values() for url in (queue["url"], queue["dlq_url"])]
    for topic in deployment["topics"].values():
        for subscription in _subscriptions(sns, topic):
            if subscription["Protocol"] != "sqs":
                continue
            name = subscription["Endpoint"].rsplit(":", 1)[1]
            if name.startswith(ground_truth):
                sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
                continue
            with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
                queue_urls.append(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    # Messages in flight (received, not deleted) or delayed are not receivable now. The emulator's
    # jobs are removed first (nothing adds messages any more); then the emulated clock, which
    # moto's SQS follows (shims.follow_clock), passes the longest visibility timeout (12 h), the
    # longest delay (15 min) and the longest retention (14 days) beyond any time a test reached:
    # every message is then receivable or expired. The clock returns to now with the final reset.
    reached = cloud.control.now()
    cloud.control.reset()
    cloud.control.advance_clock(max(0.0, reached - cloud.control.now()) + PASSING_TIME_SECONDS)
    left: list[str] = []
    for url in queue_urls:
        try:
            _empty_queue(sqs, url)
        except ProjectNotClean as exc:
            if strict:
                raise
            left.append(str(exc))
    for url in sqs.list_queues(QueueNamePrefix=ground_truth).get("QueueUrls", []):
        sqs.delete_queue(QueueUrl=url)
    cloud.control.reset()
    # Its functions read the published config as freshly deployed ones do: none cached from before.
    from gtcontract import names
    from gtstream.handlers.common import forget_project_configs

    prefix = deployment["project_prefix"]
    forget_project_configs({names.function_name(prefix, kind) for kind in names.FUNCTION_KINDS})
    return left


# Characters XML 1.0 cannot carry (and carriage returns, which XML parsers normalise): a key with
# one cannot be named in DeleteObjects' XML body ("XML related object key constraints",
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html), only in a URL.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")


def _empty_bucket(s3: Any, bucket: str, prefix: str = "") -> None:
    keys: list[dict[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if _NOT_IN_XML.search(entry["Key"]):
                s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
            else:
                keys.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
    for start in range(0, len(keys), 1000):  # DeleteObjects takes up to 1,000 keys
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


def _empty_table(dynamodb: Any, table: str) -> None:
    key_names = [k["AttributeName"] for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
    keys = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table,
        ProjectionExpression=", ".join(f"#k{i}" for i in range(len(key_names))),
        ExpressionAttributeNames={f"#k{i}": name for i, name in enumerate(key_names)},
    ):
        keys.extend(page["Items"])
    for start in range(0, len(keys), 25):  # BatchWriteItem takes up to 25 requests
        pending = {table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _subscriptions(sns: Any, topic: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
        found.extend(s for s in page["Subscriptions"] if s["SubscriptionArn"].startswith("arn:"))
    return found


QUEUE_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


class ProjectNotClean(RuntimeError):
    """A queue still holds messages that cannot be removed now (see ``_empty_queue``)."""


def _empty_queue(sqs: Any, url: str) -> None:
    """Receive and delete every visible message. Messages in flight or delayed cannot be received;
    only PurgeQueue would remove them, and it is not used: SQS allows one purge per queue per 60 s
    (moto enforces it too), so a purge here would make a test's own PurgeQueue fail."""
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages")
        if not messages:
            break
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(QUEUE_COUNTS))["Attributes"]
    if any(int(counts.get(name, 0)) for name in QUEUE_COUNTS):
        raise ProjectNotClean(f"{url}: messages in flight or delayed ({counts})")


class KeptDeployment:
    """A project deployed once and cleaned before each use (a module- or session-scoped fixture).

    ``clean()`` gives the deployment document of a project that behaves as freshly deployed:
    the first call resets the local cloud and deploys; later calls ``clean_project``, unless
    the local cloud was reset meanwhile (the ledger table is gone) or a queue holds messages in
    flight or delayed (``ProjectNotClean``): then it resets and deploys again."""

    def __init__(self, cloud: LocalCloud, deploy: Callable[[LocalCloud], dict[str, Any]]) -> None:
        self.cloud = cloud
        self._deploy = deploy
        self._document: dict[str, Any] | None = None

    def clean(self) -> dict[str, Any]:
        try:
            if self._document is None or not self._deployed(self._document):
                raise ProjectNotClean("not deployed (yet, or the local cloud was reset)")
            clean_project(self.cloud, self._document)
        except ProjectNotClean:
            reset_local_cloud(self.cloud)
            self._document = self._deploy(self.cloud)
        return copy.deepcopy(self._document)

    def _deployed(self, document: dict[str, Any]) -> bool:
        from gtlocal.runner import aws_client

        dynamodb = aws_client("dynamodb", document["region"])
        try:
            dynamodb.describe_table(TableName=document["ledger_table"])
        except dynamodb.exceptions.ResourceNotFoundException:
            return False
        return True


# --- issue 10's invariants ----------------------------------------------------------------------

SETTLED_STATES = frozenset({"SENT", "LABELED", "QUARANTINED"})
LIVE_JOB_STATUSES = frozenset({"Initializing", "InProgress"})


@dataclass
class Invariants:
    """What a project's state says about issue 10's invariants after recovery (``check_invariants``):
    every drop known to the ledger (none lost); every object sent, labeled or quarantined with a
    reason; no object sent twice to one job nor open (available to workers) in two running jobs
    (an ended job's unlabeled objects re-offered by its child are the chain, not a duplicate); the
    jobs exactly the expected chain (no parent with two children); every dead-letter queue empty."""

    drops: int
    states: dict[str, int]
    lost: list[str]
    quarantined_without_reason: list[str]
    jobs: list[str]
    expected_jobs: list[str]
    sent_twice: dict[str, list[str]]
    open_twice: list[str]
    dead_letters: dict[str, int]
    tasks: dict[str, int]

    def violations(self) -> list[str]:
        """One line per broken invariant (``[]``: all hold)."""
        found = []
        if self.lost:
            found.append(f"{len(self.lost)} drop(s) unknown to the ledger, e.g. {self.lost[:3]}")
        unsettled = {s: n for s, n in self.states.items() if s not in SETTLED_STATES}
        if unsettled:
            found.append(f"objects neither sent, labeled nor quarantined: {unsettled}")
        if self.quarantined_without_reason:
            found.append(f"quarantined without a reason: {self.quarantined_without_reason[:3]}")
        if self.jobs != self.expected_jobs:
            found.append(f"jobs {self.jobs}, expected the chain {self.expected_jobs}")
        for job, sources in self.sent_twice.items():
            found.append(f"{len(sources)} object(s) sent twice to {job}, e.g. {sources[:3]}")
        if self.open_twice:
            found.append(f"{len(self.open_twice)} object(s) open in two running jobs: {self.open_twice[:3]}")
        dead = {k: v for k, v in self.dead_letters.items() if v}
        if dead:
            found.append(f"messages in dead-letter queues: {dead}")
        return found


def check_invariants(
    cloud: LocalCloud, deployment: dict[str, Any], dead_letters: dict[str, int], expected_jobs: list[str]
) -> Invariants:
    """Read the project's ledger, drop bucket, jobs (SageMaker and the emulator's view) and check
    issue 10's invariants (``Invariants``); ``dead_letters`` is ``RunStats.dead_letters`` of the
    last ``run_until_idle``. Reads page by page and keeps only keys and states (10^4 objects fit)."""
    from collections import Counter

    from gtlocal.runner import aws_client

    region = deployment["region"]
    drop_records: set[str] = set()
    states: Counter[str] = Counter()
    no_reason: list[str] = []
    for page in (
        aws_client("dynamodb", region)
        .get_paginator("scan")
        .paginate(
            TableName=deployment["ledger_table"],
            ProjectionExpression="pk, #s, reason",
            ExpressionAttributeNames={"#s": "state"},
        )
    ):
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if pk.startswith("DROP#"):
                drop_records.add(pk[len("DROP#") :])
            elif pk.startswith("OBJ#"):
                state = item.get("state", {}).get("S", "")
                states[state] += 1
                if state == "QUARANTINED" and not item.get("reason", {}).get("S"):
                    no_reason.append(pk)
    drops = 0
    # docs/interfaces.md section 4: the drop keys (outside quarantine) the ledger does not know
    lost: list[str] = []
    s3 = aws_client("s3", region)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=deployment["buckets"]["drop"]):
        for entry in page.get("Contents", []):
            if entry["Key"].startswith("quarantine/"):
                continue
            drops += 1
            if entry["Key"] not in drop_records:
                lost.append(entry["Key"])
    jobs: list[str] = []
    for page in aws_client("sagemaker", region).get_paginator("list_labeling_jobs").paginate():
        jobs.extend(j["LabelingJobName"] for j in page["LabelingJobSummaryList"])
    sent_twice: dict[str, list[str]] = {}
    open_tasks: Counter[str] = Counter()
    tasks: dict[str, int] = {}
    for name in sorted(jobs):
        view = cloud.control.job(name)
        sources = Counter(str(o["source"]) for o in view["objects"])
        tasks[name] = len(sources)
        twice = sorted(s for s, n in sources.items() if n > 1)
        if twice:
            sent_twice[name] = twice
        if view["status"] in LIVE_JOB_STATUSES:
            open_tasks.update(str(o["source"]) for o in view["objects"] if o["state"] == "available")
    return Invariants(
        drops=drops,
        states=dict(states),
        lost=lost,
        quarantined_without_reason=no_reason,
        jobs=sorted(jobs),
        expected_jobs=list(expected_jobs),
        sent_twice=sent_twice,
        open_twice=sorted(s for s, n in open_tasks.items() if n > 1),
        dead_letters=dict(dead_letters),
        tasks=tasks,
    )
