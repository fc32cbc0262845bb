"""The project config (docs/interfaces.md section 5): its one validator and the parsed config.

What people write (``project.json`` of the instructions repository) and what the publisher
writes from it (``config/project.json``, read by the Lambdas at chain time) are checked by the
same function, ``validate_project_config``:

1. the JSON Schema ``project_config.schema.json`` (draft 2020-12; shipped to the instructions
   repository as ``project.schema.json`` so editors check as people type): types, ranges,
   patterns, required and unknown keys; with ``published=True`` its ``$defs/published``, which
   also requires what the publisher fills in;
2. the rules a schema does not express, from the table ``TASK_TYPES`` and Ground Truth's
   documented limits: category counts and ``LabelAttributeName`` per task type, the task
   lifetime per workforce, built-in Lambda ARNs, the transform (``check_import``: importable
   here, which only the Lambdas can check).

Every problem is one ``Problem``: the field (dotted path) and what to write instead.
A new task type is one row of ``TASK_TYPES`` plus its name in the schema's ``task_type`` enum
(a test keeps the two equal).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gtcontract.schema import Problem, load_schema, schema_problems, show

SCHEMA_FILE = "project_config.schema.json"
# on_publish: what a newly published config does to the running job (docs/interfaces.md section 5).
ON_PUBLISH_NEXT_JOB, ON_PUBLISH_ROLL_OVER = "next-job", "roll-over"
SCHEMA_VERSION = 1
DEFAULT_TRANSFORM = "gtstream.transforms:default"
# Transforms shipped in the Lambda package (gtstream); a test checks each is a function there.
BUILTIN_TRANSFORMS = (DEFAULT_TRANSFORM,)
CONTENT_CLASSIFIERS = ("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent")
# Keys of the repository's project.json that are not published.
SOURCE_ONLY_FIELDS = ("$schema", "examples")

# HumanTaskConfig.TaskAvailabilityLifetimeInSeconds: "If you choose the Amazon Mechanical Turk
# workforce, the maximum is 12 hours (43,200 seconds) ... a private or vendor workforce ... 30 days"
# (docs.aws.amazon.com/sagemaker/latest/APIReference/API_HumanTaskConfig.html).
PUBLIC_WORKFORCE_MAX_LIFETIME = 43_200
MAX_LIFETIME = 2_592_000
PUBLIC_WORKFORCE_MARKER = ":workteam/public-crowd/"


@dataclass(frozen=True)
class TaskType:
    """What Ground Truth documents about one built-in task type."""

    name: str
    builtin_suffix: str  # PRE-<suffix> / ACS-<suffix>: the built-in Lambdas
    min_categories: int
    max_categories: int
    label_attribute_ref: bool  # LabelAttributeName must end with "-ref" (and only then may)
    source: str  # where the category limits are documented
    # The Crowd HTML Element a worker labels with, and the attribute that takes the categories
    # (docs.aws.amazon.com/sagemaker/latest/dg/sms-ui-template-reference.html): the starter template
    # instructions/templates/<name>.liquid.html uses it, and the publisher refuses a template without it.
    crowd_element: str
    categories_attribute: str
    # metadata "type" of the label in the output manifest ("Output Data",
    # docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html).
    output_type: str
    # Review task types (verification, adjustment) show workers an earlier label of the line,
    # ``audit_label_attribute_name`` (the label category file's ``auditLabelAttributeName``): None
    # for the others; else whether that attribute ends in "-ref" (a segmentation mask), and the
    # crowd element's attribute that shows it ("overlay" of crowd-image-classifier, "initial-value"
    # of crowd-bounding-box / crowd-semantic-segmentation).
    audit_ref: bool | None = None
    review_attribute: str | None = None

    @property
    def reviews(self) -> bool:
        return self.audit_ref is not None


# Category limits:
# - at least two for image classification (single and multi-label), one otherwise: CreateLabelingJob,
#   LabelCategoryConfigS3Uri (docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateLabelingJob.html);
# - single-label classification: the crowd-image-classifier element takes "up to 10 categories"
#   (docs.aws.amazon.com/sagemaker/latest/dg/sms-ui-template-crowd-image-classifier.html);
# - multi-label classification: "you can provide up to 50 label-categories"
#   (docs.aws.amazon.com/sagemaker/latest/dg/sms-image-classification-multilabel.html);
# - bounding box: "Box bounding labeling jobs (all): 10 labels" (DescribeLabelingJob,
#   LabelCategoryConfigS3Uri, docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeLabelingJob.html).
#   The developer guide's console page says "up to 50 labels" (sms-bounding-box.html); the API
#   reference's stricter figure is the one we hold to, so nothing we accept is rejected by AWS.
# - semantic segmentation: "Semantic segmentation labeling jobs using automated labeling: 20 labels"
#   (CreateLabelingJob, LabelCategoryConfigS3Uri); we hold every semantic-segmentation job to it.
# LabelAttributeName "-ref": only and always for semantic segmentation, video frame and 3D point
# cloud task types (CreateLabelingJob, LabelAttributeName): the label is the S3 URI of the PNG mask
# ("Semantic Segmentation Job Output", sms-data-output.html).
TASK_TYPES: dict[str, TaskType] = {
    t.name: t
    for t in (
        TaskType(
            "image-classification",
            "ImageMultiClass",
            2,
            10,
            False,
            "CreateLabelingJob (at least 2); crowd-image-classifier (up to 10)",
            "crowd-image-classifier",
            "categories",
            "groundtruth/image-classification",
        ),
        TaskType(
            "image-multilabel-classification",
            "ImageMultiClassMultiLabel",
            2,
            50,
            False,
            "CreateLabelingJob (at least 2); Image Classification (Multi-label) (up to 50)",
            "crowd-image-classifier-multi-select",
            "categories",
            "groundtruth/image-classification-multilabel",
        ),
        TaskType(
            "bounding-box",
            "BoundingBox",
            1,
            10,
            False,
            "CreateLabelingJob (at least 1); DescribeLabelingJob LabelCategoryConfigS3Uri (10)",
            "crowd-bounding-box",
            "labels",
            "groundtruth/object-detection",
        ),
        TaskType(
            "semantic-segmentation",
            "SemanticSegmentation",
            1,
            20,
            True,
            "CreateLabelingJob (at least 1); LabelCategoryConfigS3Uri (semantic segmentation: 20)",
            "crowd-semantic-segmentation",
            "labels",
            "groundtruth/semantic-segmentation",
        ),
        # Review task types ("Verify and Adjust Labels",
        # docs.aws.amazon.com/sagemaker/latest/dg/sms-verification-data.html): the categories of a
        # verification job are the answers workers choose (crowd-image-classifier: up to 10); an
        # adjustment job keeps the reviewed job's categories and limits.
        TaskType(
            "bounding-box-verification",
            "VerificationBoundingBox",
            2,
            10,
            False,
            "CreateLabelingJob (at least 2); crowd-image-classifier (up to 10)",
            "crowd-image-classifier",
            "categories",
            "groundtruth/label-verification",
            audit_ref=False,
            review_attribute="overlay",
        ),
        TaskType(
            "bounding-box-adjustment",
            "AdjustmentBoundingBox",
            1,
            10,
            False,
            "CreateLabelingJob (at least 1); DescribeLabelingJob LabelCategoryConfigS3Uri (10)",
            "crowd-bounding-box",
            "labels",
            "groundtruth/object-detection",
            audit_ref=False,
            review_attribute="initial-value",
        ),
        TaskType(
            "semantic-segmentation-adjustment",
            "AdjustmentSemanticSegmentation",
            1,
            20,
            True,
            "CreateLabelingJob (at least 1); LabelCategoryConfigS3Uri (semantic segmentation: 20)",
            "crowd-semantic-segmentation",
            "labels",
            "groundtruth/semantic-segmentation",
            audit_ref=True,
            review_attribute="initial-value",
        ),
    )
}

# Ground Truth's built-in pre-annotation / consolidation Lambdas are owned by one AWS account per
# region (HumanTaskConfig.PreHumanTaskLambdaArn,
# docs.aws.amazon.com/sagemaker/latest/APIReference/API_HumanTaskConfig.html).
BUILTIN_LAMBDA_ACCOUNTS: dict[str, str] = {
    "us-east-1": "432418664414",
    "us-east-2": "266458841044",
    "us-west-2": "081040173940",
    "ca-central-1": "918755190332",
    "eu-west-1": "568282634449",
    "eu-west-2": "487402164563",
    "eu-central-1": "203001061592",
    "ap-northeast-1": "477331159723",
    "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007",
    "ap-southeast-1": "377565633583",
    "ap-southeast-2": "454466003867",
}
_BUILTIN_REGION = {account: region for region, account in BUILTIN_LAMBDA_ACCOUNTS.items()}


def schema() -> dict[str, Any]:
    """The JSON Schema (a shared object: do not modify it)."""
    return load_schema(SCHEMA_FILE)


def defaults() -> dict[str, Any]:
    """The value of every key that may be left out, from the schema's ``default``s."""
    return {
        name: prop["default"]
        for name, prop in schema()["properties"].items()
        if isinstance(prop, dict) and "default" in prop
    }


