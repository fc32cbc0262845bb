"""The build image's tools, from a cached environment under the local cloud's data directory.

The instructions pipeline's CodeBuild project uses ``aws/codebuild/standard:7.0`` (the Terraform
module's ``codebuild.image`` default, CloudFormation's ``BuildImage``). Its Dockerfile
(github.com/aws/aws-codebuild-docker-images, ``ubuntu/standard/7.0/Dockerfile``) installs Python
3.11 as the default ``python3`` with pip, boto3 and PyYAML, the AWS CLI v2 and git;
``ubuntu/standard/7.0/runtimes.yml`` lists the ``runtime-versions`` it accepts for python: 3.11
and 3.12. The local cloud reproduces what a buildspec of this project can use:

- ``python3`` / ``python`` / ``pip`` / ``pip3``: a fresh virtual environment per build, made from
  this machine's Python 3.11 interpreter (never the user's global site-packages), layered over the
  cached image environment that holds boto3 and PyYAML, so ``pip install`` in a build changes that
  build only (each CodeBuild build starts from the image);
- ``aws``: the AWS CLI from PyPI (version 1: the AWS CLI v2 is not published there; the commands a
  buildspec of this project runs, ``aws s3 cp``, are the same), in its own environment;
- git, bash and the usual tools: this machine's.

The image environment is created once, under ``<data dir>/codebuild/images/<image>`` (``gtlocal
serve --data-dir``, ``GTLOCAL_DATA_DIR``; default ``.localcloud/data``), with pip from PyPI, and reused
by every later build and local cloud; pip's download cache is ``<data dir>/codebuild/pip-cache``.
Other images, and runtimes other than Python, are refused with that reason (a build there would
need tools this machine may not have).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

DEFAULT_IMAGE = "aws/codebuild/standard:7.0"


@dataclass(frozen=True)
class Image:
    name: str
    python_runtimes: tuple[str, ...]  # runtime-versions python: accepted by the image
    packages: tuple[str, ...]  # what the image's python3 has beyond pip
    cli: tuple[str, ...]  # the AWS CLI stand-in

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-").replace(":", "-")

    @property
    def fingerprint(self) -> str:
        spec = json.dumps([self.packages, self.cli, sys.version_info[:2]])
        return hashlib.sha256(spec.encode()).hexdigest()[:12]


IMAGES = {
    DEFAULT_IMAGE: Image(
        DEFAULT_IMAGE,
        python_runtimes=("3.11", "3.12"),
        # boto3 >= 1.28 reads AWS_ENDPOINT_URL (the local cloud); the image's own is older.
        packages=("boto3>=1.34,<2", "PyYAML>=6.0,<7"),
        cli=("awscli>=1.32,<2",),
    )
}


class BuildEnvironmentError(RuntimeError):
    """The image is not available locally, or its environment could not be made."""


def local_python() -> str:
    """major.minor of the interpreter builds run with (this machine's)."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def base_interpreter() -> str:
    """This machine's Python, not the project's virtual environment."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


def image(name: str) -> Image:
    found = IMAGES.get(name)
    if found is None:
        raise BuildEnvironmentError(f"the local cloud builds with {', '.join(IMAGES)} only, not {name}")
    return found


@dataclass(frozen=True)
class ImageEnvironment:
    image: Image
    root: Path

    @property
    def python_site(self) -> Path:
        return next((self.root / "python" / "lib").glob("python3*/site-packages"))

    @property
    def bin(self) -> Path:
        return self.root / "bin"


def _run(command: list[str], what: str) -> None:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BuildEnvironmentError(f"could not prepare the build image ({what}): {tail[0]}")


def prepare(name: str, data_dir: Path) -> ImageEnvironment:
    """The cached environment of image ``name`` (created on first use; safe across processes)."""
    spec = image(name)
    root = data_dir / "codebuild" / "images" / f"{spec.slug}-{spec.fingerprint}"
    ready = root / ".ready"
    if ready.exists():
        return ImageEnvironment(spec, root)
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return ImageEnvironment(spec, root)
        cache = data_dir / "codebuild" / "pip-cache"
        for part, packages in (("python", spec.packages), ("aws-cli", spec.cli)):
            target = root / part
            subprocess.run(
                [base_interpreter(), "-m", "venv", "--clear", str(target)], check=True, capture_output=True
            )
            _run(
                [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--cache-dir", str(cache),
                 "--disable-pip-version-check", *packages],
                f"pip install {' '.join(packages)}",
            )  # fmt: skip
        (root / "bin").mkdir(exist_ok=True)
        aws = root / "bin" / "aws"
        if not aws.exists():
            aws.symlink_to(root / "aws-cli" / "bin" / "aws")
        ready.write_text(json.dumps({"image": spec.name, "packages": spec.packages, "cli": spec.cli}))
    return ImageEnvironment(spec, root)


def build_python(env: ImageEnvironment, work: Path) -> Path:
    """A fresh virtual environment for one build, layered over the image's packages; its ``bin``."""
    target = work / "python"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    site = next((target / "lib").glob("python3*/site-packages"))
    (site / "_gtlocal_image.pth").write_text(f"{env.python_site}\n")
    bin_dir = target / "bin"
    for name in ("pip", "pip3"):
        wrapper = bin_dir / name
        wrapper.write_text('#!/bin/sh\nexec "$(dirname "$0")/python3" -m pip "$@"\n')
        wrapper.chmod(0o755)
    return bin_dir


def default_data_dir() -> Path:
    return Path(os.environ.get("GTLOCAL_DATA_DIR") or ".localcloud/data").resolve()
