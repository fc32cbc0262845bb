"""Lambda figures: handler import time (cold start) and the output-manifest merge's peak memory."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench import register

HANDLERS = ("intake", "job_events", "worker_events", "labels", "reconcile")
IMPORT_RUNS = 5


def import_time_ms(module: str) -> float:
    """Milliseconds to import `module` in a fresh interpreter (what a Lambda cold start pays)."""
    code = (
        "import time; t = time.perf_counter(); import importlib; "
        f"importlib.import_module({module!r}); print((time.perf_counter() - t) * 1000)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=dict(os.environ)
    )
    return float(out.stdout.strip().splitlines()[-1])


@register("handler-import")
def handler_import() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name in HANDLERS:
        runs = [import_time_ms(f"gtstream.handlers.{name}") for _ in range(IMPORT_RUNS)]
        figures[f"{name}_ms_median"] = round(statistics.median(runs), 1)
        figures[f"{name}_ms_max"] = round(max(runs), 1)
    figures["runs_each"] = IMPORT_RUNS
    return figures


class SyntheticManifest:
    """A readable stream producing an output manifest of `lines` lines on the fly (never held whole)."""

    def __init__(self, lines: int, job: str = "bench-0001", attribute: str = "category") -> None:
        self.lines = lines
        self.produced = 0
        self.size = 0
        self._buffer = b""
        self._job = job
        self._attribute = attribute
        # A line differs from the others of its kind (n % 10 == 9, else n % 3) only by its URI:
        # each kind is rendered by json.dumps once, then filled in (the same bytes, ~4x faster).
        marker = "\x00uri\x00"
        self._templates: dict[tuple[bool, int], tuple[bytes, bytes]] = {}
        for failed, label in [(True, 0)] + [(False, k) for k in range(3)]:
            text = self._render(marker, 9 if failed else label)
            before, after = text.encode().split(json.dumps(marker)[1:-1].encode())
            self._templates[(failed, label)] = (before, after)

    def _line(self, n: int) -> bytes:
        failed = n % 10 == 9
        before, after = self._templates[(failed, 0 if failed else n % 3)]
        return before + f"s3://bench-input/images/{n:064x}.jpg".encode() + after

    def _render(self, uri: str, n: int) -> str:
        meta: dict[str, Any] = {
            "job-name": f"labeling-job/{self._job}",
            "human-annotated": "yes",
            "creation-date": "2026-11-22T10:00:00.000000",
            "type": "groundtruth/image-classification",
        }
        line: dict[str, Any] = {"source-ref": uri}
        if n % 10 == 9:
            meta["failure-reason"] = "ClientError: Every worker assigned to the task declined it."
        else:
            line[self._attribute] = n % 3
            meta.update({"class-name": ["cat", "dog", "bird"][n % 3], "confidence": 0.93})
        line[f"{self._attribute}-metadata"] = meta
        return json.dumps(line) + "\n"

    def read(self, amount: int = -1) -> bytes:
        size = 64 * 1024 if amount is None or amount < 0 else amount
        parts, have = [self._buffer], len(self._buffer)
        while have < size and self.produced < self.lines:
            line = self._line(self.produced)
            parts.append(line)
            have += len(line)
            self.produced += 1
        self._buffer = b"".join(parts)
        chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        self.size += len(chunk)
        return chunk

    def close(self) -> None:
        self._buffer = b""


class CountingSink:
    """Stands in for the ledger: the merge's own memory is what is measured."""

    def __init__(self) -> None:
        self.labeled_calls = 0
        self.failed_calls = 0

    def labeled(self, object_id: str, uri: str, label: str) -> None:
        self.labeled_calls += 1

    def failed(self, object_id: str, reason: str) -> str | None:
        self.failed_calls += 1
        return "PENDING"


def merge_figures(lines: int, trace: bool = True) -> dict[str, Any]:
    """Merge a `lines`-line output manifest through botocore's StreamingBody (as S3 returns it)."""
    from botocore.response import StreamingBody

    from gtstream.manifest import merge_lines

    source = SyntheticManifest(lines)
    body = StreamingBody(source, content_length=None)  # type: ignore[arg-type]
    stream = (line for line in body.iter_lines(chunk_size=64 * 1024) if line.strip())
    sink = CountingSink()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    stats = merge_lines(stream, "category", "bench-0001", sink)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    if trace:
        tracemalloc.stop()
    return {
        "lines": stats.lines,
        "labeled": stats.labeled,
        "failed_attempts": stats.failed_attempts,
        "manifest_mb": round(source.size / 1e6, 1),
        "peak_traced_mb": round(peak / 1e6, 2),
        "seconds": round(elapsed, 1),
        "lines_per_second": int(stats.lines / elapsed) if elapsed else 0,
    }


def figures_in_subprocess(module: str, *args: str) -> dict[str, Any]:
    """``python -m module args`` in a fresh interpreter: the figures its last line prints as JSON."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def merge_in_subprocess(lines: int) -> dict[str, Any]:
    """Merge in a fresh interpreter without tracing; report its own peak RSS (VmHWM)."""
    return figures_in_subprocess("bench.lambdas", "merge", str(lines))


@register("manifest-merge")
def manifest_merge() -> dict[str, Any]:
    """1,000,000 lines (BENCH_MANIFEST_LINES) untraced for RSS and speed; 100,000 traced for the heap peak."""
    lines = int(os.environ.get("BENCH_MANIFEST_LINES", "1000000"))
    figures = merge_in_subprocess(lines)
    traced = merge_figures(min(lines, 100_000), trace=True)
    figures["peak_traced_mb_100k_lines"] = traced["peak_traced_mb"]
    return figures


def own_peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    Linux's ``VmHWM`` belongs to the process image and is reset by exec. ``getrusage``'s
    ``ru_maxrss`` is not: a child started from a large parent (pytest holding hundreds of MB)
    reports the parent's peak, so it cannot measure the merge's own memory."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    import resource  # not Linux: the best figure there is

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _child(lines: int) -> None:
    figures = merge_figures(lines, trace=False)
    figures.pop("peak_traced_mb")
    figures["peak_rss_mb"] = own_peak_rss_mb()
    print(json.dumps(figures))


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "merge":
    _child(int(sys.argv[2]))
