"""The Lambda package built for every runtime x architecture the Terraform module and the
CloudFormation stack accept, with real wheels from PyPI (kept in build/wheels, so a repeated run
is offline and the zips in build/ are reused while their inputs are unchanged).

Each zip's native code must be for that CPython ABI and that machine - the extension modules'
names (PEP 3149 tags), the ELF headers of every shared object and the wheel tags agree - and
every import of our code must be satisfied inside the zip, by the standard library or by what
the Lambda runtime provides. So "Pillow fails to import on python3.13 / arm64" cannot happen
silently. Where the target is this machine's own, the zip is also imported for real.
"""

from __future__ import annotations

import ast
import importlib.util
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
import package_lambda  # noqa: E402
from package_lambda import Target  # noqa: E402

TARGETS = [
    Target(runtime, architecture)
    for runtime in package_lambda.RUNTIMES
    for architecture in package_lambda.ARCHITECTURES
]
ELF_MACHINE = {"x86_64": 62, "aarch64": 183}  # e_machine: EM_X86_64, EM_AARCH64
# In every Lambda Python runtime (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html):
# the SDK and its dependencies.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3"}


def built(target: Target) -> zipfile.ZipFile:
    output = package_lambda.default_output(target)
    try:
        package_lambda.build(output, target)
    except package_lambda.BuildError as exc:
        pytest.fail(
            f"building {target.filename} failed (PyPI is needed once, then build/wheels is used): {exc}"
        )
    return zipfile.ZipFile(output)


def top_level_names(archive: zipfile.ZipFile) -> set[str]:
    """What `import X` finds at the zip's root: packages, modules and extension modules."""
    names = set()
    for name in archive.namelist():
        first = name.split("/", 1)[0]
        if "/" in name:
            names.add(first)
        elif first.endswith(".py"):
            names.add(first[:-3])
        elif first.endswith(".so"):
            names.add(first.split(".", 1)[0])
    return names


def imports_of_our_code(archive: zipfile.ZipFile) -> dict[str, set[str]]:
    """Top-level module names imported (absolutely) by the sources we ship -> where."""
    ours = {p.name.removesuffix(".py") for p in package_lambda.top_level_sources()}
    found: dict[str, set[str]] = {}
    for name in archive.namelist():
        if name.endswith(".py") and name.split("/", 1)[0].removesuffix(".py") in ours:
            for node in ast.walk(ast.parse(archive.read(name), name)):
                modules = []
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                for module in modules:
                    found.setdefault(module.split(".")[0], set()).add(name)
    return found


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.runtime}-{t.architecture}")
def test_native_code_is_for_the_target_and_every_import_is_satisfied(target: Target) -> None:
    with built(target) as archive:
        names = archive.namelist()
        assert f"PIL/_imaging{target.extension_suffix}" in names, f"no Pillow core module for {target}"
        extensions = [n for n in names if n.endswith(".so") and ".cpython-" in n]
        assert extensions and all(n.endswith(target.extension_suffix) for n in extensions), [
            n for n in extensions if not n.endswith(target.extension_suffix)
        ]
        elf_files = 0
        for info in archive.infolist():
            with archive.open(info) as member:
                header = member.read(20)
            if header[:4] == b"\x7fELF":
                elf_files += 1
                assert header[4] == 2, f"{info.filename}: not a 64-bit ELF"
                machine = int.from_bytes(header[18:20], "little")
                assert machine == ELF_MACHINE[target.machine], f"{info.filename}: ELF machine {machine}"
        assert elf_files >= len(extensions)
        abi = "cp" + target.python_version.replace(".", "")
        for wheel in (n for n in names if n.endswith(".dist-info/WHEEL")):
            tags = [
                line.split(":", 1)[1].strip()
                for line in archive.read(wheel).decode().splitlines()
                if line.startswith("Tag:")
            ]
            assert tags, wheel
            for tag in tags:
                _, abi_tag, platform_tag = tag.split("-")
                pure = abi_tag == "none" and platform_tag == "any"
                assert pure or (
                    abi_tag == abi and target.machine in platform_tag and "manylinux" in platform_tag
                ), (wheel, tag)
        assert not {"boto3", "botocore"} & top_level_names(archive), "boto3 is provided by the Lambda runtime"
        available = (
            top_level_names(archive) | RUNTIME_PROVIDED | set(sys.stdlib_module_names) | {"__future__"}
        )
        missing = {
            m: sorted(where) for m, where in imports_of_our_code(archive).items() if m not in available
        }
        assert missing == {}, f"imported by our code but not in {target.filename}: {missing}"


def test_builds_are_byte_identical(tmp_path: Path) -> None:
    target = Target("python3.12", "arm64")
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    package_lambda.build(first, target, force=True)
    package_lambda.build(second, target, force=True)
    assert first.read_bytes() == second.read_bytes()


HOST = Target(
    f"python{sys.version_info.major}.{sys.version_info.minor}",
    "arm64" if platform.machine() == "aarch64" else "x86_64",
)


@pytest.mark.skipif(
    HOST.runtime not in package_lambda.RUNTIMES
    or platform.machine() not in ELF_MACHINE
    or sys.platform != "linux",
    reason=f"this machine ({sys.platform}/{platform.machine()}, {HOST.runtime}) matches no Lambda target",
)
def test_the_package_for_this_machine_imports_like_in_lambda(tmp_path: Path) -> None:
    """Only the zip, the standard library and what the Lambda runtime provides are importable."""
    with built(HOST) as archive:
        archive.extractall(tmp_path / "task")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, f"{name} (in the Lambda runtime) is not installed here"
        source = Path(spec.origin)
        source = source.parent if source.name == "__init__.py" else source
        (runtime / source.name).symlink_to(source)
    code = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import io, PIL, PIL._imaging
from PIL import Image
assert PIL.__file__.startswith(sys.argv[1]), PIL.__file__
Image.new("RGB", (4, 4)).save(io.BytesIO(), "JPEG")
for handler in ("intake", "job_events", "reconcile", "worker_events", "labels"):
    __import__(f"gtstream.handlers.{handler}")
print("ok")
"""
    # -S: no site-packages of this environment, as in Lambda; -I: no user site, no PYTHON* variables.
    proc = subprocess.run(
        [sys.executable, "-S", "-I", "-c", code, str(tmp_path / "task"), str(runtime)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
