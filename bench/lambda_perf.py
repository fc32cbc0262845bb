"""Lambda performance side by side with a bare reference (issue 11).

- ``lambda-intake`` (the local cloud, ``gtlocal serve``): intake of N dropped images (N = 200, 1,000,
  10,000; ``BENCH_INTAKE_SIZES``) in SQS-sized batches of 10 -- ``gtstream.intake.process`` per
  image, ``dispatch`` per batch (as the handler does), a job InProgress -- against a bare loop
  doing only the physical minimum per image (S3 GetObject + S3 PutObject + 1/10 of an SNS
  PublishBatch) on the same drops; the requests per image by operation; a trickle (batches of
  one) p50/p99; a cold Lambda's first call against its second (fresh interpreter; the handler
  import, i.e. the init phase, apart).
  The local cloud has no job of ours InProgress without a whole deployment: DescribeLabelingJob
  is sent for real (the emulator answers "no such job") and the answer taken as InProgress.
- ``lambda-job-end``: a job end of N objects (10^4, 10^5, 10^6; ``BENCH_JOB_END_SIZES``): the
  output-manifest merge into the ledger, the SENT sweep, the child's manifest listing and its
  SENT marks -- our code and botocore for real, DynamoDB answered by a stand-in that waits
  ``BENCH_DDB_LATENCY_MS`` (default 10: the top of DynamoDB's documented "single-digit
  millisecond" latency) per request and answers like DynamoDB (no evaluation: the unit tests pin
  the writes' meaning against moto). The bare reference sends the same number of object writes
  as plain BatchWriteItem requests of 25 through the same stand-in and pool of threads. Each size
  runs in a fresh interpreter (its peak RSS is the job end's).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import register

REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = "benchp"
BATCH = 10
DEFAULT_SIZES = (200, 1000, 10000)
DEFAULT_JOB_END_SIZES = (10_000, 100_000, 1_000_000)
TRICKLE = 100
LAMBDA_MAX_SECONDS = 900


def _env(endpoint_env: dict[str, str]) -> dict[str, str]:
    queue = f"{endpoint_env.get('AWS_ENDPOINT_URL', '')}/{ACCOUNT}/{PREFIX}-job-events"
    return {
        **endpoint_env,
        "PROJECT_PREFIX": PREFIX,
        "LEDGER_TABLE": f"{PREFIX}-ledger",
        "DROP_BUCKET": f"{PREFIX}-drop",
        "INPUT_BUCKET": f"{PREFIX}-input",
        "OUTPUT_BUCKET": f"{PREFIX}-output",
        "INPUT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-gt-input",
        "OUTPUT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-gt-output",
        "NOTIFICATION_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-notifications",
        "PROJECT_CONFIG_URI": f"s3://{PREFIX}-instructions/config/project.json",
        "GROUNDTRUTH_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-groundtruth",
        "JOB_EVENTS_QUEUE_URL": queue,
    }


def _image(n: int) -> bytes:
    """A 640x480 JPEG (~25 kB), different bytes for every n."""
    from PIL import Image

    image = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    image.putpixel((n % 640, (n // 640) % 480), (n % 251, 7, 200))
    image.putpixel((0, 0), ((n >> 8) % 256, (n >> 16) % 256, n % 256))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _create_resources(env: dict[str, str]) -> None:
    import boto3

    from gtstream.ledger import table_definition

    boto3.client("dynamodb").create_table(**table_definition(env["LEDGER_TABLE"]))
    s3 = boto3.client("s3")
    for kind in ("drop", "input", "output", "instructions"):
        s3.create_bucket(Bucket=f"{PREFIX}-{kind}")
    sns = boto3.client("sns")
    for topic in ("gt-input", "gt-output", "notifications"):
        sns.create_topic(Name=f"{PREFIX}-{topic}")
    boto3.client("sqs").create_queue(QueueName=f"{PREFIX}-job-events")


def _upload(keys: list[str], first: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    s3 = boto3.client("s3")
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda kn: s3.put_object(Bucket=f"{PREFIX}-drop", Key=kn[0], Body=_image(kn[1])),
                [(k, first + i) for i, k in enumerate(keys)],
            )
        )


class _InProgressJobs:
    """DescribeLabelingJob sent for real (its cost paid), the answer taken as InProgress."""

    def __init__(self, deps: Any) -> None:
        self._deps = deps

    def describe(self, name: str) -> Any:
        from gtstream.aws import JobDescription

        # the emulator has no such job: its answer is not the point, its cost is
        with contextlib.suppress(Exception):
            self._deps.clients.client("sagemaker").describe_labeling_job(LabelingJobName=name)
        return JobDescription(name, "InProgress", "category", None, f"s3://{PREFIX}-output/", None, {}, None)


class _Counts:
    def __init__(self, clients: Any) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        for service, client in clients.created().items():
            client.meta.events.register("request-created", self._hook(service))

    def _hook(self, service: str) -> Any:
        def count(operation_name: str, **_: Any) -> None:
            with self._lock:
                self.counts[f"{service}:{operation_name}"] += 1

        return count

    def take(self) -> Counter[str]:
        counts, self.counts = self.counts, Counter()
        return counts


def _ours(deps: Any, keys: list[str], batch: int = BATCH) -> list[float]:
    from gtstream.intake import Drop, dispatch, process

    seconds = []
    for start in range(0, len(keys), batch):
        began = time.perf_counter()
        outcomes = [process(deps, Drop(f"{PREFIX}-drop", key)) for key in keys[start : start + batch]]
        dispatch(deps, outcomes)
        seconds.append(time.perf_counter() - began)
    return seconds


def _bare(keys: list[str]) -> None:
    import boto3

    s3, sns = boto3.client("s3"), boto3.client("sns")
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-gt-input"
    for start in range(0, len(keys), BATCH):
        entries: list[Any] = []
        for key in keys[start : start + BATCH]:
            data = s3.get_object(Bucket=f"{PREFIX}-drop", Key=key)["Body"].read()
            s3.put_object(Bucket=f"{PREFIX}-input", Key=f"bare/{key}", Body=data, ContentType="image/jpeg")
            entries.append({"Id": str(len(entries)), "Message": json.dumps({"source-ref": f"s3://x/{key}"})})
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)


def _rounds(n: int) -> int:
    """Paired rounds at size n: BENCH_INTAKE_ROUNDS (default 3) up to 1,000 images; one above."""
    return 1 if n > 1_000 else max(1, int(os.environ.get("BENCH_INTAKE_ROUNDS", "3")))


def _round(deps: Any, server: Any, keys: list[str], ours_first: bool) -> dict[str, float]:
    """One paired round on the same drops: ours and the bare loop, in the given order. Wall seconds
    and CPU seconds (this process's + the local cloud's) of each."""
    from bench.localcloud import Meter

    figures: dict[str, float] = {}
    for side in ("ours", "bare") if ours_first else ("bare", "ours"):
        with Meter(server) as meter:
            if side == "ours":
                _ours(deps, keys)
            else:
                _bare(keys)
        figures[f"{side}_wall"] = meter.wall
        figures[f"{side}_cpu"] = meter.client_cpu + (meter.cpu or 0.0)
    return figures


@register("lambda-intake")
def lambda_intake() -> dict[str, Any]:
    """Per size N: paired rounds (ours and the bare loop on the same N new drops, the order
    alternating), medians over the rounds; ``ours_vs_bare`` is the median of the rounds' ratios of
    wall time, ``cpu_ours_vs_bare`` the same with CPU seconds (client + local cloud: what the
    machine's load moves least). ``flat_vs_first`` divides each size's ratio by the first size's."""
    from bench.localcloud import local_cloud
    from gtstream.config import Settings
    from gtstream.deps import Deps

    sizes = [
        int(n) for n in os.environ.get("BENCH_INTAKE_SIZES", ",".join(map(str, DEFAULT_SIZES))).split(",")
    ]
    figures: dict[str, Any] = {"load_at_start": round(os.getloadavg()[0], 1)}
    with local_cloud() as server:
        env = _env({k: v for k, v in os.environ.items() if k.startswith("AWS_")})
        os.environ.update(env)
        _create_resources(env)
        deps = Deps.build(Settings.from_env(env))
        assert deps.clients is not None
        deps.clients.warm()
        deps = replace(deps, jobs=_InProgressJobs(deps))  # type: ignore[arg-type]
        ledger = deps.ledger
        assert ledger.acquire_lock("bench", 60) and ledger.set_active_job(
            "bench", f"{PREFIX}-0001", 1, "category"
        )
        ledger.release_lock("bench")
        deps.project_config_or_none()  # read once per container (cached), as in a warm Lambda
        counts = _Counts(deps.clients)
        first = 0
        first_ratio: float | None = None
        for n in sizes:
            load_before = os.getloadavg()[0]
            rounds = []
            for r in range(_rounds(n)):
                keys = [f"n{n}r{r}/{i:06d}.jpg" for i in range(n)]
                _upload(keys, first)
                first += n
                counts.take()
                rounds.append(_round(deps, server, keys, ours_first=r % 2 == 0))
                requests = counts.take()
            ratio = statistics.median(x["bare_wall"] / x["ours_wall"] for x in rounds)
            figures[f"n{n}_rounds"] = len(rounds)
            figures[f"n{n}_ours_images_per_s"] = round(
                n / statistics.median(x["ours_wall"] for x in rounds), 1
            )
            figures[f"n{n}_bare_images_per_s"] = round(
                n / statistics.median(x["bare_wall"] for x in rounds), 1
            )
            figures[f"n{n}_ours_vs_bare"] = round(ratio, 2)
            figures[f"n{n}_ours_vs_bare_by_round"] = [
                round(x["bare_wall"] / x["ours_wall"], 2) for x in rounds
            ]
            figures[f"n{n}_cpu_ms_per_image_ours_bare"] = [
                round(1000 * statistics.median(x[f"{side}_cpu"] for x in rounds) / n, 1)
                for side in ("ours", "bare")
            ]
            figures[f"n{n}_cpu_ours_vs_bare"] = round(
                statistics.median(x["bare_cpu"] / x["ours_cpu"] for x in rounds), 2
            )
            first_ratio = first_ratio or ratio
            figures[f"n{n}_flat_vs_first"] = round(ratio / first_ratio, 2)
            figures[f"n{n}_requests_per_image"] = round(sum(requests.values()) / n, 2)
            # the machine is shared: its 1-minute load average when this size started and ended
            figures[f"n{n}_load_start_end"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
            if n == sizes[min(1, len(sizes) - 1)]:
                figures["requests_per_image_by_operation"] = {
                    op: round(c / n, 2) for op, c in sorted(requests.items())
                }
            # as it goes (a long run stopped half way still tells what it measured)
            print(json.dumps({k: v for k, v in figures.items() if k.startswith(f"n{n}_")}), file=sys.stderr)
        keys = [f"trickle/{i:04d}.jpg" for i in range(TRICKLE)]
        _upload(keys, first)
        figures["trickle_load_start"] = round(os.getloadavg()[0], 1)
        ms = sorted(s * 1000 for s in _ours(deps, keys, batch=1))
        figures["trickle_ms_p50"] = round(statistics.median(ms), 1)
        figures["trickle_ms_p99"] = round(ms[int(0.99 * (len(ms) - 1))], 1)
        figures.update(_cold_starts(env, first + TRICKLE))
    figures["batch"] = BATCH
    figures["machine"] = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end"
    return figures


COLD_STARTS = 5


def _cold_starts(env: dict[str, str], first: int) -> dict[str, Any]:
    """BENCH_COLD_STARTS (default 5) fresh interpreters, each an execution environment's init phase,
    first call and a second (warm) call on new images; the medians, and the ratio's range."""
    runs = []
    for run in range(int(os.environ.get("BENCH_COLD_STARTS", str(COLD_STARTS)))):
        keys = [f"cold/{run}-a.jpg", f"cold/{run}-b.jpg"]
        _upload(keys, first + 2 * run)
        runs.append(_cold_in_subprocess({**env, "BENCH_COLD_KEYS": ",".join(keys)}))
    ratios = sorted(r["first_ms"] / r["warm_ms"] for r in runs)
    return {
        "cold_runs": len(runs),
        "cold_init_ms_median": round(statistics.median(r["init_ms"] for r in runs), 1),
        "cold_first_call_ms_median": round(statistics.median(r["first_ms"] for r in runs), 1),
        "warm_call_ms_median": round(statistics.median(r["warm_ms"] for r in runs), 1),
        "first_vs_warm_median": round(statistics.median(ratios), 2),
        "first_vs_warm_range": [round(ratios[0], 2), round(ratios[-1], 2)],
    }


def _cold_in_subprocess(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.lambda_perf", "cold"],
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def _s3_event(key: str) -> dict[str, Any]:
    body = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": f"{PREFIX}-drop"}, "object": {"key": key, "size": 1}},
            }
        ]
    }
    return {
        "Records": [
            {
                "messageId": key,
                "receiptHandle": key,
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-intake",
                "awsRegion": REGION,
            }
        ]
    }


