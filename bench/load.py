"""Load (issue 10): 10,000 drops in bursts while the running job ends and its chain starts.

``load`` starts the local cloud (``gtlocal serve``; or ``BENCH_LOCALCLOUD_ENDPOINT``, see
bench.localcloud), makes the SDK deployment (``gtlocal.deploy.deploy_project``) and drops
``BENCH_LOAD_DROPS`` (default 10,000) small, distinct JPEGs in bursts of ``BENCH_LOAD_BURST``
(default 500; S3 PutObject from a pool of threads). The first burst creates job 1, which the
emulated clock starts. An upload thread then sends the other bursts, at most one burst ahead of
the intake, while the local runner (``gtlocal.runner.run_until_idle``: one Lambda invocation at a
time, as the functions' roles) drains the queues. Right after half the drops are uploaded, that
thread has workers label up to 50 of job 1's objects and expires job 1 (the emulator's
``job_expiry_seconds`` set just behind the emulated clock for one tick, then back: a harsher, not a
kinder, expiry than AWS's 30 days) with drops queued; its end chains job 2, which the clock starts
while the bursts go on (they wait at three quarters until it started). At the end,
``run_until_idle(reconcile=True)`` and issue 10's invariants (``gtlocal.testing.check_invariants``):
every drop known to the ledger (lost 0), every object sent, labeled or quarantined with a reason,
no object twice in one job nor open in two running jobs, exactly the two jobs of the chain, every
DLQ empty. The Lambdas' log lines go to build/bench/load-lambdas.log. A broken invariant fails the run.

Figures: drops/s sustained (drops / wall seconds from the first upload to idle, the runner and the
uploads sharing this machine), the wall seconds, the chain, the states, the invariants' counts.
"""

from __future__ import annotations

import io
import os
import random
import resource
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import register

REGION = "us-east-1"
PREFIX = "ld"
DEFAULT_DROPS = 10_000
DEFAULT_BURST = 500
UPLOAD_THREADS = 8
# Jobs stay Initializing until the bench moves the emulated clock (as in the behaviour suite).
INITIALIZING_SECONDS = 600
LOG = Path("build/bench/load-lambdas.log")
MAX_ROUNDS = 1_000_000  # run_until_idle's bound when it runs until idle
# While uploading, the runner returns after this many rounds (up to 10 drops each) so that the
# job end and the child's start happen with drops still arriving.
ROUNDS_PER_RUN = 50
# Workers label this many of job 1's objects before it ends (the chain carries their labels); one
# control call labels them all, and the emulator takes long per label on a loaded machine.
MAX_LABELS = 50
CONTROL_TIMEOUT_SECONDS = 600


