"""The demo end to end (its main function, fewer images, the boto3 deployment path): 0 lost."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gtlocal.testing import free_port

ROOT = Path(__file__).resolve().parents[3]


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo_script"] = module
    spec.loader.exec_module(module)
    return module


def test_demo_tells_the_whole_story_and_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = load_demo()
    endpoint_before = os.environ.get("AWS_ENDPOINT_URL")
    port = free_port()

    code = demo.main(["--no-terraform", "--images", "4", "--port", str(port), "--workdir", str(tmp_path)])

    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["lost"] == 0
    assert summary["dropped"] == 4 + 1 + 4  # images, the duplicate, the broken files
    assert summary["labeled"] == 5  # the duplicate is the same object, labeled once for both keys
    assert summary["objects"] == 4 + 4
    assert summary["pending"] == 0
    assert sorted(summary["quarantined_keys"]) == sorted(demo.BROKEN)
    assert all(summary["quarantined_keys"].values())  # every quarantine has its reason
    # the story: a first job, its expiry, a chained job finishing the rest
    assert "first job created: demo-0001" in out
    assert "demo-0001 is now Failed" in out or "demo-0001 is now Stopped" in out
    assert "chained job created: demo-0002 (parent demo-0001)" in out
    assert "0 lost" in out
    assert (tmp_path / "report" / "demo-report.png").stat().st_size > 10_000
    # the local cloud it started is stopped again, and the environment is restored
    assert not demo.port_in_use(port)
    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_before
