"""The README tables of the Terraform modules and examples match their variables and outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

tfdocs = pytest.importorskip("tfdocs", reason="python-hcl2 is needed to parse the Terraform files")


def test_every_readme_table_is_current() -> None:
    stale = [
        str(module)
        for module in tfdocs.modules()
        if tfdocs.updated_readme(module / "README.md", module) != (module / "README.md").read_text()
    ]
    assert stale == [], "run `python scripts/tfdocs.py` to regenerate: " + ", ".join(stale)


def test_table_lists_every_variable_and_output(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text(
        'variable "a" {\n  description = "first"\n  type = string\n}\n'
        'variable "b" {\n  description = "second | piped"\n  type = number\n  default = 3\n}\n'
    )
    (tmp_path / "outputs.tf").write_text('output "c" {\n  description = "out"\n  value = 1\n}\n')
    table = tfdocs.render(tmp_path)
    assert "| `a` | first | `string` | `n/a` | yes |" in table
    assert "| `b` | second \\| piped | `number` | `3` | no |" in table
    assert "| `c` | out |" in table


def test_stale_readme_is_reported(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text('variable "a" {\n  description = "first"\n  type = string\n}\n')
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{tfdocs.BEGIN}\nold\n{tfdocs.END}\n")
    assert "| `a` | first |" in tfdocs.updated_readme(readme, tmp_path)
    assert tfdocs.updated_readme(readme, tmp_path) != readme.read_text()