def image_bytes(seed: int) -> bytes:
    """A small (64x48) JPEG, distinct per seed."""
    from PIL import Image

    rng = random.Random(seed)
    image = Image.new("RGB", (64, 48), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(20):
        image.putpixel((rng.randrange(64), rng.randrange(48)), (rng.randrange(256), seed % 256, 0))
    image.putpixel((0, 0), (seed % 256, (seed >> 8) % 256, (seed >> 16) % 256))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


@dataclass
class LoadResult:
    """What one load run did and found (``figures()`` for the bench's output)."""

    drops: int
    burst: int
    seconds: float = 0.0
    deploy_seconds: float = 0.0
    upload_seconds: float = 0.0
    runs: int = 0
    batches: dict[str, int] = field(default_factory=dict)
    handler_errors: int = 0
    reconciles: int = 0
    labeled_before_end: int = 0
    ended_after_drops: int = 0
    queued_at_end: int = 0
    intake_records: int = 0
    child_started_after_drops: int = 0
    invariants: Any = None

    def figures(self) -> dict[str, Any]:
        checked = self.invariants
        states = dict(sorted(checked.states.items()))
        return {
            "drops": self.drops,
            "bursts": f"{-(-self.drops // self.burst)} of up to {self.burst}",
            "drops_per_s_sustained": round(self.drops / self.seconds, 1),
            "wall_s": round(self.seconds, 1),
            "upload_s": round(self.upload_seconds, 1),
            "deploy_s (not in wall_s)": round(self.deploy_seconds, 1),
            "jobs_in_chain": len(checked.jobs),
            "job_end": (
                f"job 1 ({self.labeled_before_end} labeled) expired with {self.ended_after_drops} drops "
                f"uploaded, {self.queued_at_end} of them queued; job 2 started with "
                f"{self.child_started_after_drops} uploaded"
            ),
            "tasks_per_job": checked.tasks,
            "object_states": states,
            "runner": (
                f"{self.runs} runs, batches {self.batches}, handler errors {self.handler_errors}, "
                f"reconciles {self.reconciles}"
            ),
            "lost": len(checked.lost),
            "sent_twice": sum(len(v) for v in checked.sent_twice.values()),
            "open_in_two_jobs": len(checked.open_twice),
            "extra_children": max(0, len(checked.jobs) - len(checked.expected_jobs)),
            "dead_letters": sum(checked.dead_letters.values()),
            "violations": checked.violations() or "none",
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }


class Uploader:
    """Uploads bursts of drops from a thread (S3 PutObject from a pool); counts what is uploaded."""

    def __init__(
        self, deployment: dict[str, Any], drops: int, burst: int, first: int, at_half: Callable[[], None]
    ) -> None:
        import boto3

        self._s3 = boto3.session.Session(region_name=deployment["region"]).client("s3")
        self._bucket = deployment["buckets"]["drop"]
        self._drops, self._burst, self._next = drops, burst, first
        self._progress = threading.Condition()
        self.uploaded = first
        self.processed = 0  # drops the intake has handled (``handled``); the uploads stay a burst ahead
        # ``at_half`` runs (in this thread) once half the drops are uploaded, the last burst still
        # queued; the uploads wait at three quarters until job 1's child started (``child_started``).
        self._at_half = at_half
        self.half_done = False
        self.child_started = threading.Event()
        self.stopped = False
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, name="bench-load-uploader", daemon=True)

    def put(self, seeds: range) -> None:
        def one(seed: int) -> None:
            self._s3.put_object(Bucket=self._bucket, Key=f"load/{seed:06d}.jpg", Body=image_bytes(seed))

        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(one, seeds))

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        began = time.perf_counter()
        try:
            while self._next < self._drops:
                if self._next >= 3 * self._drops // 4:
                    self.child_started.wait()
                with self._progress:
                    self._progress.wait_for(
                        lambda: self.stopped or self.uploaded - self.processed <= self._burst
                    )
                if self.stopped:
                    return
                seeds = range(self._next, min(self._drops, self._next + self._burst))
                self.put(seeds)
                self._next = seeds.stop
                with self._progress:
                    self.uploaded = seeds.stop
                if not self.half_done and seeds.stop >= self._drops // 2:
                    self._at_half()
                    self.half_done = True
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self.seconds = time.perf_counter() - began

    def done(self) -> bool:
        return not self._thread.is_alive()

    def _may_upload(self) -> bool:
        return self.stopped or self.uploaded - self.processed <= self._burst

    def handled(self, records: int, *, idle: bool) -> None:
        """The runner handled ``records`` more drops (``idle``: and left the intake queue empty)."""
        with self._progress:
            self.processed = self.uploaded if idle else self.processed + records
            self._progress.notify_all()

    def stop(self) -> None:
        """Upload no further burst (after an error of the main thread)."""
        with self._progress:
            self.stopped = True
            self._progress.notify_all()
        self.child_started.set()

    def join(self) -> None:
        self._thread.join()
        if self.error is not None:
            raise RuntimeError(f"uploads failed: {self.error!r}") from self.error


