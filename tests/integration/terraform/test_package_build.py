"""`terraform plan` of examples/complete needs no `make package` and no build/ directory: the
plan (mock AWS provider, `terraform test` in the example) shows the package build that apply runs.

It runs in a copy of the repository that has no build/ at all - what a user who just cloned it,
or a module consumer's `git::...?ref=` checkout, has.
"""

from __future__ import annotations

from pathlib import Path

from gtcontract import names

from .conftest import STATIC_GROUP, Terraform, copy_repository


@STATIC_GROUP  # in a copy of the repository: nothing shared with the apply but build/'s plugin caches
def test_plan_of_complete_example_without_build_dir_shows_the_package_build(
    terraform: Terraform, tmp_path: Path
) -> None:
    repo = copy_repository(tmp_path / "clone")
    example = repo / "terraform" / "examples" / "complete"
    assert not (repo / "build").exists()
    terraform.init(example)
    result = terraform.run(example, "test", "-no-color", "-verbose", check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "1 passed, 0 failed" in result.stdout
    plan = result.stdout
    assert "# module.labeling.terraform_data.package[0] will be created" in plan
    build = plan[plan.index("# module.labeling.terraform_data.package[0] will be created") :][:800]
    assert '+ file          = "./../../../build/lambda-python3.11-x86_64.zip"' in build, build
    assert '+ runtime       = "python3.11"' in build and '+ architecture  = "x86_64"' in build, build
    assert plan.count(
        '+ filename                       = "./../../../build/lambda-python3.11-x86_64.zip"'
    ) == len(names.FUNCTION_KINDS)
    assert not (repo / "build").exists(), "a plan must not build anything"
