"""`make emulator-up` / `make emulator-down` on a non-default port leave no process behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from gtlocal.client import GroundTruthControl
from gtlocal.testing import free_port

ROOT = Path(__file__).resolve().parents[3]


def _gone(pid: int, timeout: float = 5.0) -> bool:
    """True once the pid has no live process (a zombie waiting for init to reap it counts as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_make_emulator_up_then_down(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make binary on PATH")
    if not (ROOT / ".venv" / "bin" / "gtlocal").exists():
        pytest.skip(".venv/bin/gtlocal is missing: run `make install` first")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    started = time.monotonic()
    up = subprocess.run(
        ["make", "-s", "emulator-up", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert up.returncode == 0, up.stderr
    assert f"http://127.0.0.1:{port}" in up.stdout
    pid = int((ROOT / ".localcloud" / f"gtlocal-{port}.pid").read_text())
    try:
        assert GroundTruthControl(f"http://127.0.0.1:{port}").health()["status"] == "ok"
        print(f"emulator-up took {time.monotonic() - started:.2f} s")
    finally:
        down = subprocess.run(
            ["make", "-s", "emulator-down", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert down.returncode == 0, down.stderr
    assert _gone(pid), f"process {pid} still runs after emulator-down"
    assert not (ROOT / ".localcloud" / f"gtlocal-{port}.pid").exists()
    again = subprocess.run(
        ["make", "-s", "emulator-down", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and "nothing to stop" in again.stdout
