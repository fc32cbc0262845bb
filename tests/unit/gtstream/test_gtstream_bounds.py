"""The measured bounds the README quotes: handler import time and the manifest merge's memory."""

from __future__ import annotations

import json
import statistics

import pytest
from bench.lambdas import HANDLERS, SyntheticManifest, import_time_ms, merge_in_subprocess

IMPORT_LIMIT_MS = 300
RSS_LIMIT_MB = 100


@pytest.mark.parametrize("handler", HANDLERS)
def test_handler_module_imports_in_under_300_ms(handler: str) -> None:
    runs = [import_time_ms(f"gtstream.handlers.{handler}") for _ in range(3)]
    assert statistics.median(runs) < IMPORT_LIMIT_MS, runs


def test_a_million_line_output_manifest_merges_in_bounded_memory() -> None:
    figures = merge_in_subprocess(1_000_000)
    assert figures["lines"] == 1_000_000 and figures["labeled"] == 900_000
    assert figures["manifest_mb"] > 300  # the manifest is far larger than the process ever gets
    assert figures["peak_rss_mb"] < RSS_LIMIT_MB, figures


def test_the_synthetic_manifest_renders_every_line_as_json_dumps_would() -> None:
    manifest = SyntheticManifest(30)
    lines = [json.loads(line) for line in manifest.read(1 << 20).splitlines()]
    assert len(lines) == 30
    for n, line in enumerate(lines):
        uri = f"s3://bench-input/images/{n:064x}.jpg"
        assert json.dumps(line) + "\n" == manifest._render(uri, n)
        assert line["source-ref"] == uri and ("category" in line) == (n % 10 != 9)
