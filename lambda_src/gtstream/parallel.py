"""A bounded pool of threads for the job end's ledger writes (each one a network round trip).

DynamoDB answers a single-item write in single-digit milliseconds; one after another, 10^6 of them
take longer than a Lambda may run (15 minutes). Threads overlap the waits (boto3 clients are
thread-safe; gtstream.aws.Clients sizes their connection pools to WORKERS).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from gtstream.aws import POOL_CONNECTIONS

WORKERS = POOL_CONNECTIONS
IN_FLIGHT = 4 * WORKERS  # submitted but not finished: the reader never runs far ahead of the writes


class BoundedPool:
    """Run calls on WORKERS threads, at most IN_FLIGHT at a time (``submit`` waits for room).

    ``drain`` waits until everything submitted is done and returns the results in submission
    order; the first exception of a call is raised there (the job end fails and is retried from
    its last checkpoint, every write being idempotent)."""

    def __init__(self, workers: int = WORKERS, in_flight: int = IN_FLIGHT) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gtstream-write")
        self._room = threading.Semaphore(in_flight)
        self._futures: list[Future[Any]] = []

    def submit(self, call: Callable[..., Any], *args: Any) -> None:
        self._room.acquire()
        try:
            future = self._executor.submit(call, *args)
        except BaseException:
            self._room.release()
            raise
        future.add_done_callback(lambda _: self._room.release())
        self._futures.append(future)

    def drain(self) -> list[Any]:
        futures, self._futures = self._futures, []
        return [future.result() for future in futures]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BoundedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
