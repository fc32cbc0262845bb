"""`terraform fmt`, `validate` of every module and example, and `terraform test` (mock provider)."""

from __future__ import annotations

import json
import py_compile
import zipfile
from pathlib import Path

import pytest

from .conftest import APPLY_GROUP, EXAMPLES, MODULES, ROOT, STATIC_GROUP, TERRAFORM_DIR, Terraform


def in_group(workdir: Path) -> object:
    """``workdir`` as a parameter in its xdist group: examples/local's with the apply (conftest)."""
    group = APPLY_GROUP if workdir == TERRAFORM_DIR / "examples" / "local" else STATIC_GROUP
    return pytest.param(workdir, marks=group, id=workdir.relative_to(TERRAFORM_DIR).as_posix())


@STATIC_GROUP
def test_fmt_is_clean(terraform: Terraform) -> None:
    result = terraform.run(TERRAFORM_DIR, "fmt", "-check", "-recursive", "-diff", check=False)
    assert result.returncode == 0, f"terraform fmt -recursive terraform would change:\n{result.stdout}"


@pytest.mark.parametrize("workdir", [in_group(p) for p in MODULES + EXAMPLES])
def test_validate(terraform: Terraform, workdir: Path) -> None:
    terraform.init(workdir)
    result = terraform.run(workdir, "validate", "-no-color", check=False)
    assert result.returncode == 0, result.stderr or result.stdout
    assert "Success" in result.stdout


@STATIC_GROUP
@pytest.mark.parametrize("workdir", MODULES, ids=lambda p: p.relative_to(TERRAFORM_DIR).as_posix())
def test_terraform_test_with_mock_provider(terraform: Terraform, workdir: Path) -> None:
    assert list((workdir / "tests").glob("*.tftest.hcl")), f"{workdir} has no tests/*.tftest.hcl"
    terraform.init(workdir)
    extra: list[str] = []
    if "var.prebuilt_lambda_package" in "".join(
        p.read_text() for p in (workdir / "tests").glob("*.tftest.hcl")
    ):
        package = terraform.build_dir / "tftest-lambda.zip"  # plan only hashes it
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("gtstream/__init__.py", "")
        extra.append(f"-var=prebuilt_lambda_package={json.dumps(str(package))}")  # an HCL string
        # A compiled cache in lambda_src/, so the run that checks caches are no build input means it.
        py_compile.compile(str(ROOT / "lambda_src" / "gtstream" / "__init__.py"), doraise=True)
    result = terraform.run(workdir, "test", "-no-color", *extra, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " 0 failed" in result.stdout
