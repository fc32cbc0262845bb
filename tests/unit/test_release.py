"""Release hygiene: the license, its metadata, the changelog entry of the current version and the
`?ref=vX.Y.Z` source lines module consumers copy (README, "Versions and releases")."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
READMES = [
    ROOT / "README.md",
    ROOT / "terraform" / "modules" / "streaming-labeling" / "README.md",
    ROOT / "terraform" / "modules" / "instructions-pipeline" / "README.md",
]


def test_license_is_the_apache_2_text_and_the_metadata_says_so() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(re.findall(r"^\s+\d\. ", text, flags=re.MULTILINE)) == 9  # sections 1-9
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"  # PEP 639 SPDX expression, not the deprecated table
    assert project["license-files"] == ["LICENSE"]
    requires = PYPROJECT["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(7[7-9]|[89]\d|\d{3,})(\.\d+)*", r) for r in requires), requires


def test_the_current_version_has_a_changelog_entry() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", CHANGELOG, flags=re.MULTILINE)
    assert headings and headings[0] == ("Unreleased", ""), "the first section is ## [Unreleased]"
    released = {version: date for version, date in headings[1:]}
    assert VERSION in released, f"CHANGELOG.md has no '## [{VERSION}] - YYYY-MM-DD' section"
    assert all(date for date in released.values()), "every released version has a date"
    section = CHANGELOG.split(f"## [{VERSION}]", 1)[1].split("\n## [", 1)[0]
    assert re.search(r"^### (Added|Changed|Deprecated|Removed|Fixed|Security)$", section, flags=re.MULTILINE)


def test_consumers_are_shown_the_current_version_tag() -> None:
    for readme in READMES:
        refs = set(
            re.findall(r"//terraform/modules/[a-z-]+\?ref=(v[^\"\s]+)", readme.read_text(encoding="utf-8"))
        )
        assert refs == {f"v{VERSION}"}, f"{readme.relative_to(ROOT)}: source lines pin {refs or 'nothing'}"
