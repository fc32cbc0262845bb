"""Build the Lambda deployment package for one Lambda runtime and architecture.

    python scripts/package_lambda.py                                       # python3.11 / x86_64
    python scripts/package_lambda.py --runtime python3.12 --architecture arm64
        -> build/lambda-python3.12-arm64.zip

What goes in: every top-level package and module under ``lambda_src/`` (``gtstream``, which holds
the handlers, and whatever sits beside it: the contract package, your own transforms), and the
requirements of ``lambda_src/requirements.txt`` installed as wheels for the target, the way AWS
documents it for packages with native code: ``pip install --platform manylinux2014_<machine>
--implementation cp --python-version <X.Y> --only-binary=:all: --target``
(https://repost.aws/knowledge-center/lambda-python-package-compatible,
https://docs.aws.amazon.com/lambda/latest/dg/python-package.html). boto3 is not packaged: the
Lambda Python runtimes include it (``lambda_src/requirements-runtime.txt``).

The zip is deterministic (sorted entries, fixed timestamps and permissions), so the same inputs
and wheels give the same bytes. The build is skipped when the inputs (sources, requirements,
target, this script) are unchanged and the zip is the one last written. Downloaded wheels are
kept in ``build/wheels/`` and used offline first, so a rebuild does not need PyPI.

The Terraform module runs this script during ``terraform apply`` (``terraform_data`` with a
``local-exec`` provisioner, ``terraform/modules/streaming-labeling/package.tf``).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "lambda_src"
REQUIREMENTS = LAMBDA_SRC / "requirements.txt"
WHEEL_CACHE = ROOT / "build" / "wheels"
# One build at a time in this checkout: `terraform apply` (its local-exec) and the test suite may
# build at once, into the same wheel cache and, for one target, the same zip.
BUILD_LOCK = ROOT / "build" / ".package_lambda.lock"
# Lambda runtime -> CPython version; Lambda architecture -> the machine name of wheels and .so files.
RUNTIMES = {"python3.11": "3.11", "python3.12": "3.12", "python3.13": "3.13"}
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
SKIP_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


class BuildError(Exception):
    """A build that cannot be done; the message is one line for the user."""


@dataclass(frozen=True)
class Target:
    """A Lambda runtime and architecture the package is built for."""

    runtime: str = "python3.11"
    architecture: str = "x86_64"

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise BuildError(f"runtime {self.runtime!r} is not one of {', '.join(RUNTIMES)}")
        if self.architecture not in ARCHITECTURES:
            raise BuildError(f"architecture {self.architecture!r} is not one of {', '.join(ARCHITECTURES)}")

    @property
    def python_version(self) -> str:
        return RUNTIMES[self.runtime]

    @property
    def machine(self) -> str:
        return ARCHITECTURES[self.architecture]

    @property
    def platform(self) -> str:
        return f"manylinux2014_{self.machine}"

    @property
    def extension_suffix(self) -> str:
        """The file name ending of a native extension module for this target (PEP 3149)."""
        return f".cpython-{self.python_version.replace('.', '')}-{self.machine}-linux-gnu.so"

    @property
    def filename(self) -> str:
        return f"lambda-{self.runtime}-{self.architecture}.zip"


DEFAULT_TARGET = Target()


def default_output(target: Target = DEFAULT_TARGET) -> Path:
    return ROOT / "build" / target.filename


def requirements(path: Path = REQUIREMENTS) -> list[str]:
    """The requirement lines of ``path`` (comments and blank lines dropped)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


# Modules of lambda_src that no handler imports and whose imports the Lambda runtime lacks: the task
# template renderer (python-liquid) is shared by the publisher and gtctl through the contract package.
NOT_FOR_LAMBDA = frozenset({("gtcontract", "task_template.py")})


def _skipped(path: Path, base: Path) -> bool:
    parts = path.relative_to(base).parts
    return bool(SKIP_PARTS.intersection(parts)) or path.suffix in (".pyc", ".pyo") or parts in NOT_FOR_LAMBDA


def top_level_sources(source: Path = LAMBDA_SRC) -> list[Path]:
    """The top-level packages (directories with ``__init__.py``) and modules under ``source``."""
    return sorted(
        p
        for p in source.iterdir()
        if (p.is_dir() and (p / "__init__.py").is_file()) or (p.is_file() and p.suffix == ".py")
    )


def source_files(source: Path = LAMBDA_SRC) -> list[Path]:
    """Every file that goes into the package from ``source``, sorted, without caches."""
    files: list[Path] = []
    for top in top_level_sources(source):
        if top.is_file():
            files.append(top)
        else:
            files.extend(p for p in top.rglob("*") if p.is_file() and not _skipped(p, source))
    return sorted(files)


