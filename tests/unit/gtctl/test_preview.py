"""gtctl preview: the starter repository as one offline page; its errors are one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gtctl.__main__ import cli
from gtctl.preview import INSTRUCTIONS_ANCHOR, build

STARTER = Path(__file__).resolve().parents[3] / "instructions"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return Path(shutil.copytree(STARTER, tmp_path / "repo"))


def test_the_page_holds_the_task_the_instructions_and_the_images_offline(repo: Path) -> None:
    page = build(repo).html
    instructions = (repo / "instructions.md").read_text()
    assert "If several animals are visible" in instructions and "If several animals are visible" in page
    assert 'header="Classify the animal"' in page and "<crowd-image-classifier" in page
    assert page.count("data:image/svg+xml;base64,") >= 3  # the sample image and the two examples
    # the crowd elements' script is replaced by inline stand-ins; nothing comes from the network
    assert "<script src" not in page and 'src="http' not in page and "customElements.define" in page
    assert f'href="#{INSTRUCTIONS_ANCHOR}"' in page and f'id="{INSTRUCTIONS_ANCHOR}"' in page
    assert "[[" not in page and "{{" not in page


def test_the_cli_writes_the_file_and_says_what_is_in_it(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "p.html"
    result = CliRunner().invoke(cli, ["preview", "--source", str(repo), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 categories, 2 example image(s)" in result.output and out.read_text().startswith(
        "<!doctype html>"
    )


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda r: (r / "template.liquid.html").write_text("{{ x | grant_read_acess }}"), "unknown filter"),
        (lambda r: (r / "template.liquid.html").write_text("[[ title ]]"), "unknown placeholder [[ title ]]"),
        (lambda r: (r / "instructions.md").unlink(), "instructions.md: not found"),
        (lambda r: (r / "project.json").write_text('{"categories": ["one"]}'), "project.json: "),
        (lambda r: (r / "examples" / "dog.svg").unlink(), "examples[1].file"),
    ],
    ids=["filter", "placeholder", "instructions", "config", "example"],
)
def test_each_problem_is_one_line_and_exit_1(
    repo: Path, tmp_path: Path, break_it: object, expected: str
) -> None:
    break_it(repo)  # type: ignore[operator]
    result = CliRunner().invoke(cli, ["preview", "--source", str(repo), "--output", str(tmp_path / "p.html")])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("gtctl: error: ") and expected in line


def test_a_project_without_examples_needs_an_image(repo: Path, tmp_path: Path) -> None:
    project = json.loads((repo / "project.json").read_text())
    project.pop("examples")
    (repo / "project.json").write_text(json.dumps(project))
    result = CliRunner().invoke(cli, ["preview", "--source", str(repo), "--output", str(tmp_path / "p.html")])
    assert result.exit_code == 1 and "pass --image FILE" in result.output
    image = repo / "examples" / "dog.svg"
    ok = CliRunner().invoke(
        cli, ["preview", "--source", str(repo), "--image", str(image), "--output", str(tmp_path / "p.html")]
    )
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize(
    ("task_type", "attr", "element"),
    [
        ("image-multilabel-classification", "animals", "crowd-image-classifier-multi-select"),
        ("bounding-box", "boxes", "crowd-bounding-box"),
        ("semantic-segmentation", "mask-ref", "crowd-semantic-segmentation"),
    ],
)
def test_each_task_type_previews_its_starter_template_and_a_wrong_one_is_one_line(
    repo: Path, task_type: str, attr: str, element: str
) -> None:
    project = json.loads((repo / "project.json").read_text())
    project.update(task_type=task_type, label_attribute_name=attr)
    (repo / "project.json").write_text(json.dumps(project))
    page = build(repo).html
    assert f"<{element}" in page and '="[&quot;cat&quot;, &quot;dog&quot;, &quot;bird&quot;]"' in page
    # The repository's own template overrides the starter one, and must be the type's
    shutil.copy(repo / "templates" / "image-classification.liquid.html", repo / "template.liquid.html")
    result = CliRunner().invoke(cli, ["preview", "--source", str(repo), "--output", str(repo / "p.html")])
    assert result.exit_code != 0
    assert f"template.liquid.html: has no <{element}> (it uses <crowd-image-classifier>)" in result.output
