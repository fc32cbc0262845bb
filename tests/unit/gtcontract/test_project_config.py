"""The project config contract (docs/interfaces.md section 5): schema, semantic rules, parsing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from tests.documents import published_config

from gtcontract import project_config as pc
from gtcontract.project_config import ProjectConfig, ProjectConfigError, validate_project_config
from gtcontract.schema import load_schema

ROOT = Path(__file__).resolve().parents[3]
PACKAGE_SCHEMA = ROOT / "lambda_src" / "gtcontract" / "project_config.schema.json"
STARTER = ROOT / "instructions"


@pytest.mark.parametrize("name", ["project_config.schema.json", "deployment.schema.json"])
def test_schema_files_are_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_the_starter_repository_ships_the_same_schema_and_points_editors_at_it() -> None:
    shipped = STARTER / "project.schema.json"
    assert shipped.read_bytes() == PACKAGE_SCHEMA.read_bytes(), (
        "instructions/project.schema.json differs from lambda_src/gtcontract/project_config.schema.json: "
        "copy the package's file over it"
    )
    starter = json.loads((STARTER / "project.json").read_text())
    assert starter["$schema"] == "./project.schema.json"
    assert validate_project_config(starter) == []


def test_task_types_of_the_schema_are_the_rows_of_the_rules_table() -> None:
    assert pc.schema()["properties"]["task_type"]["enum"] == list(pc.TASK_TYPES)
    for task in pc.TASK_TYPES.values():
        assert 1 <= task.min_categories <= task.max_categories and task.builtin_suffix


def test_builtin_transforms_are_functions_of_the_lambda_package() -> None:
    from gtstream import transforms

    for spec in pc.BUILTIN_TRANSFORMS:
        module, _, function = spec.partition(":")
        assert module == transforms.__name__ and callable(getattr(transforms, function))
    assert (
        pc.schema()["properties"]["preprocessing"]["properties"]["transform"]["default"]
        == pc.DEFAULT_TRANSFORM
    )


def test_defaults_come_from_the_schema() -> None:
    assert pc.defaults() == {
        "audit_label_attribute_name": None,
        "review": None,
        "workers_per_object": 1,
        "task_time_limit_seconds": 300,
        "task_availability_lifetime_seconds": 864000,
        "max_concurrent_task_count": 1000,
        "pre_human_task_lambda_arn": None,
        "annotation_consolidation_lambda_arn": None,
        "content_classifiers": [],
        "on_publish": "next-job",
        "preprocessing": {
            "transform": pc.DEFAULT_TRANSFORM,
            "max_side": 1024,
            "format": "JPEG",
            "quality": 90,
        },
    }
    lean = {k: v for k, v in published_config().items() if k not in pc.defaults()}
    parsed = ProjectConfig.parse(lean)
    assert (parsed.workers_per_object, parsed.max_concurrent_task_count) == (1, 1000)
    assert parsed.on_publish == "next-job" and not parsed.rolls_over
    assert (
        parsed.preprocessing.transform == pc.DEFAULT_TRANSFORM
        and parsed.preprocessing.options["quality"] == 90
    )


def test_parse_resolves_builtin_lambdas_per_region_and_task_type() -> None:
    parsed = ProjectConfig.parse(published_config(task_type="bounding-box"))
    assert (
        parsed.preprocessing.options["max_side"] == 512 and parsed.preprocessing.options["format"] == "JPEG"
    )
    pre, acs = parsed.lambda_arns("eu-west-1")
    assert pre == "arn:aws:lambda:eu-west-1:568282634449:function:PRE-BoundingBox"
    assert acs == "arn:aws:lambda:eu-west-1:568282634449:function:ACS-BoundingBox"
    with pytest.raises(ProjectConfigError, match="no built-in Ground Truth Lambdas known for xx-nowhere-1"):
        parsed.lambda_arns("xx-nowhere-1")


def test_one_error_lists_every_problem_each_with_its_field_and_a_fix() -> None:
    with pytest.raises(ProjectConfigError) as caught:
        ProjectConfig.parse(
            published_config(
                label_attribute_name="x-metadata",
                categories=[],
                task_time_limit_seconds=5,
                workteam_arn="nope",
                colour="blue",
            )
        )
    problems = caught.value.problems
    assert [p.path for p in problems] == [
        "categories",
        "colour",
        "label_attribute_name",
        "task_time_limit_seconds",
        "workteam_arn",
    ]
    fixes = ("write", "choose", "use", "remove")
    assert all(any(fix in p.message for fix in fixes) for p in problems), problems
    assert problems[0].message.startswith("image-classification takes 2 to 10 categories, not 0")
    assert "\n" not in str(caught.value)


def test_only_the_published_config_needs_the_publishers_fields() -> None:
    source = {
        k: v for k, v in published_config().items() if k not in ("version", "template_uri", "workteam_arn")
    }
    source.pop("label_category_config_uri")
    assert validate_project_config(source) == []
    assert [p.path for p in validate_project_config(source, published=True)] == [
        "label_category_config_uri",
        "template_uri",
        "version",
        "workteam_arn",
    ]


def test_a_custom_transform_takes_any_options_the_default_only_its_own() -> None:
    custom = {"transform": "my_transforms:crop", "crop": [0, 0, 10, 10]}
    assert validate_project_config(published_config(preprocessing=custom)) == []
    (problem,) = validate_project_config(published_config(preprocessing={"max_side": 512, "crop": 1}))
    assert problem.path == "preprocessing.crop" and "unknown key" in problem.message


def test_the_import_check_runs_only_where_asked() -> None:
    missing = published_config(preprocessing={"transform": "no_such_module_xyz:run"})
    assert validate_project_config(missing) == []
    (problem,) = validate_project_config(missing, check_import=True)
    assert problem.path == "preprocessing.transform"
    assert "cannot import no_such_module_xyz" in problem.message and "ModuleNotFoundError" in problem.message
    not_a_function = published_config(preprocessing={"transform": "json:no_such_function"})
    (problem,) = validate_project_config(not_a_function, check_import=True)
    assert problem.message.startswith("json has no function no_such_function")


def test_importing_the_contract_does_not_import_jsonschema() -> None:
    code = (
        "import sys, gtcontract.project_config, gtcontract.deployment, gtstream.handlers.job_events; "
        "assert 'jsonschema' not in sys.modules, 'jsonschema imported at import time'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_contract_imports_only_the_standard_library_and_jsonschema() -> None:
    """...and python-liquid in ``task_template``, inside the function that renders (the publisher and
    ``gtctl preview`` render; ``scripts/package_lambda.py`` leaves the module out of the Lambda package)."""
    import ast

    allowed_third_party = {"jsonschema"}
    rendering_only = {"task_template.py": {"liquid", "markupsafe"}}
    ours = {"gtstream", "gtctl", "gtlocal", "scripts", "bench", "tests"}
    for path in sorted((ROOT / "lambda_src" / "gtcontract").glob("*.py")):
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top not in ours, f"{path.name} imports {module}"
                if top in rendering_only.get(path.name, set()):
                    assert id(node) not in top_level, f"{path.name} imports {module} at module level"
                    continue
                assert top == "gtcontract" or top in sys.stdlib_module_names or top in allowed_third_party, (
                    f"{path.name} imports {module}"
                )