def _cold() -> None:
    """A fresh execution environment: the init phase (the handler import), its first call, a second
    (two new images, each sent to the job: the same work). DescribeLabelingJob as in lambda-intake."""
    context = SimpleNamespace(
        function_name=f"{PREFIX}-intake",
        memory_limit_in_mb=1024,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-intake",
        aws_request_id="bench",
    )
    import gtstream.aws

    def describe(jobs: Any, name: str) -> Any:
        return _InProgressJobs(SimpleNamespace(clients=jobs._clients)).describe(name)

    gtstream.aws.LabelingJobs.describe = describe  # type: ignore[method-assign]
    began = time.perf_counter()
    from gtstream.handlers import intake

    init = time.perf_counter() - began
    calls = []
    for key in os.environ.get("BENCH_COLD_KEYS", "cold/a.jpg,cold/b.jpg").split(","):
        began = time.perf_counter()
        if os.environ.get("BENCH_PROFILE_COLD"):
            import cProfile
            import pstats

            profile = cProfile.Profile()
            response = profile.runcall(intake.handler, _s3_event(key), context)
            pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        elif os.environ.get("BENCH_COLD_MODULES"):
            before = set(sys.modules)
            response = intake.handler(_s3_event(key), context)
            print("imported in the call:", sorted(set(sys.modules) - before), file=sys.stderr)
        else:
            response = intake.handler(_s3_event(key), context)
        calls.append(time.perf_counter() - began)
        assert response == {"batchItemFailures": []}, response
    first, warm = calls
    print(json.dumps({"init_ms": init * 1000, "first_ms": first * 1000, "warm_ms": warm * 1000}))


