"""Terraform helpers: the project's CLI config, a `terraform` runner, and skip-with-reason.

Why subprocess and not python-terraform: python-terraform is unmaintained since 2020; `tftest`
(installed) wraps the same subprocess calls but hides the exit code of `plan -detailed-exitcode`
that the no-changes check needs, so a 30-line runner is clearer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TERRAFORM_DIR = ROOT / "terraform"
MODULES = sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())
EXAMPLES = sorted(p for p in (TERRAFORM_DIR / "examples").iterdir() if p.is_dir())

# pytest-xdist groups (tests/conftest.py): the apply of examples/local and what uses it, and the
# runs that need no local cloud and share no configuration directory with the apply (fmt, validate,
# `terraform test`), which run beside it in the other worker. `terraform init` of examples/local
# stays in the apply's group: two inits of one configuration at once are not supported (both write
# its .terraform.lock.hcl).
APPLY_GROUP = pytest.mark.xdist_group("tests/integration/terraform")
STATIC_GROUP = pytest.mark.xdist_group("tests/integration/terraform:static")

sys.path.insert(0, str(ROOT / "scripts"))
import terraform_env  # noqa: E402


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass(frozen=True)
class Terraform:
    binary: str
    cli_config: Path
    build_dir: Path

    def env(self, workdir: Path) -> dict[str, str]:
        # Terraform's plugin cache is not safe for two `terraform init` at once
        # (developer.hashicorp.com/terraform/cli/config/config-file#provider-plugin-cache), and the
        # apply and the static runs are in two xdist groups that run side by side: one cache per
        # worker (each holds a link to the provider mirror, not a copy).
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        plugin_cache = self.build_dir / "terraform-plugin-cache" / worker
        plugin_cache.mkdir(parents=True, exist_ok=True)
        if workdir.is_relative_to(TERRAFORM_DIR):
            data_dir = (
                self.build_dir / "tf-data" / workdir.relative_to(TERRAFORM_DIR).as_posix().replace("/", "_")
            )
        else:  # a temporary copy (copy_repository): its own .terraform/
            data_dir = workdir / ".terraform"
        return {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "TF_DATA_DIR": str(data_dir),  # tests never touch the .terraform/ of a user's checkout
            "TF_PLUGIN_CACHE_DIR": str(plugin_cache),  # instead of the CLI config's plugin_cache_dir
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }

    def run(self, workdir: Path, *args: str, check: bool = True, timeout: float = 600) -> Result:
        started = time.monotonic()
        log = self.build_dir / "tf-logs" / f"{workdir.name}-{args[0]}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            proc = subprocess.run(
                [self.binary, f"-chdir={workdir}", *args],
                env=self.env(workdir),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            log.write_text(out)
            pytest.fail(f"terraform {args[0]} in {workdir} timed out after {timeout} s; output in {log}")
        log.write_text(proc.stdout + proc.stderr)
        result = Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
        if check and proc.returncode != 0:
            command = " ".join(args)
            tail = proc.stderr[-4000:]
            pytest.fail(f"terraform {command} in {workdir} failed ({proc.returncode}):\n{tail}")
        return result

    def init(self, workdir: Path, extra: Sequence[str] = ("-backend=false",)) -> None:
        self.run(workdir, "init", "-input=false", "-no-color", *extra)


def copy_repository(dest: Path) -> Path:
    """The working tree as a fresh clone has it - the files git tracks or would track, no build/,
    caches, .terraform/ or state - copied to ``dest``; returns ``dest``."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="session")
def terraform() -> Terraform:
    found = terraform_env.write_cli_config()
    if isinstance(found, str):
        pytest.skip(f"terraform tests skipped: {found}")
    return Terraform(found.terraform, terraform_env.DEFAULT_OUTPUT, ROOT / "build")