def inputs_digest(target: Target, source: Path = LAMBDA_SRC, requirements_file: Path = REQUIREMENTS) -> str:
    """A digest of everything that decides the package's content."""
    digest = hashlib.sha256()
    digest.update(json.dumps([target.runtime, target.architecture, requirements(requirements_file)]).encode())
    digest.update(Path(__file__).read_bytes())
    for path in source_files(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--quiet"]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def install_dependencies(
    target: Target, tree: Path, cache: Path = WHEEL_CACHE, requirements_file: Path = REQUIREMENTS
) -> str:
    """Install the requirements as wheels for ``target`` into ``tree``; where they came from.

    Wheels already in ``cache`` are used offline; if they cannot satisfy the requirements for this
    target, the missing ones are downloaded from the index into ``cache`` first."""
    wanted = requirements(requirements_file)
    if not wanted:
        return "nothing to install"
    platform = [
        "--platform", target.platform, "--implementation", "cp",
        "--python-version", target.python_version, "--only-binary=:all:",
    ]  # fmt: skip
    install = ["install", "--no-index", "--find-links", str(cache), "--no-compile", "--target", str(tree)]
    if cache.is_dir() and _pip(*install, *platform, *wanted).returncode == 0:
        return f"wheel cache {cache}"
    shutil.rmtree(tree)
    tree.mkdir()
    cache.mkdir(parents=True, exist_ok=True)
    download = _pip("download", "--dest", str(cache), *platform, *wanted)
    if download.returncode != 0:
        tail = " ".join(download.stderr.split())[-400:]
        where = f"{target.runtime}/{target.architecture} ({target.platform})"
        raise BuildError(f"pip could not download wheels for {where}: {tail}")
    installed = _pip(*install, *platform, *wanted)
    if installed.returncode != 0:
        raise BuildError(f"pip install from {cache} failed: {' '.join(installed.stderr.split())[-400:]}")
    return "the package index (now cached)"


def write_zip(tree: Path, output: Path) -> int:
    """Zip ``tree`` deterministically into ``output``; the number of entries."""
    files = sorted(p for p in tree.rglob("*") if p.is_file() and not _skipped(p, tree))
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(tree).as_posix(), date_time=FIXED_DATE)
            # Lambda needs the files world-readable (and executables executable).
            info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    tmp.replace(output)
    return len(files)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(
    output: Path,
    target: Target = DEFAULT_TARGET,
    *,
    force: bool = False,
    with_dependencies: bool = True,
    cache: Path = WHEEL_CACHE,
    source: Path = LAMBDA_SRC,
    requirements_file: Path = REQUIREMENTS,
) -> bool:
    """Build the package into ``output``; False when it was up to date and left alone.

    One build at a time in this checkout (``BUILD_LOCK``): two stages of one Terraform configuration
    build the same zip during one apply (the second then finds it up to date), and the apply and the
    test suite may build at once into the same wheel cache."""
    BUILD_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with BUILD_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        return _build(output, target, force, with_dependencies, cache, source, requirements_file)


def _build(
    output: Path,
    target: Target,
    force: bool,
    with_dependencies: bool,
    cache: Path,
    source: Path,
    requirements_file: Path,
) -> bool:
    stamp = output.with_name(output.name + ".inputs.json")
    inputs = inputs_digest(target, source, requirements_file) + ("" if with_dependencies else "-nodeps")
    if not force and output.is_file() and stamp.is_file():
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        if recorded == {"inputs": inputs, "zip_sha256": _sha256(output)}:
            print(f"{output}: up to date (inputs unchanged)")
            return False
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lambda-pkg-") as tmp:
        tree = Path(tmp)
        if with_dependencies:
            print(
                f"[1/3] {', '.join(requirements(requirements_file))} for {target.runtime} / {target.platform}"
            )
            origin = install_dependencies(target, tree, cache, requirements_file)
            print(f"      installed from {origin}")
        else:
            print("[1/3] skipping dependencies (--no-deps)")
        files = source_files(source)
        names = ", ".join(p.name for p in top_level_sources(source))
        print(f"[2/3] copying {names} from {source} ({len(files)} files)")
        for path in files:
            dest = tree / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        count = write_zip(tree, output)
    stamp.write_text(json.dumps({"inputs": inputs, "zip_sha256": _sha256(output)}), encoding="utf-8")
    print(f"[3/3] wrote {output} ({count} files, {output.stat().st_size / 1e6:.1f} MB)")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the Lambda deployment package for a runtime and architecture."
    )
    parser.add_argument("--runtime", choices=sorted(RUNTIMES), default=DEFAULT_TARGET.runtime)
    parser.add_argument("--architecture", choices=sorted(ARCHITECTURES), default=DEFAULT_TARGET.architecture)
    parser.add_argument(
        "--output", type=Path, help="the zip to write (default: build/lambda-<runtime>-<architecture>.zip)"
    )
    parser.add_argument(
        "--wheel-cache", type=Path, default=WHEEL_CACHE, help="where downloaded wheels are kept"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if the inputs are unchanged")
    parser.add_argument("--no-deps", action="store_true", help="package only our sources (fast, for tests)")
    args = parser.parse_args(argv)
    try:
        target = Target(args.runtime, args.architecture)
        output = args.output or default_output(target)
        build(output, target, force=args.force, with_dependencies=not args.no_deps, cache=args.wheel_cache)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
