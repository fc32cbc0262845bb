"""Benchmarks (`python -m bench`, `make bench`): a registry of named functions returning figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Benchmark = Callable[[], dict[str, Any]]
REGISTRY: dict[str, Benchmark] = {}

# Modules that register benchmarks when imported; add yours here.
MODULES = ["bench.lambdas", "bench.localcloud", "bench.lambda_perf", "bench.export", "bench.load"]


def register(name: str) -> Callable[[Benchmark], Benchmark]:
    """Decorator: add a benchmark under `name` (a function with no argument returning figures)."""

    def wrap(function: Benchmark) -> Benchmark:
        REGISTRY[name] = function
        return function

    return wrap
