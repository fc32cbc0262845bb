"""`terraform fmt`, `validate` of every module and example, and `terraform test` (mock provider)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from .conftest import EXAMPLES, MODULES, TERRAFORM_DIR, Terraform


def test_fmt_is_clean(terraform: Terraform) -> None:
    result = terraform.run(TERRAFORM_DIR, "fmt", "-check", "-recursive", "-diff", check=False)
    assert result.returncode == 0, f"terraform fmt -recursive terraform would change:\n{result.stdout}"


@pytest.mark.parametrize("workdir", MODULES + EXAMPLES, ids=lambda p: p.relative_to(TERRAFORM_DIR).as_posix())
def test_validate(terraform: Terraform, workdir: Path) -> None:
    terraform.init(workdir)
    result = terraform.run(workdir, "validate", "-no-color", check=False)
    assert result.returncode == 0, result.stderr or result.stdout
    assert "Success" in result.stdout


@pytest.mark.parametrize("workdir", MODULES, ids=lambda p: p.relative_to(TERRAFORM_DIR).as_posix())
def test_terraform_test_with_mock_provider(terraform: Terraform, workdir: Path) -> None:
    assert list((workdir / "tests").glob("*.tftest.hcl")), f"{workdir} has no tests/*.tftest.hcl"
    terraform.init(workdir)
    extra: list[str] = []
    if "lambda_package" in (workdir / "variables.tf").read_text():
        package = terraform.build_dir / "tftest-lambda.zip"  # plan only hashes it
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("gtstream/__init__.py", "")
        extra.append(f"-var=lambda_package={package}")
    result = terraform.run(workdir, "test", "-no-color", *extra, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " 0 failed" in result.stdout
