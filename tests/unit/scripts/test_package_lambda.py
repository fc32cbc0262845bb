"""The Lambda package is deterministic and rebuilt only when its inputs change."""

from __future__ import annotations

import zipfile
from pathlib import Path

import package_lambda


def test_zip_is_deterministic_and_sorted(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "b.py").write_text("b")
    (tree / "pkg" / "a.py").write_text("a")
    (tree / "pkg" / "__pycache__").mkdir()
    (tree / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"x")
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    assert package_lambda.write_zip(tree, first) == 2
    (tree / "pkg" / "a.py").touch()  # a newer mtime must not change the bytes
    package_lambda.write_zip(tree, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["pkg/a.py", "pkg/b.py"]
        assert {i.date_time for i in archive.infolist()} == {package_lambda.FIXED_DATE}


def test_build_skips_when_inputs_are_unchanged(tmp_path: Path) -> None:
    output = tmp_path / "lambda.zip"
    assert package_lambda.build(output, with_dependencies=False) is True
    with zipfile.ZipFile(output) as archive:
        assert "gtstream/__init__.py" in archive.namelist()
    assert package_lambda.build(output, with_dependencies=False) is False
    assert package_lambda.build(output, with_dependencies=False, force=True) is True


def test_the_package_holds_the_contract_and_the_runtime_dependencies_of_pyproject(tmp_path: Path) -> None:
    import tomllib

    output = tmp_path / "lambda.zip"
    package_lambda.build(output, with_dependencies=False)
    with zipfile.ZipFile(output) as archive:
        names = set(archive.namelist())
    assert {"gtcontract/project_config.py", "gtcontract/project_config.schema.json"} <= names
    assert {"gtcontract/deployment.schema.json", "gtcontract/py.typed"} <= names
    pyproject = tomllib.loads((package_lambda.ROOT / "pyproject.toml").read_text())
    runtime = [d for d in pyproject["project"]["dependencies"] if not d.startswith("boto3")]  # in the runtime
    assert sorted(package_lambda.REQUIREMENTS) == sorted(runtime)