def with_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with every absent key that has a default filled in (a new dict)."""
    return {**defaults(), **config}


class ProjectConfigError(ValueError):
    """An invalid project config: ``problems`` lists each one (field and fix)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("invalid project config: " + "; ".join(str(p) for p in problems))


def validate_project_config(
    config: Any, *, published: bool = False, check_import: bool = False
) -> list[Problem]:
    """Every problem of ``config``, sorted by field; ``[]`` when it is valid.

    ``published``: the config the Lambdas read (the publisher's fields are required too).
    ``check_import``: also import ``preprocessing.transform`` (in the Lambdas, where it runs)."""
    problems = schema_problems(SCHEMA_FILE, config, "published" if published else None)
    if isinstance(config, dict):
        reported = {problem.path for problem in problems}  # one field, one kind of complaint
        problems.extend(
            p for p in _semantic_problems(config, check_import=check_import) if p.path not in reported
        )
    return sorted(problems)


def _semantic_problems(config: dict[str, Any], *, check_import: bool) -> list[Problem]:
    """The rules a schema does not express; each applies only where the schema found the fields sound."""
    problems: list[Problem] = []
    values = with_defaults(config)
    task = TASK_TYPES.get(values.get("task_type"))  # type: ignore[arg-type]
    categories = values.get("categories")
    if task is not None and isinstance(categories, list):
        count = len(categories)
        if not task.min_categories <= count <= task.max_categories:
            problems.append(
                Problem(
                    "categories",
                    f"{task.name} takes {task.min_categories} to {task.max_categories} categories, not "
                    f"{count} ({task.source}); "
                    f"write {task.min_categories} to {task.max_categories} categories",
                )
            )
    attr = values.get("label_attribute_name")
    if task is not None and isinstance(attr, str) and attr:
        if task.label_attribute_ref and not attr.endswith("-ref"):
            problems.append(
                Problem("label_attribute_name", f"{task.name} needs a name ending in -ref; write {attr}-ref")
            )
        if not task.label_attribute_ref and attr.endswith("-ref"):
            problems.append(
                Problem(
                    "label_attribute_name",
                    f"{show(attr)} ends in -ref, which Ground Truth keeps for semantic segmentation, "
                    f"video frame and 3D point cloud tasks; write {show(attr[: -len('-ref')] or 'label')}",
                )
            )
    problems.extend(_audit_problems(values, task))
    problems.extend(_review_problems(values, task))
    problems.extend(_lifetime_problems(config, values))
    problems.extend(_lambda_problems(values, task))
    problems.extend(_transform_problems(values, check_import))
    problems.extend(_example_problems(values))
    return problems


