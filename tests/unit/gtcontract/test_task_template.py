"""The task template: the publisher's placeholders, Ground Truth's Liquid filters, one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gtcontract import task_template as tt

ROOT = Path(__file__).resolve().parents[3]


def test_placeholders_are_filled_and_an_unknown_one_names_its_line_and_the_known_ones() -> None:
    filled = tt.fill("a [[ task_title ]] b [[task_title]]\n", {"task_title": "T"})
    assert filled == "a T b T\n"
    with pytest.raises(tt.TemplateError) as error:
        tt.fill("ok\n[[ task_titel ]]", {})
    assert str(error.value).startswith("template.liquid.html: line 2: unknown placeholder [[ task_titel ]]")
    assert "[[ instructions_html ]]" in str(error.value) and "\n" not in str(error.value)


def test_ground_truths_filters() -> None:
    # Given a task input like the built-in image pre-annotation Lambdas give
    task = {
        **tt.sample_task_input("s3://bucket/images/a b.jpg", ["cat", 'd"og']),
        "html": "<b>",
        "text": "a &amp; b",
    }
    template = (
        "{{ task.input.taskObject | grant_read_access }}|{{ task.input.labels | to_json }}|"
        "{{ task.input.html }}|{{ task.input.html | skip_autoescape }}|{{ task.input.text | escape_once }}|"
        "{{ missing | to_json }}"
    )
    # When it is rendered as Ground Truth renders (autoescape on)
    out = tt.render_task(template, task, grant_read_access=lambda uri: f"https://signed/{uri[5:]}")
    # Then the S3 URI is signed, JSON is escaped for an attribute, HTML only where the author said so
    signed, labels, plain, raw, once, missing = out.split("|")
    assert signed == "https://signed/bucket/images/a b.jpg"
    assert labels == "[&#34;cat&#34;, &#34;d\\&#34;og&#34;]"
    assert (plain, raw, once, missing) == ("&lt;b&gt;", "<b>", "a &amp; b", "null")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("<p>\n{{ task.input.taskObject | grant_read_acess }}", "line 2: unknown filter 'grant_read_acess'"),
        ("{% if task.input %}\nno end", "expected tag endif"),
        ("{{ task.input.labels | skip_encoding }}", "unknown filter 'skip_encoding'"),
    ],
)
def test_a_template_that_does_not_render_is_one_line(template: str, message: str) -> None:
    with pytest.raises(tt.TemplateError) as error:
        tt.render_task(template, tt.sample_task_input("s3://b/k", ["a", "b"]))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith("template.liquid.html: ")


def test_the_starter_template_renders_with_the_crowd_elements_it_needs() -> None:
    template = (ROOT / "instructions" / "templates" / "image-classification.liquid.html").read_text()
    filled = tt.fill(template, {name: f"<{name}>" for name in tt.PLACEHOLDERS})
    out = tt.render_task(filled, tt.sample_task_input("s3://b/sample.jpg", ["cat", "dog"]))
    assert 'src="https://b.s3.amazonaws.com/sample.jpg?' in out
    assert tt.CROWD_ELEMENTS_SCRIPT in out and "<crowd-image-classifier" in out
    assert "<instructions_html>" in out and "<examples_html>" in out


def test_the_lambda_package_leaves_the_renderer_out() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import package_lambda

    shipped = {p.relative_to(ROOT / "lambda_src").as_posix() for p in package_lambda.source_files()}
    assert "gtcontract/project_config.py" in shipped
    assert "gtcontract/task_template.py" not in shipped
