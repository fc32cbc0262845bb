"""README.md's commands as a newcomer runs them: every command of a code block marked ``local``
(a fence opened with ```bash local or ```sh local) runs exactly as written, in order, in one bash
shell started in the repository root, and exits 0.

The README's own commands set everything up: ``make install``, ``source .venv/bin/activate``,
``make emulator-up`` (a fresh local cloud), ``gtlocal deploy``, ... ``make emulator-down``. The test
only chooses the port (``GTLOCAL_PORT``, which the README says ``make`` and ``gtlocal`` both read),
so it never meets another local cloud on this machine, and hides everything else of the test
session: no ``AWS_*`` variable, no virtual environment, no ``.venv/bin`` on ``PATH``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from gtlocal.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
SHELLS = {"bash", "sh", "shell", "console"}


def marked_commands(text: str) -> list[str]:
    """The commands of the fenced blocks whose info string is a shell and ``local``: one per
    logical line (backslash continuations joined), blank and comment-only lines left out."""
    commands: list[str] = []
    fence: str | None = None
    marked = False
    pending = ""
    for line in text.splitlines():
        match = FENCE.match(line.strip()) if not line.startswith("    ") else None
        if fence is None:
            if match:
                fence = match.group(1)
                words = match.group(2).split()
                marked = len(words) >= 2 and words[0] in SHELLS and "local" in words[1:]
            continue
        if match and match.group(1).startswith(fence) and not match.group(2).strip():
            assert not pending, f"README block ends inside a continued command: {pending!r}"
            fence, marked = None, False
            continue
        if not marked:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        command = (pending + line).strip()
        pending = ""
        if command and not command.startswith("#"):
            commands.append(command)
    assert fence is None, "README.md has an unclosed code block"
    return commands


def script_for(commands: list[str]) -> str:
    """One bash script: each command as written, then a check that stops at the first failure
    and names it."""
    parts = ["set -o pipefail"]
    for number, command in enumerate(commands, 1):
        shown = shlex.quote(f"README command {number}/{len(commands)}: {command}")
        parts.append(f"echo {shown} >&2")
        parts.append(command)
        parts.append(f'rc=$?; if [ "$rc" -ne 0 ]; then echo "FAILED (exit $rc): "{shown} >&2; exit 1; fi')
    return "\n".join(parts) + "\n"


def newcomer_environment(port: int) -> dict[str, str]:
    venv_bin = str(ROOT / ".venv" / "bin")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "GTLOCAL_", "GTCTL_", "PYTEST_")) and key not in ("VIRTUAL_ENV",)
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env["GTLOCAL_PORT"] = str(port)
    env["COLUMNS"] = "200"
    return env


def test_marked_commands_are_found_with_continuations_and_comments() -> None:
    text = "\n".join(
        [
            "```bash local",
            "make a   # comment",
            "# only a comment",
            "",
            "long \\",
            "  --flag",
            "```",
            "```bash",
            "not marked",
            "```",
            "```",
            "plain text",
            "```",
            "```sh local",
            "last",
            "```",
        ]
    )
    assert marked_commands(text) == ["make a   # comment", "long    --flag", "last"]


def test_every_marked_readme_command_runs_as_written_on_a_fresh_local_cloud(tmp_path: Path) -> None:
    commands = marked_commands(README.read_text(encoding="utf-8"))
    # the blocks the README promises to be tested are all found (a broken marker finds nothing)
    for expected in (
        "make install",
        "source .venv/bin/activate",
        "make emulator-up",
        "gtlocal deploy --prefix cats",
        "gtctl --prefix cats status",
        "make emulator-down",
    ):
        assert any(c.startswith(expected) for c in commands), (expected, commands)
    # what the README's commands write, removed first so that a previous run's output proves nothing
    shutil.rmtree(ROOT / "build" / "reports", ignore_errors=True)
    (ROOT / "build" / "cats.json").unlink(missing_ok=True)
    port = free_port()
    script = tmp_path / "readme.sh"
    script.write_text(script_for(commands), encoding="utf-8")
    try:
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", str(script)],
            cwd=ROOT,
            env=newcomer_environment(port),
            capture_output=True,
            text=True,
            timeout=900,  # a hang guard, not a performance threshold
        )
    finally:  # the README stops its local cloud itself; this only covers a failure half-way
        subprocess.run(
            [sys.executable, "-m", "gtlocal", "down", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
    assert proc.returncode == 0, (proc.stderr[-4000:], proc.stdout[-4000:])
    ran = [line for line in proc.stderr.splitlines() if line.startswith("README command ")]
    assert len(ran) == len(commands), ran
    # what the commands did, as the README says: the project found by its prefix, nothing lost
    assert "cats-0001" in proc.stdout
    assert "0 lost" in proc.stdout or "lost 0" in proc.stdout, proc.stdout[-3000:]
    assert json.loads((ROOT / "build" / "cats.json").read_text())["project_prefix"] == "cats"
    assert list((ROOT / "build" / "reports").glob("*.png")), "gtctl report wrote no chart"
