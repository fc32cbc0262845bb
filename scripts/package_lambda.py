"""Build the Lambda deployment package (``make package`` -> ``build/lambda.zip``).

Copies ``lambda_src/gtstream`` and the contract package ``lambda_src/gtcontract`` and installs the
runtime dependencies (Pillow, aws-lambda-powertools and jsonschema with its dependencies; boto3
is in the Lambda runtime) as manylinux x86_64 wheels for
CPython 3.11 with ``pip install --platform ... --only-binary=:all: --target``, then writes a
deterministic zip (sorted entries, fixed timestamps and permissions), so the same inputs give
the same bytes and Terraform's ``source_code_hash`` only changes when the code does.
The build is skipped when the inputs (sources, requirements, this script) are unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (ROOT / "lambda_src" / "gtstream", ROOT / "lambda_src" / "gtcontract")
# Keep in step with pyproject.toml's [project] dependencies (boto3 comes with the Lambda runtime).
REQUIREMENTS = ("aws-lambda-powertools>=3.0,<4", "pillow>=10.0,<14", "jsonschema>=4.18,<5")
PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.11"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
SKIP_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache"}


def source_files(sources: tuple[Path, ...] = SOURCES) -> list[Path]:
    """Files of the packages, sorted, without caches or compiled files."""
    return sorted(
        p
        for source in sources
        for p in source.rglob("*")
        if p.is_file() and not SKIP_PARTS.intersection(p.parts) and p.suffix not in (".pyc", ".pyo")
    )


def inputs_digest(sources: tuple[Path, ...] = SOURCES) -> str:
    """A digest of everything that decides the package's content."""
    digest = hashlib.sha256()
    digest.update("\n".join((*REQUIREMENTS, PLATFORM, PYTHON_VERSION)).encode())
    digest.update(Path(__file__).read_bytes())
    for path in source_files(sources):
        digest.update(path.relative_to(ROOT / "lambda_src").as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def install_dependencies(target: Path) -> None:
    """pip-install the runtime dependencies for the Lambda platform into ``target``."""
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--platform", PLATFORM, "--implementation", "cp", "--python-version", PYTHON_VERSION,
        "--only-binary=:all:", "--target", str(target), *REQUIREMENTS,
    ]  # fmt: skip
    subprocess.run(command, check=True)


def write_zip(tree: Path, output: Path) -> int:
    """Zip ``tree`` deterministically into ``output``; the number of entries."""
    files = sorted(
        p for p in tree.rglob("*") if p.is_file() and not SKIP_PARTS.intersection(p.relative_to(tree).parts)
    )
    tmp = output.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(tree).as_posix(), date_time=FIXED_DATE)
            info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    tmp.replace(output)
    return len(files)


def build(output: Path, *, force: bool = False, with_dependencies: bool = True) -> bool:
    """Build the package; False when it was up to date and left alone."""
    stamp = output.with_suffix(".inputs-sha256")
    digest = inputs_digest() + ("" if with_dependencies else "-nodeps")
    if not force and output.exists() and stamp.exists() and stamp.read_text() == digest:
        print(f"{output}: up to date (inputs unchanged)")
        return False
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lambda-pkg-") as tmp:
        tree = Path(tmp)
        if with_dependencies:
            print(f"[1/3] installing {', '.join(REQUIREMENTS)} for {PLATFORM} / CPython {PYTHON_VERSION}")
            install_dependencies(tree)
        else:
            print("[1/3] skipping dependencies (--no-deps)")
        listing = ", ".join(str(s.relative_to(ROOT)) for s in SOURCES)
        print(f"[2/3] copying {listing} ({len(source_files())} files)")
        for path in source_files():
            dest = tree / path.relative_to(ROOT / "lambda_src")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        count = write_zip(tree, output)
    stamp.write_text(digest)
    print(f"[3/3] wrote {output} ({count} files, {output.stat().st_size / 1e6:.1f} MB)")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda deployment package.")
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "lambda.zip")
    parser.add_argument("--force", action="store_true", help="rebuild even if the inputs are unchanged")
    parser.add_argument(
        "--no-deps", action="store_true", help="package only gtstream and gtcontract (fast, for tests)"
    )
    args = parser.parse_args(argv)
    try:
        build(args.output, force=args.force, with_dependencies=not args.no_deps)
    except subprocess.CalledProcessError as exc:
        print(f"error: pip failed ({exc.returncode}); is PyPI reachable?", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