def run_load(cloud: Any, drops: int, burst: int, *, prefix: str = PREFIX) -> LoadResult:
    """Deploy the project on ``cloud`` (a ``gtlocal.testing.LocalCloud`` with the AWS environment
    pointing at it) and run the load (module docstring); return what it did and found."""
    import boto3

    from gtlocal.deploy import deploy_project, publish_project_config
    from gtlocal.runner import RunStats, run_until_idle
    from gtlocal.testing import check_invariants

    if drops < 4 * burst:
        raise ValueError(f"BENCH_LOAD_DROPS ({drops}) must be at least four bursts ({4 * burst})")
    deploying = time.perf_counter()
    deployment = deploy_project(prefix, region=cloud.region, environment={"PENDING_STALE_SECONDS": "0"})
    publish_project_config(deployment)
    control = cloud.control
    control.update_settings(initializing_seconds=INITIALIZING_SECONDS)
    jobs = [f"{prefix}-0001", f"{prefix}-0002"]
    result = LoadResult(drops, burst)

    def run(*, max_rounds: int = MAX_ROUNDS, reconcile: bool = False) -> RunStats:
        stats = run_until_idle(deployment, max_rounds=max_rounds, reconcile=reconcile)
        result.runs += 1
        for kind, n in stats.invocations.items():
            result.batches[kind] = result.batches.get(kind, 0) + n
        result.handler_errors += stats.handler_errors
        result.intake_records += stats.succeeded.get("intake", 0)
        result.reconciles += stats.reconciles
        return stats

    result.deploy_seconds = time.perf_counter() - deploying
    began = time.perf_counter()
    sagemaker = boto3.session.Session(region_name=cloud.region).client("sagemaker")
    sqs = boto3.session.Session(region_name=cloud.region).client("sqs")

    def expire_job_1() -> None:
        """Workers label some of job 1's objects, then it expires, drops queued and to come."""
        view = control.job(jobs[0])
        available = sum(1 for o in view["objects"] if o["state"] == "available")
        result.labeled_before_end = control.workforce(jobs[0], label=min(available // 3, MAX_LABELS))[
            "labeled"
        ]
        counts = sqs.get_queue_attributes(
            QueueUrl=deployment["queues"]["intake"]["url"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        result.queued_at_end = sum(int(v) for v in counts.values())
        result.ended_after_drops = uploader.uploaded
        # The emulator reads job_expiry_seconds at each tick: job 1 is due 1 s from now. (5 s of
        # emulated time pass: less than the intake queue's visibility timeout, so the messages the
        # runner holds meanwhile are not delivered again because of it.)
        created = sagemaker.describe_labeling_job(LabelingJobName=jobs[0])["CreationTime"].timestamp()
        expiry = control.settings()["job_expiry_seconds"]
        control.update_settings(job_expiry_seconds=control.now() - created + 1, idle_stop_seconds=90 * 86_400)
        control.advance_clock(5)
        control.update_settings(job_expiry_seconds=expiry)  # job 2 gets the usual lifetime

    uploader = Uploader(deployment, drops, burst, first=burst, at_half=expire_job_1)
    uploader.put(range(burst))  # the first burst creates job 1; the clock starts it
    run()
    control.advance_clock(INITIALIZING_SECONDS + 5)
    run()
    uploader.start()
    try:
        _drive(run, control, sagemaker, uploader, jobs, result)
    except BaseException:
        uploader.stop()
        raise
    uploader.join()
    result.upload_seconds = uploader.seconds
    stats = run(reconcile=True)
    result.seconds = time.perf_counter() - began
    result.invariants = check_invariants(cloud, deployment, stats.dead_letters, jobs)
    return result


def _drive(
    run: Callable[..., Any],
    control: Any,
    sagemaker: Any,
    uploader: Uploader,
    jobs: list[str],
    result: LoadResult,
) -> None:
    """Run the runner while the uploads go on (job 1 ends at half of them); start job 1's child."""
    child_started = False
    while True:
        finished = uploader.done()
        ended = uploader.half_done
        if ended and not child_started and _exists(sagemaker, jobs[1]):
            control.advance_clock(INITIALIZING_SECONDS + 5)  # the child leaves Initializing
            result.child_started_after_drops = uploader.uploaded
            child_started = True
            uploader.child_started.set()
        stats = run(max_rounds=ROUNDS_PER_RUN)
        idle = stats.rounds < ROUNDS_PER_RUN
        uploader.handled(stats.succeeded.get("intake", 0), idle=idle)
        if ended and not child_started and idle and not _exists(sagemaker, jobs[1]):
            uploader.child_started.set()  # no child to wait for: the invariants will say so
        # the end: uploads over (or failed), queues empty, and the child (if the chain made one) started
        if finished and idle and (uploader.error or child_started or not _exists(sagemaker, jobs[1])):
            break


@contextmanager
def lambda_logs_to(path: Path) -> Iterator[Path]:
    """Send this process's standard output (the handlers' log lines and EMF metrics) to ``path``
    meanwhile: file descriptor 1 itself, as the loggers hold their own reference to it."""
    import sys

    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    saved = os.dup(1)
    with path.open("wb") as log:
        os.dup2(log.fileno(), 1)
        try:
            yield path
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _exists(sagemaker: Any, job: str) -> bool:
    try:
        sagemaker.describe_labeling_job(LabelingJobName=job)
    except sagemaker.exceptions.ResourceNotFound:
        return False
    return True


@register("load")
def load_burst() -> dict[str, Any]:
    from bench.localcloud import local_cloud
    from gtlocal.client import GroundTruthControl
    from gtlocal.testing import LocalCloud

    drops = int(os.environ.get("BENCH_LOAD_DROPS", str(DEFAULT_DROPS)))
    burst = int(os.environ.get("BENCH_LOAD_BURST", str(min(DEFAULT_BURST, max(1, drops // 4)))))
    with local_cloud() as server, lambda_logs_to(LOG) as log:
        control = GroundTruthControl(server.endpoint, CONTROL_TIMEOUT_SECONDS)
        cloud = LocalCloud(server.endpoint, REGION, control)
        result = run_load(cloud, drops, burst)
    figures = result.figures()
    figures["lambda_logs"] = str(log)
    if figures["violations"] != "none":
        raise RuntimeError(f"load: invariants broken: {figures['violations']}")
    return figures
