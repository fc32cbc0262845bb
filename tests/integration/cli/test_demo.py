"""The demo end to end (its main function, fewer images, the boto3 deployment path): 0 lost; with
--keep-running, the lines it prints use the cloud it left running."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
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

    argv = ["--no-terraform", "--images", "4", "--port", str(port), "--workdir", str(tmp_path)]
    code = demo.main([*argv, "--keep-running"])

    try:
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
        # the status while demo-0001 runs counts down on the emulated clock the story moves
        assert "demo-0001 expires in 29 d 23 h" in out
        assert "0 lost" in out
        assert (tmp_path / "report" / "demo-report.png").stat().st_size > 10_000
        # the report is on the labeling clock: drops before demo-0001, labels after its 30-day expiry
        with (tmp_path / "report" / "demo-report.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        times = [datetime.fromisoformat(row["time"]) for row in rows]
        assert max(times) - min(times) > timedelta(days=30)
        assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_before  # the environment is restored
        # --keep-running: the cloud answers, and the printed lines, run as printed in a shell with
        # nothing of this test's AWS environment, show the project and then stop the cloud
        assert demo.port_in_use(port)
        printed = out[out.index("the local cloud keeps running") :].splitlines()[1:4]
        assert printed == demo.keep_running_lines(port, tmp_path / "deployment.json")
        assert printed[0].startswith(f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port} ")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GTCTL_", "GTLOCAL_"))}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["COLUMNS"] = "200"
        shell = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-c", "\n".join(printed)],
            cwd=demo.ROOT,  # the README runs every command from the repository root
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert shell.returncode == 0, shell.stderr
        assert "demo-0002" in shell.stdout and "ledger (objects)" in shell.stdout, shell.stdout
        assert not demo.port_in_use(port)  # its last line stopped the cloud
    finally:  # the cloud --keep-running left, also when an assertion failed
        demo.cloud_down(port)


def test_demo_stops_the_local_cloud_it_started() -> None:
    demo = load_demo()
    port = free_port()
    with demo.local_cloud(port, keep=False) as endpoint:
        assert endpoint == f"http://127.0.0.1:{port}"
        assert demo.port_in_use(port)
    assert not demo.port_in_use(port)
