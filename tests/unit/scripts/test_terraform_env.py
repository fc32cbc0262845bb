"""The Terraform CLI config finds the provider mirror, or says why it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

import terraform_env


def make_mirror(root: Path) -> Path:
    (root / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0" / "linux_amd64").mkdir(parents=True)
    (root / "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws").write_text("")
    return root


def test_mirror_from_environment_variable_is_found_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = make_mirror(tmp_path / "mirror")
    monkeypatch.setenv("TF_PLUGIN_MIRROR", str(mirror))
    monkeypatch.setenv("TERRAFORM_BIN", "/bin/true")
    found = terraform_env.find_environment()
    assert isinstance(found, terraform_env.TerraformEnv) and found.mirror == mirror
    text = terraform_env.render_cli_config(found, tmp_path / "cache")
    assert f'path    = "{mirror}"' in text
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text


def test_reason_when_no_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(terraform_env, "candidate_mirrors", lambda: [tmp_path / "none"])
    monkeypatch.setenv("TERRAFORM_BIN", "/bin/true")
    reason = str(terraform_env.find_environment())
    assert "no filesystem mirror with registry.terraform.io/hashicorp/aws" in reason


def test_reason_when_no_terraform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERRAFORM_BIN", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert "no terraform binary" in str(terraform_env.find_environment())