# ---- job end -------------------------------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class DynamoStandIn:
    """Answers the ledger's DynamoDB requests after ``latency`` seconds, like DynamoDB would when
    every condition holds; a Query of ``state_key`` serves ``served[state_key]`` items in pages."""

    def __init__(self, latency: float, served: dict[str, int], label: str) -> None:
        self.latency = latency
        self.served = served
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._label = label

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.dynamodb", self.answer)

    def _page(self, params: dict[str, Any]) -> dict[str, Any]:
        state = params["ExpressionAttributeValues"][":sk"]["S"]
        start = int(params.get("ExclusiveStartKey", {}).get("pk", {}).get("S", "0"))
        end = min(start + int(params.get("Limit", 1000)), self.served.get(state, 0))
        items = [
            {
                "pk": {"S": f"OBJ#{n:064x}"},
                "sk": {"S": "OBJ"},
                "object_id": {"S": f"{n:064x}"},
                "state": {"S": state},
                "state_key": {"S": state},
                "input_uri": {"S": f"s3://bench-input/images/{n:064x}.jpg"},
                "label": {"S": self._label},
                "updated_at": {"S": "2026-11-28T00:00:00.000000Z"},
            }
            for n in range(start, end)
        ]
        if "ProjectionExpression" in params:
            keep = set(params["ExpressionAttributeNames"].values())
            items = [{k: v for k, v in item.items() if k in keep} for item in items]
        page: dict[str, Any] = {"Items": items, "Count": len(items)}
        if end < self.served.get(state, 0):
            page["LastEvaluatedKey"] = {"pk": {"S": str(end)}}
        return page

    def answer(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        with self._lock:
            self.counts[operation] += 1
        body: dict[str, Any] = {}
        if operation == "Query":
            body = self._page(json.loads(request.body))
        elif operation == "BatchWriteItem":
            body = {"UnprocessedItems": {}}
        time.sleep(self.latency)
        headers = {"x-amzn-requestid": "bench", "content-type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 200, headers, _Raw(json.dumps(body).encode()))  # type: ignore[arg-type]


class _Lines:
    """The store of a job end: its output manifest (synthetic lines); no project config published
    (a first stage with the default settings: the config is read once per container)."""

    def __init__(self, lines: int) -> None:
        self.lines = lines

    def get_json(self, uri: str) -> None:
        return None

    def iter_lines(self, uri: str) -> Iterator[bytes]:
        from botocore.response import StreamingBody

        from bench.lambdas import SyntheticManifest

        body = StreamingBody(SyntheticManifest(self.lines), content_length=None)  # type: ignore[arg-type]
        return (line for line in body.iter_lines(chunk_size=64 * 1024) if line.strip())


class _Quiet:
    def notify(self, *args: Any, **kwargs: Any) -> None:
        pass


def job_end_figures(objects: int, latency: float) -> dict[str, Any]:
    """Our job end of `objects` objects, then the bare reference, through the stand-in."""
    from bench.lambdas import own_peak_rss_mb
    from gtstream import chaining
    from gtstream.aws import JobDescription
    from gtstream.config import Settings
    from gtstream.deps import Deps
    from gtstream.parallel import BoundedPool

    env = _env({"AWS_ENDPOINT_URL": "https://dynamodb.invalid", "AWS_REGION": REGION})
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": REGION})
    deps = Deps.build(Settings.from_env(env))
    assert deps.clients is not None
    labeled, failed = objects - objects // 10, objects // 10
    label = json.dumps({"category": 1, "category-metadata": {"class-name": "dog", "job-name": "x"}})
    stand_in = DynamoStandIn(latency, {"LABELED": labeled, "PENDING": failed}, label)
    stand_in_client = deps.clients.client("dynamodb")
    stand_in.attach(stand_in_client)
    deps = replace(deps, store=_Lines(objects), notifier=_Quiet())  # type: ignore[arg-type]
    desc = JobDescription("bench-0001", "Completed", "category", "s3://bench-output/x", "", None, {}, None)

    began, cpu_began = time.perf_counter(), time.process_time()
    stats = chaining.handle_job_end(deps, desc)
    merged = time.perf_counter() - began
    with tempfile.TemporaryFile("w+") as spool:
        listed = sum(1 for _ in chaining._labeled_and_pending_lines(deps, "category", spool))
        spool.seek(0)
        chaining._mark_spooled_sent(deps, "bench-0002", spool)
    ours, ours_cpu = time.perf_counter() - began, time.process_time() - cpu_began
    requests = dict(stand_in.counts)
    assert stats is not None and stats.lines == objects and listed == objects

    writes = requests.get("UpdateItem", 0) + 25 * requests.get("TransactWriteItems", 0)
    stand_in.counts.clear()
    dynamodb = stand_in_client
    item = {"pk": {"S": "x"}, "sk": {"S": "OBJ"}, "state": {"S": "LABELED"}}
    began = time.perf_counter()
    with BoundedPool() as pool:
        for start in range(0, writes, 25):
            batch = [{"PutRequest": {"Item": item}}] * min(25, writes - start)
            pool.submit(lambda b: dynamodb.batch_write_item(RequestItems={"t": b}), batch)
            if start % 250_000 == 0:
                pool.drain()
        pool.drain()
    bare = time.perf_counter() - began
    return {
        "objects": objects,
        "latency_ms": latency * 1000,
        "ours_s": round(ours, 1),
        "ours_merge_s": round(merged, 1),
        # CPU seconds of the process: on a contended machine the better predictor of a Lambda's time
        # (one vCPU at 1,769 MB); the waits overlap on the pool (requests x latency / 32 threads)
        "ours_cpu_s": round(ours_cpu, 1),
        "ours_requests": requests,
        "ours_requests_per_object": round(sum(requests.values()) / objects, 3),
        "ours_object_writes_per_object": round(writes / objects, 3),
        "bare_batched_writes_s": round(bare, 1),
        "bare_requests": stand_in.counts.get("BatchWriteItem", 0),
        "peak_rss_mb": own_peak_rss_mb(),
        "fits_15_min": ours < LAMBDA_MAX_SECONDS,
    }


@register("lambda-job-end")
def lambda_job_end() -> dict[str, Any]:
    sizes = os.environ.get("BENCH_JOB_END_SIZES", ",".join(map(str, DEFAULT_JOB_END_SIZES)))
    latency_ms = float(os.environ.get("BENCH_DDB_LATENCY_MS", "10"))
    figures: dict[str, Any] = {"stand_in_latency_ms": latency_ms}
    for n in (int(s) for s in sizes.split(",")):
        out = subprocess.run(
            [sys.executable, "-m", "bench.lambda_perf", "jobend", str(n), str(latency_ms / 1000)],
            cwd=Path(__file__).resolve().parent.parent,
            check=True,
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        figures[f"n{n}"] = result
    return figures


if __name__ == "__main__" and len(sys.argv) >= 2:
    if sys.argv[1] == "cold":
        _cold()
    elif sys.argv[1] == "jobend":
        print(json.dumps(job_end_figures(int(sys.argv[2]), float(sys.argv[3]))))
