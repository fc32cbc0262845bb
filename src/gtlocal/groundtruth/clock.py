"""The emulated clock and the ticker that applies time to the jobs.

Emulated time is wall-clock time plus an offset that only ``advance`` moves (``POST
/_groundtruth/clock``). The local cloud's moto SQS follows the same clock
(``gtlocal.shims.follow_clock``), so delays, visibility timeouts and retention pass with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

LOG = logging.getLogger("gtlocal.groundtruth.clock")
TICK_SECONDS = 0.25


class Clock:
    """Wall-clock time plus an offset, to the millisecond like the timestamps of the real API."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return round(time.time() + self.offset, 3)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the emulated clock only moves forward")
        self.offset += seconds

    def reset(self) -> None:
        self.offset = 0.0


class Ticker:
    """Calls ``tick`` every ``interval`` real seconds on a daemon thread, until ``stop``."""

    def __init__(self, tick: Callable[[], None], interval: float = TICK_SECONDS) -> None:
        self._tick = tick
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gtlocal-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._tick()
            except Exception:  # keep ticking; one broken job must not stop the others
                LOG.exception("tick failed")
