"""Task types: config rules (categories, LabelAttributeName, built-in Lambdas) and the starter
templates (each renders and holds its task type's crowd element with what the type needs).

Crowd elements: docs.aws.amazon.com/sagemaker/latest/dg/sms-ui-template-reference.html;
LabelAttributeName and the built-in Lambdas: CreateLabelingJob and HumanTaskConfig
(docs.aws.amazon.com/sagemaker/latest/APIReference/API_HumanTaskConfig.html).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gtcontract import project_config as pc
from gtcontract import task_template as tt
from gtcontract.project_config import ProjectConfig, validate_project_config

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "instructions" / "templates"
TYPES = list(pc.TASK_TYPES)
ATTR = {t: "mask-ref" if pc.TASK_TYPES[t].label_attribute_ref else "label" for t in TYPES}
# The earlier label a review task type shows (auditLabelAttributeName).
AUDIT = {
    "bounding-box-verification": "boxes",
    "bounding-box-adjustment": "boxes",
    "semantic-segmentation-adjustment": "first-mask-ref",
}
SUFFIX = {
    "image-classification": "ImageMultiClass",
    "image-multilabel-classification": "ImageMultiClassMultiLabel",
    "bounding-box": "BoundingBox",
    "semantic-segmentation": "SemanticSegmentation",
    "bounding-box-verification": "VerificationBoundingBox",
    "bounding-box-adjustment": "AdjustmentBoundingBox",
    "semantic-segmentation-adjustment": "AdjustmentSemanticSegmentation",
}
ELEMENT = {
    "image-classification": ("crowd-image-classifier", "categories"),
    "image-multilabel-classification": ("crowd-image-classifier-multi-select", "categories"),
    "bounding-box": ("crowd-bounding-box", "labels"),
    "semantic-segmentation": ("crowd-semantic-segmentation", "labels"),
    "bounding-box-verification": ("crowd-image-classifier", "categories"),
    "bounding-box-adjustment": ("crowd-bounding-box", "labels"),
    "semantic-segmentation-adjustment": ("crowd-semantic-segmentation", "labels"),
}
CATEGORIES = ["cat", 'd"og', "bird"]
# A data object's line with the earlier labels the review types show ("Output Data" shapes).
LINE = {
    "source-ref": "s3://b/images/a.jpg",
    "boxes": {
        "image_size": [{"width": 50, "height": 40, "depth": 3}],
        "annotations": [{"class_id": 1, "left": 3, "top": 4, "width": 5, "height": 6}],
    },
    "boxes-metadata": {"class-map": {"1": "dog"}, "type": "groundtruth/object-detection"},
    "first-mask-ref": "s3://b/out/annotations/mask.png",
    "first-mask-ref-metadata": {
        "internal-color-map": {
            "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.0},
            "1": {"class-name": "cat", "hex-color": "#2acf59", "confidence": 0.0},
        },
        "type": "groundtruth/semantic-segmentation",
    },
}


def config(task_type: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": 1,
        "version": "v1",
        "task_type": task_type,
        "label_attribute_name": ATTR[task_type],
        "categories": ["cat", "dog"],
        "task": {"title": "T", "description": "D"},
        "template_uri": "s3://b/config/v1/template.liquid.html",
        "label_category_config_uri": "s3://b/config/v1/categories.json",
        "workteam_arn": "arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/t",
    }
    if task_type in AUDIT:
        base["audit_label_attribute_name"] = AUDIT[task_type]
    return {**base, **changes}


def paths(problems: list[Any]) -> list[str]:
    return [p.path for p in problems]


def test_every_task_type_has_its_row_template_and_lambdas() -> None:
    assert set(TYPES) == set(SUFFIX) == {p.stem.removesuffix(".liquid") for p in TEMPLATES.iterdir()}
    for name, task in pc.TASK_TYPES.items():
        assert (task.builtin_suffix, (task.crowd_element, task.categories_attribute)) == (
            SUFFIX[name],
            ELEMENT[name],
        )


@pytest.mark.parametrize("task_type", TYPES)
def test_each_task_type_resolves_its_builtin_lambdas_in_every_region(task_type: str) -> None:
    parsed = ProjectConfig.parse(config(task_type))
    for region, account in pc.BUILTIN_LAMBDA_ACCOUNTS.items():
        pre, acs = parsed.lambda_arns(region)
        assert pre == f"arn:aws:lambda:{region}:{account}:function:PRE-{SUFFIX[task_type]}"
        assert acs == f"arn:aws:lambda:{region}:{account}:function:ACS-{SUFFIX[task_type]}"


@pytest.mark.parametrize("task_type", TYPES)
def test_another_types_builtin_lambda_is_rejected_with_the_right_one_named(task_type: str) -> None:
    other = next(s for t, s in SUFFIX.items() if t != task_type)
    arn = f"arn:aws:lambda:eu-west-1:568282634449:function:ACS-{other}"
    problems = validate_project_config(config(task_type, annotation_consolidation_lambda_arn=arn))
    assert paths(problems) == ["annotation_consolidation_lambda_arn"]
    assert f"function:ACS-{SUFFIX[task_type]}" in problems[0].message


def test_semantic_segmentation_needs_a_ref_attribute_and_the_others_refuse_one() -> None:
    problems = validate_project_config(config("semantic-segmentation", label_attribute_name="mask"))
    assert [str(p) for p in problems] == [
        "label_attribute_name: semantic-segmentation needs a name ending in -ref; write mask-ref"
    ]
    for task_type in (
        "image-classification",
        "image-multilabel-classification",
        "bounding-box",
        "bounding-box-verification",
        "bounding-box-adjustment",
    ):
        problems = validate_project_config(config(task_type, label_attribute_name="boxes-ref"))
        assert paths(problems) == ["label_attribute_name"] and 'write "boxes"' in problems[0].message


@pytest.mark.parametrize(
    ("task_type", "fewest", "most"),
    [
        ("image-classification", 2, 10),
        ("image-multilabel-classification", 2, 50),
        ("bounding-box", 1, 10),
        ("semantic-segmentation", 1, 20),
        ("bounding-box-verification", 2, 10),
        ("bounding-box-adjustment", 1, 10),
        ("semantic-segmentation-adjustment", 1, 20),
    ],
)
def test_category_counts_per_task_type(task_type: str, fewest: int, most: int) -> None:
    for count, ok in ((fewest - 1, False), (fewest, True), (most, True), (most + 1, False)):
        categories = [f"c{i}" for i in range(count)]
        problems = validate_project_config(config(task_type, categories=categories))
        assert (problems == []) is ok, (count, problems)
        if not ok:
            assert problems[0].path == "categories" and f"{fewest} to {most}" in problems[0].message


def filled(task_type: str, categories: list[str] = CATEGORIES) -> str:
    template = (TEMPLATES / f"{task_type}.liquid.html").read_text()
    project = {
        "task": {"title": "Title", "description": "Do <it>."},
        "categories": categories,
        "audit_label_attribute_name": AUDIT.get(task_type),
    }
    values = tt.placeholder_values(
        project, instructions_url="https://x/i.html", instructions_html="<p>I</p>", examples_html="<figure>"
    )
    return tt.fill(template, values, source=f"{task_type}.liquid.html")


@pytest.mark.parametrize("task_type", TYPES)
def test_each_starter_template_renders_with_its_crowd_element_and_what_it_needs(task_type: str) -> None:
    # Given the starter template of the type, filled as the publisher fills it
    # When Ground Truth renders it for an image
    out = tt.render_task(filled(task_type), tt.sample_task_input("s3://b/images/a.jpg", CATEGORIES, LINE))
    # Then it has the type's element in a crowd-form, with the image, header, categories, instructions
    assert tt.crowd_element_problems(out, task_type, CATEGORIES) == []
    element, attribute = ELEMENT[task_type]
    assert f"<{element}" in out and f'{attribute}="[&#34;cat&#34;' in out.replace("&quot;", "&#34;")
    assert 'src="https://b.s3.amazonaws.com/images/a.jpg?' in out and tt.CROWD_ELEMENTS_SCRIPT in out
    assert "Do &lt;it&gt;." in out and "<p>I</p>" in out and "https://x/i.html" in out
    # And a template of every other type is refused for it, naming the element it lacks
    for other in TYPES:
        if ELEMENT[other][0] != element:
            other_out = tt.render_task(filled(other), tt.sample_task_input("s3://b/a.jpg", CATEGORIES))
            [problem] = tt.crowd_element_problems(other_out, task_type, CATEGORIES)
            assert problem.startswith(f"has no <{element}> (it uses <{ELEMENT[other][0]}>)")
            assert f"templates/{task_type}.liquid.html" in problem
    # And a review type refuses the plain template of its element (nothing shows the earlier label)
    review = pc.TASK_TYPES[task_type].review_attribute
    if review:
        plain = next(t for t in TYPES if ELEMENT[t][0] == element and t not in AUDIT)
        plain_out = tt.render_task(filled(plain), tt.sample_task_input("s3://b/a.jpg", CATEGORIES))
        assert tt.crowd_element_problems(plain_out, task_type, CATEGORIES) == [
            f'<{element}> has no {review}="..."; add it'
        ]


@pytest.mark.parametrize(
    ("task_type", "shown"),
    [
        ("bounding-box-verification", "label: &#34;dog&#34;, left: 3, top: 4, width: 5, height: 6,"),
        ("bounding-box-adjustment", "label: &#34;dog&#34;, left: 3, top: 4, width: 5, height: 6,"),
        ("semantic-segmentation-adjustment", "&#34;cat&#34;: {'color': &#34;#2acf59&#34;}"),
    ],
)
def test_a_review_template_shows_the_earlier_label_of_the_line(task_type: str, shown: str) -> None:
    """The documented Liquid of the elements' "initial-value" / "overlay": the earlier label comes
    from ``task.input.manifestLine`` (sms-ui-template-crowd-bounding-box.html,
    sms-ui-template-crowd-semantic-segmentation.html, sms-ui-template-crowd-image-classifier.html)."""
    out = tt.render_task(
        filled(task_type),
        tt.sample_task_input("s3://b/images/a.jpg", CATEGORIES, LINE),
        grant_read_access=lambda uri: f"https://signed/{uri[5:]}",
    )
    assert shown in " ".join(out.split())
    if task_type == "semantic-segmentation-adjustment":
        assert "'src': 'https://signed/b/out/annotations/mask.png'" in out
        assert "BACKGROUND" not in out


def test_review_types_need_the_reviewed_attribute_and_the_others_refuse_it() -> None:
    def problems(task_type: str, audit: str | None) -> list[str]:
        found = validate_project_config(config(task_type, audit_label_attribute_name=audit))
        return [str(p) for p in found]

    assert problems("bounding-box-adjustment", None) == [
        "audit_label_attribute_name: bounding-box-adjustment reviews an earlier label: write the label "
        'attribute name of the job that made it, e.g. "boxes"'
    ]
    assert problems("semantic-segmentation-adjustment", "first-mask") == [
        "audit_label_attribute_name: a segmentation label's attribute ends in -ref; write first-mask-ref"
    ]
    assert problems("bounding-box-verification", "boxes-ref") == [
        "audit_label_attribute_name: bounding-box-verification reviews boxes, whose attribute does not "
        "end in -ref"
    ]
    assert problems("bounding-box-adjustment", "label") == [
        'audit_label_attribute_name: "label" is the label_attribute_name; the review writes a new one'
    ]
    assert problems("bounding-box", "boxes") == [
        "audit_label_attribute_name: only review task types take it, not bounding-box; write null"
    ]
    assert ProjectConfig.parse(config("bounding-box-adjustment")).audit_label_attribute_name == "boxes"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            '<crowd-bounding-box name="b" src="x" header="h" labels=\'["cat"]\'>'
            "<short-instructions></short-instructions><full-instructions></full-instructions>"
            "</crowd-bounding-box>",
            ["<crowd-bounding-box> is not inside <crowd-form>; put it in one"],
        ),
        (
            '<crowd-form><crowd-bounding-box name="b" header="h" labels=\'["cat"]\'>'
            "<full-instructions></full-instructions></crowd-bounding-box></crowd-form>",
            [
                '<crowd-bounding-box> has no src="..."; add it',
                "<crowd-bounding-box> has no <short-instructions>; add the instructions workers see",
            ],
        ),
        (
            '<crowd-form><crowd-bounding-box name="b" src="x" header="h" labels=\'["dog", "cat"]\'>'
            "<short-instructions></short-instructions><full-instructions></full-instructions>"
            "</crowd-bounding-box></crowd-form>",
            [
                '<crowd-bounding-box> labels=\'["dog", "cat"]\' are not the project\'s categories '
                '["cat"]; write labels="[[ categories_json ]]"'
            ],
        ),
    ],
    ids=["outside-form", "no-src-no-short-instructions", "other-categories"],
)
def test_a_template_lacking_what_the_element_needs_is_named(template: str, expected: list[str]) -> None:
    assert tt.crowd_element_problems(template, "bounding-box", ["cat"]) == expected


def test_categories_may_be_written_as_in_the_aws_examples() -> None:
    """The element pages write ``labels="['Cat', 'Dog']"``: the same list, single-quoted."""
    page = (
        '<crowd-form><crowd-bounding-box name="b" src="x" header="h" labels="[\'cat\', \'d\\\'og\']">'
        "<short-instructions></short-instructions><full-instructions></full-instructions>"
        "</crowd-bounding-box></crowd-form>"
    )
    assert tt.crowd_element_problems(page, "bounding-box", ["cat", "d'og"]) == []


def test_the_repository_template_overrides_the_starter_of_the_task_type(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    starter = tmp_path / "templates" / "bounding-box.liquid.html"
    starter.write_text("s")
    assert tt.repository_template(tmp_path, "bounding-box") == starter
    (tmp_path / "template.liquid.html").write_text("o")
    assert tt.repository_template(tmp_path, "bounding-box") == tmp_path / "template.liquid.html"
