"""The bounds the README quotes that a test can hold without a clock: what a handler module
imports at cold start, and the manifest merge's memory.

Issue 11 moved the clients into the init phase: in a Lambda environment the handler's import
(the init phase, once per execution environment) creates the boto3 clients and imports what the
first call needs, so that call costs what a warm one does (`make bench`: cold vs warm). Without
that environment (a tool or a test importing the module) the heavy libraries still wait for
first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from bench.lambdas import HANDLERS, SyntheticManifest, merge_in_subprocess

RSS_LIMIT_MB = 100
# Without a Lambda environment, loaded on first use, not at import: boto3 and botocore's client
# machinery (Powertools imports only the bare `botocore` package, for its user agent), Pillow
# (intake's checks), jsonschema (the project config, at chain time).
LAZY = ("boto3", "botocore.session", "botocore.client", "PIL", "jsonschema")


@pytest.mark.parametrize("handler", HANDLERS)
def test_handler_module_import_leaves_the_heavy_libraries_for_first_use(handler: str) -> None:
    code = (
        f"import json, sys; import gtstream.handlers.{handler}; "
        f"print(json.dumps(sorted(m for m in {LAZY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == []


@pytest.mark.parametrize("handler", HANDLERS)
def test_in_a_lambda_environment_the_import_creates_the_clients(handler: str) -> None:
    from gtstream_world import ENV

    from gtstream.aws import SERVICES

    code = (
        f"import json, sys; import gtstream.handlers.{handler}; "
        "from gtstream.handlers import common; "
        "[runtime] = common._deps.values(); "
        "print(json.dumps(sorted(runtime.clients.created())))"
    )
    env = {
        **os.environ,
        **ENV,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    assert json.loads(out.stdout.splitlines()[-1]) == sorted(SERVICES)


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


def test_the_job_end_bench_runs_and_writes_each_object_once() -> None:
    """`make bench`'s lambda-job-end at a small size (no latency): every object merged and listed,
    about one object write per object (the 10 % failed ones once more)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.lambda_perf", "jobend", "2000", "0"],
        check=True,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["objects"] == 2000 and figures["fits_15_min"] is True
    assert 1.0 <= figures["ours_object_writes_per_object"] <= 1.2