def _audit_problems(values: dict[str, Any], task: TaskType | None) -> list[Problem]:
    """``audit_label_attribute_name``: the reviewed label, set exactly for the review task types."""
    name, audit = "audit_label_attribute_name", values.get("audit_label_attribute_name")
    if task is None or not (audit is None or isinstance(audit, str)):
        return []  # the schema reports it
    if not task.reviews:
        if audit is not None:
            return [Problem(name, f"only review task types take it, not {task.name}; write null")]
        return []
    if audit is None:
        example = "mask-ref" if task.audit_ref else "boxes"
        return [
            Problem(
                name,
                f"{task.name} reviews an earlier label: write the label attribute name of the job "
                f'that made it, e.g. "{example}"',
            )
        ]
    if audit == values.get("label_attribute_name"):
        return [Problem(name, f"{show(audit)} is the label_attribute_name; the review writes a new one")]
    if task.audit_ref and not audit.endswith("-ref"):
        return [Problem(name, f"a segmentation label's attribute ends in -ref; write {audit}-ref")]
    if not task.audit_ref and audit.endswith("-ref"):
        return [Problem(name, f"{task.name} reviews boxes, whose attribute does not end in -ref")]
    return []


# What an adjustment job's metadata says of the reviewed label ("Adjustment job output",
# docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html): its ``adjustment-status``.
ADJUSTMENT_STATUSES = ("adjusted", "unadjusted")


