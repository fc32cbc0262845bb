"""The Lambda package: what goes in, for which target, deterministic, rebuilt only when its inputs
change, and the runtimes/architectures it supports are exactly what Terraform and CloudFormation
accept. (Real builds for every target, with wheels from PyPI: tests/integration/package.)"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from cfnlint.decode import decode

import package_lambda
from package_lambda import BuildError, Target

ROOT = Path(__file__).resolve().parents[3]


def make_source(tmp_path: Path) -> Path:
    """A lambda_src/ with the handlers' package, a package beside it, a top-level module, and
    files that are not Python packages."""
    src = tmp_path / "lambda_src"
    (src / "gtstream" / "handlers").mkdir(parents=True)
    (src / "gtstream" / "__init__.py").write_text("")
    (src / "gtstream" / "handlers" / "__init__.py").write_text("")
    (src / "gtstream" / "handlers" / "intake.py").write_text("import gtcontract\n")
    (src / "gtstream" / "__pycache__").mkdir()
    (src / "gtstream" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"cache")
    (src / "gtcontract").mkdir()
    (src / "gtcontract" / "__init__.py").write_text("NAME = 1\n")
    (src / "gtcontract" / "schema.json").write_text("{}")
    (src / "my_transform.py").write_text("def f(data, options): ...\n")
    (src / "notes").mkdir()  # a directory without __init__.py is not a package
    (src / "notes" / "a.txt").write_text("x")
    (src / "README.md").write_text("# doc")
    (src / "requirements.txt").write_text("# comment\npillow>=10  # images\n\naws-lambda-powertools>=3\n")
    return src


def test_target_names_runtime_architecture_and_wheel_platform() -> None:
    target = Target("python3.12", "arm64")
    assert target.filename == "lambda-python3.12-arm64.zip"
    assert target.platform == "manylinux2014_aarch64"
    assert target.python_version == "3.12"
    assert target.extension_suffix == ".cpython-312-aarch64-linux-gnu.so"
    assert package_lambda.default_output(target) == ROOT / "build" / "lambda-python3.12-arm64.zip"
    assert Target().filename == "lambda-python3.11-x86_64.zip"
    assert Target("python3.13", "x86_64").platform == "manylinux2014_x86_64"


@pytest.mark.parametrize(("runtime", "architecture"), [("python3.10", "x86_64"), ("python3.12", "aarch64")])
def test_target_rejects_what_is_not_built(runtime: str, architecture: str) -> None:
    with pytest.raises(BuildError, match="is not one of"):
        Target(runtime, architecture)


def test_requirements_are_read_from_one_file(tmp_path: Path) -> None:
    src = make_source(tmp_path)
    assert package_lambda.requirements(src / "requirements.txt") == ["pillow>=10", "aws-lambda-powertools>=3"]
    # The project's own file: what pyproject.toml also reads (with boto3 from requirements-runtime.txt).
    shipped = package_lambda.requirements()
    assert any(r.startswith("pillow") for r in shipped) and any(
        r.startswith("aws-lambda-powertools") for r in shipped
    )
    assert not any(r.startswith("boto3") for r in shipped), (
        "boto3 is in the Lambda runtime, not in the package"
    )
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert (
        '"lambda_src/requirements.txt"' in pyproject and '"lambda_src/requirements-runtime.txt"' in pyproject
    )


def test_every_top_level_package_and_module_is_shipped(tmp_path: Path) -> None:
    src = make_source(tmp_path)
    assert [p.name for p in package_lambda.top_level_sources(src)] == [
        "gtcontract",
        "gtstream",
        "my_transform.py",
    ]
    output = tmp_path / "out" / "lambda.zip"
    assert package_lambda.build(
        output, with_dependencies=False, source=src, requirements_file=src / "requirements.txt"
    )
    with zipfile.ZipFile(output) as archive:
        assert archive.namelist() == [
            "gtcontract/__init__.py",
            "gtcontract/schema.json",
            "gtstream/__init__.py",
            "gtstream/handlers/__init__.py",
            "gtstream/handlers/intake.py",
            "my_transform.py",
        ]


def test_the_real_source_tree_ships_the_handlers() -> None:
    names = [p.relative_to(package_lambda.LAMBDA_SRC).as_posix() for p in package_lambda.source_files()]
    assert "gtstream/handlers/intake.py" in names and "gtstream/py.typed" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".md", ".txt"))]


def test_zip_is_deterministic_and_sorted(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "b.py").write_text("b")
    (tree / "pkg" / "a.py").write_text("a")
    (tree / "pkg" / "run.sh").write_text("#!/bin/sh")
    (tree / "pkg" / "run.sh").chmod(0o700)
    (tree / "pkg" / "__pycache__").mkdir()
    (tree / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"x")
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    assert package_lambda.write_zip(tree, first) == 3
    (tree / "pkg" / "a.py").touch()  # a newer mtime must not change the bytes
    (tree / "pkg" / "b.py").chmod(0o600)  # nor a stricter local umask
    package_lambda.write_zip(tree, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["pkg/a.py", "pkg/b.py", "pkg/run.sh"]
        assert {i.date_time for i in archive.infolist()} == {package_lambda.FIXED_DATE}
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        assert modes == {"pkg/a.py": 0o644, "pkg/b.py": 0o644, "pkg/run.sh": 0o755}


def test_build_skips_when_inputs_are_unchanged(tmp_path: Path) -> None:
    src = make_source(tmp_path)
    reqs = src / "requirements.txt"
    output = tmp_path / "lambda.zip"
    assert package_lambda.build(output, with_dependencies=False, source=src, requirements_file=reqs) is True
    assert package_lambda.build(output, with_dependencies=False, source=src, requirements_file=reqs) is False
    assert package_lambda.build(
        output, with_dependencies=False, source=src, requirements_file=reqs, force=True
    )
    (src / "gtstream" / "__pycache__" / "y.cpython-311.pyc").write_bytes(b"more cache")
    assert package_lambda.build(output, with_dependencies=False, source=src, requirements_file=reqs) is False
    (src / "gtcontract" / "__init__.py").write_text("NAME = 2\n")
    assert package_lambda.build(output, with_dependencies=False, source=src, requirements_file=reqs) is True
    output.write_bytes(b"not the zip we wrote")
    assert package_lambda.build(output, with_dependencies=False, source=src, requirements_file=reqs) is True
    assert zipfile.is_zipfile(output)


def test_inputs_digest_covers_target_requirements_and_sources(tmp_path: Path) -> None:
    src = make_source(tmp_path)
    reqs = src / "requirements.txt"
    base = package_lambda.inputs_digest(Target(), src, reqs)
    assert package_lambda.inputs_digest(Target("python3.12"), src, reqs) != base
    assert package_lambda.inputs_digest(Target(architecture="arm64"), src, reqs) != base
    (src / "README.md").write_text("docs do not go into the zip")
    assert package_lambda.inputs_digest(Target(), src, reqs) == base
    reqs.write_text("pillow>=10\naws-lambda-powertools>=3\njsonschema>=4\n")
    assert package_lambda.inputs_digest(Target(), src, reqs) != base


class FakePip:
    """Records pip calls; fails the offline install until a download has happened."""

    def __init__(self, offline_has_wheels: bool) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.downloaded = offline_has_wheels

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        if args[0] == "download":
            self.downloaded = True
        ok = args[0] == "download" or self.downloaded
        return subprocess.CompletedProcess(
            ["pip", *args], 0 if ok else 1, "", "" if ok else "no matching distribution"
        )


@pytest.mark.parametrize("cached", [True, False])
def test_wheels_come_from_the_cache_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool
) -> None:
    src = make_source(tmp_path)
    cache = tmp_path / "wheels"
    cache.mkdir()
    pip = FakePip(offline_has_wheels=cached)
    monkeypatch.setattr(package_lambda, "_pip", pip)
    tree = tmp_path / "tree"
    tree.mkdir()
    origin = package_lambda.install_dependencies(
        Target("python3.13", "arm64"), tree, cache, src / "requirements.txt"
    )
    commands = [c[0] for c in pip.calls]
    assert commands == (["install"] if cached else ["install", "download", "install"])
    assert origin.startswith("wheel cache" if cached else "the package index")
    for call in pip.calls:
        text = " ".join(call)
        assert (
            "--platform manylinux2014_aarch64 --implementation cp --python-version 3.13 --only-binary=:all:"
            in text
        )
        assert call[-2:] == ("pillow>=10", "aws-lambda-powertools>=3")
    install = " ".join(pip.calls[0])
    assert f"--no-index --find-links {cache}" in install and f"--target {tree}" in install


def test_a_failed_download_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_source(tmp_path)

    def offline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(["pip"], 1, "", "ERROR: Could not find a version\nthat satisfies")

    monkeypatch.setattr(package_lambda, "_pip", offline)
    tree = tmp_path / "tree"
    tree.mkdir()
    with pytest.raises(
        BuildError, match=r"python3.11/x86_64 \(manylinux2014_x86_64\): ERROR: Could not find"
    ):
        package_lambda.install_dependencies(Target(), tree, tmp_path / "wheels", src / "requirements.txt")


def test_cli_builds_the_named_target_and_rejects_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "x.zip"
    assert (
        package_lambda.main(
            ["--runtime", "python3.13", "--architecture", "arm64", "--no-deps", "--output", str(output)]
        )
        == 0
    )
    assert zipfile.is_zipfile(output)
    with pytest.raises(SystemExit) as exc:
        package_lambda.main(["--architecture", "aarch64"])
    assert exc.value.code == 2
    assert "invalid choice: 'aarch64'" in capsys.readouterr().err


def _hcl_list(text: str, variable: str) -> set[str]:
    match = re.search(r"contains\(\[([^\]]*)\], var\.lambda\." + variable + r"\)", text)
    assert match, f"no contains([...], var.lambda.{variable}) validation"
    return set(re.findall(r'"([^"]+)"', match.group(1)))


def test_terraform_and_cloudformation_accept_exactly_what_is_built() -> None:
    variables = (ROOT / "terraform" / "modules" / "streaming-labeling" / "variables.tf").read_text(
        encoding="utf-8"
    )
    assert _hcl_list(variables, "runtime") == set(package_lambda.RUNTIMES)
    assert _hcl_list(variables, "architecture") == set(package_lambda.ARCHITECTURES)
    template, errors = decode(str(ROOT / "cloudformation" / "labeling.yaml"))
    assert not errors and isinstance(template, dict)
    parameters = template["Parameters"]
    assert set(parameters["LambdaRuntime"]["AllowedValues"]) == set(package_lambda.RUNTIMES)
    assert set(parameters["LambdaArchitecture"]["AllowedValues"]) == set(package_lambda.ARCHITECTURES)
    assert parameters["LambdaRuntime"]["Default"] == package_lambda.DEFAULT_TARGET.runtime
    assert parameters["LambdaArchitecture"]["Default"] == package_lambda.DEFAULT_TARGET.architecture


def test_the_real_package_holds_the_contract_and_its_schema_files(tmp_path: Path) -> None:
    """The contract package ships beside gtstream, with its JSON Schema files, and jsonschema is
    one of the Lambda package's requirements (gtcontract validates with it)."""
    output = tmp_path / "lambda.zip"
    package_lambda.build(output, with_dependencies=False)
    with zipfile.ZipFile(output) as archive:
        names = set(archive.namelist())
    assert {"gtcontract/project_config.py", "gtcontract/project_config.schema.json"} <= names
    assert {"gtcontract/deployment.schema.json", "gtcontract/py.typed"} <= names
    assert any(r.startswith("jsonschema") for r in package_lambda.requirements())
    # The task template renderer needs python-liquid, which the Lambdas neither need nor get.
    assert "gtcontract/task_template.py" not in names
    assert not any(r.lower().startswith("python-liquid") for r in package_lambda.requirements())