def review_answers(task: TaskType, categories: Any) -> tuple[str, ...]:
    """The answers a review task type's label carries: the verification's categories (its
    metadata ``class-name``), or an adjustment's ``adjustment-status``."""
    if task.output_type == "groundtruth/label-verification":
        return tuple(str(c) for c in categories) if isinstance(categories, list) else ()
    return ADJUSTMENT_STATUSES


def _review_problems(values: dict[str, Any], task: TaskType | None) -> list[Problem]:
    """``review``: only for the review task types; every accepted answer is one the review gives."""
    review = values.get("review")
    if task is None or not isinstance(review, dict):
        return []  # absent/null, or the schema reports it
    if not task.reviews:
        return [Problem("review", f"only review task types take a review rule, not {task.name}; write null")]
    answers = review_answers(task, values.get("categories"))
    accept = review.get("accept")
    if not isinstance(accept, list) or not answers:
        return []
    problems = [
        Problem(
            f"review.accept[{index}]",
            f"{show(answer)} is not an answer of {task.name}; write one of "
            + ", ".join(show(a) for a in answers),
        )
        for index, answer in enumerate(accept)
        if answer not in answers
    ]
    if not problems and set(answers) <= set(accept):
        problems.append(
            Problem("review.accept", "every answer accepts, so nothing is ever rejected; leave one out")
        )
    return problems


def _lifetime_problems(config: dict[str, Any], values: dict[str, Any]) -> list[Problem]:
    workteam, lifetime = values.get("workteam_arn"), values.get("task_availability_lifetime_seconds")
    name = "task_availability_lifetime_seconds"
    if (
        isinstance(workteam, str)
        and PUBLIC_WORKFORCE_MARKER in workteam
        and isinstance(lifetime, int)
        and not isinstance(lifetime, bool)
        and lifetime > PUBLIC_WORKFORCE_MAX_LIFETIME
    ):
        default = " (the default)" if name not in config else ""
        return [
            Problem(
                name,
                f"{lifetime}{default} is above {PUBLIC_WORKFORCE_MAX_LIFETIME} (12 hours), "
                "the maximum for the "
                f"public workforce ({workteam}); write at most {PUBLIC_WORKFORCE_MAX_LIFETIME}",
            )
        ]
    return []


def _lambda_problems(values: dict[str, Any], task: TaskType | None) -> list[Problem]:
    """A built-in Lambda (one of Ground Truth's accounts) must be this task type's and its region's."""
    problems: list[Problem] = []
    for name, kind in (("pre_human_task_lambda_arn", "PRE"), ("annotation_consolidation_lambda_arn", "ACS")):
        arn = values.get(name)
        if not isinstance(arn, str) or arn.count(":") < 6:
            continue
        parts = arn.split(":")
        region, account, function = parts[3], parts[4], parts[6]
        builtin_region = _BUILTIN_REGION.get(account)
        if builtin_region is None:
            continue  # your own Lambda
        if region != builtin_region:
            problems.append(
                Problem(
                    name,
                    f"{show(arn)} names Ground Truth's built-in account of {builtin_region} in {region}; "
                    f"write null to use the built-in Lambda of the job's region",
                )
            )
        elif task is not None and function != f"{kind}-{task.builtin_suffix}":
            problems.append(
                Problem(
                    name,
                    f"{show(function)} is not the built-in {kind} Lambda of {task.name}; write null, or "
                    f"{show(f'arn:aws:lambda:{region}:{account}:function:{kind}-{task.builtin_suffix}')}",
                )
            )
    return problems


def _transform_problems(values: dict[str, Any], check_import: bool) -> list[Problem]:
    preprocessing = values.get("preprocessing")
    spec = preprocessing.get("transform") if isinstance(preprocessing, dict) else None
    if not isinstance(spec, str) or ":" not in spec:
        return []  # the schema reports it
    path = "preprocessing.transform"
    module_name, _, function = spec.partition(":")
    builtins = ", ".join(show(t) for t in BUILTIN_TRANSFORMS)
    if module_name.split(".")[0] == "gtstream" and spec not in BUILTIN_TRANSFORMS:
        return [Problem(path, f"{show(spec)} is not a transform of the Lambda package; write {builtins}")]
    if not check_import:
        return []
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        return [
            Problem(
                path,
                f"cannot import {module_name} in the Lambda package ({type(exc).__name__}: {exc}); "
                f"ship it beside gtstream, or write {builtins}",
            )
        ]
    if not callable(getattr(module, function, None)):
        return [
            Problem(path, f"{module_name} has no function {function}; write an existing one, or {builtins}")
        ]
    return []


def _example_problems(values: dict[str, Any]) -> list[Problem]:
    examples, categories = values.get("examples"), values.get("categories")
    if not isinstance(examples, list) or not isinstance(categories, list):
        return []
    problems = []
    for index, example in enumerate(examples):
        label = example.get("label") if isinstance(example, dict) else None
        if isinstance(label, str) and label not in categories:
            problems.append(
                Problem(
                    f"examples[{index}].label",
                    f"{show(label)} is not one of the categories; write one of "
                    f"{', '.join(dict.fromkeys(show(c) for c in categories))} (or null)",
                )
            )
    return problems


def category_change_problems(published: Any, categories: Any) -> list[Problem]:
    """What a new ``categories`` list would break for labels made with the ``published`` one.

    Ground Truth records a classification label as the category's index (the ``class-map`` in its
    metadata maps it back: "Image Classification (Single Label)" output format), and the chained
    jobs and the export keep those labels: a category that moves or disappears would silently
    change what earlier labels mean. Appending categories keeps every index; anything else is a
    problem, naming the category and the fix."""
    if not isinstance(published, list) or not isinstance(categories, list):
        return []
    problems = []
    for index, name in enumerate(published):
        if index < len(categories) and categories[index] == name:
            continue
        if name in categories:
            where = f"moved from position {index} to {categories.index(name)}"
        else:
            where = f"removed (it was at position {index})"
        problems.append(
            Problem(
                f"categories[{index}]",
                f"{show(name)} {where}, but labels already made refer to it by position; keep the "
                "published categories in their order and append new ones at the end (or start a new "
                "project for a new category scheme)",
            )
        )
    return problems


def check_project_config(config: Any, *, published: bool = False, check_import: bool = False) -> None:
    """Raise ``ProjectConfigError`` naming every problem of ``config``."""
    problems = validate_project_config(config, published=published, check_import=check_import)
    if problems:
        raise ProjectConfigError(problems)


# --- the parsed config ------------------------------------------------------------------------


@dataclass(frozen=True)
class Preprocessing:
    transform: str = DEFAULT_TRANSFORM
    options: Mapping[str, Any] = field(
        default_factory=lambda: {"max_side": 1024, "format": "JPEG", "quality": 90}
    )


DEFAULT_PREPROCESSING = Preprocessing()


@dataclass(frozen=True)
class ProjectConfig:
    """The published config as the Lambdas use it (validated by ``parse``)."""

    version: str
    task_type: str
    label_attribute_name: str
    categories: tuple[str, ...]
    title: str
    description: str
    keywords: tuple[str, ...]
    template_uri: str
    label_category_config_uri: str
    workteam_arn: str
    workers_per_object: int
    task_time_limit_seconds: int
    task_availability_lifetime_seconds: int
    max_concurrent_task_count: int
    pre_human_task_lambda_arn: str | None
    annotation_consolidation_lambda_arn: str | None
    preprocessing: Preprocessing
    # What the project declares about its images to Ground Truth (DataAttributes). Nothing is
    # declared unless the config says so: it is the data owner's statement, not ours.
    content_classifiers: tuple[str, ...] = ()
    on_publish: str = ON_PUBLISH_NEXT_JOB
    # The earlier label a review task type shows (auditLabelAttributeName); None otherwise.
    audit_label_attribute_name: str | None = None
    # A review stage's decision (``review``): the answers that accept; None: nothing is rejected.
    review_accept: tuple[str, ...] | None = None
    review_on_reject: str | None = None

    def review_verdict(self, metadata: Mapping[str, Any]) -> str | None:
        """ "accepted" or "rejected" for one label of this review job, from its metadata (a
        verification's ``class-name``, an adjustment's ``adjustment-status``: "Output Data",
        sms-data-output.html); None when this config decides nothing (no ``review``)."""
        if self.review_accept is None:
            return None
        task = TASK_TYPES[self.task_type]
        key = "class-name" if task.output_type == "groundtruth/label-verification" else "adjustment-status"
        return "accepted" if metadata.get(key) in self.review_accept else "rejected"

    @property
    def rolls_over(self) -> bool:
        """A newer published config stops the running job so that the chain picks it up at once."""
        return self.on_publish == ON_PUBLISH_ROLL_OVER

    def lambda_arns(self, region: str) -> tuple[str, str]:
        """(pre-human-task, annotation-consolidation) ARNs; built-in ones when the config leaves them null."""
        pre, acs = self.pre_human_task_lambda_arn, self.annotation_consolidation_lambda_arn
        if pre and acs:
            return pre, acs
        account = BUILTIN_LAMBDA_ACCOUNTS.get(region)
        if account is None:
            raise ProjectConfigError(
                [
                    Problem(
                        "pre_human_task_lambda_arn" if not pre else "annotation_consolidation_lambda_arn",
                        f"no built-in Ground Truth Lambdas known for {region}; "
                        "write the Lambda ARNs of your region in the config",
                    )
                ]
            )
        suffix = TASK_TYPES[self.task_type].builtin_suffix
        return (
            pre or f"arn:aws:lambda:{region}:{account}:function:PRE-{suffix}",
            acs or f"arn:aws:lambda:{region}:{account}:function:ACS-{suffix}",
        )

    @classmethod
    def parse(cls, data: Any, *, check_import: bool = False) -> ProjectConfig:
        """Validate the published config (``published=True``) and build it; ``ProjectConfigError`` else."""
        check_project_config(data, published=True, check_import=check_import)
        values = with_defaults(data)
        task = values["task"]
        prep = dict(values["preprocessing"])
        transform = str(prep.pop("transform", DEFAULT_TRANSFORM))
        options = {**DEFAULT_PREPROCESSING.options, **prep}
        return cls(
            version=values["version"],
            task_type=values["task_type"],
            label_attribute_name=values["label_attribute_name"],
            categories=tuple(values["categories"]),
            title=task["title"],
            description=task["description"],
            keywords=tuple(task.get("keywords", ["image"])),
            template_uri=values["template_uri"],
            label_category_config_uri=values["label_category_config_uri"],
            workteam_arn=values["workteam_arn"],
            workers_per_object=values["workers_per_object"],
            task_time_limit_seconds=values["task_time_limit_seconds"],
            task_availability_lifetime_seconds=values["task_availability_lifetime_seconds"],
            max_concurrent_task_count=values["max_concurrent_task_count"],
            pre_human_task_lambda_arn=values["pre_human_task_lambda_arn"],
            annotation_consolidation_lambda_arn=values["annotation_consolidation_lambda_arn"],
            preprocessing=Preprocessing(transform=transform, options=options),
            content_classifiers=tuple(values["content_classifiers"]),
            on_publish=values["on_publish"],
            audit_label_attribute_name=values["audit_label_attribute_name"],
            review_accept=tuple(values["review"]["accept"]) if values["review"] else None,
            review_on_reject=values["review"]["on_reject"] if values["review"] else None,
        )
