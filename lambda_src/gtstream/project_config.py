"""The published project config (docs/interfaces.md section 5), read at chain time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TASK_TYPES = ("image-classification", "image-multilabel-classification", "bounding-box")

# Ground Truth's built-in pre-annotation / consolidation Lambdas are owned by one AWS account per region.
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
_BUILTIN_SUFFIX = {
    "image-classification": "ImageMultiClass",
    "image-multilabel-classification": "ImageMultiClassMultiLabel",
    "bounding-box": "BoundingBox",
}
_LABEL_ATTRIBUTE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$")
_WORKTEAM = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:\d{12}:workteam/.+$")


class ProjectConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid project config: " + "; ".join(problems))


@dataclass(frozen=True)
class Preprocessing:
    transform: str = "gtstream.transforms:default"
    options: Mapping[str, Any] = field(
        default_factory=lambda: {"max_side": 1024, "format": "JPEG", "quality": 90}
    )


DEFAULT_PREPROCESSING = Preprocessing()
CONTENT_CLASSIFIERS = ("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent")


@dataclass(frozen=True)
class ProjectConfig:
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

    def lambda_arns(self, region: str) -> tuple[str, str]:
        """(pre-human-task, annotation-consolidation) ARNs; built-in ones when the config leaves them null."""
        pre, acs = self.pre_human_task_lambda_arn, self.annotation_consolidation_lambda_arn
        if pre and acs:
            return pre, acs
        account = BUILTIN_LAMBDA_ACCOUNTS.get(region)
        if account is None:
            raise ProjectConfigError(
                [f"no built-in Ground Truth Lambdas known for {region}; set the Lambda ARNs in the config"]
            )
        suffix = _BUILTIN_SUFFIX[self.task_type]
        return (
            pre or f"arn:aws:lambda:{region}:{account}:function:PRE-{suffix}",
            acs or f"arn:aws:lambda:{region}:{account}:function:ACS-{suffix}",
        )

    @classmethod
    def parse(cls, data: Any) -> ProjectConfig:
        if not isinstance(data, dict):
            raise ProjectConfigError(["the config must be a JSON object"])
        problems: list[str] = []

        def get(name: str, kind: type, default: Any = None, *, optional: bool = False) -> Any:
            value = data.get(name, default)
            if value is None and optional:
                return None
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
                problems.append(f"{name} must be a {kind.__name__}")
                return default if default is not None else kind()
            return value

        if data.get("schema_version") != 1:
            problems.append("schema_version must be 1")
        task_type = get("task_type", str)
        if task_type not in TASK_TYPES:
            problems.append(f"task_type must be one of {', '.join(TASK_TYPES)}")
            task_type = TASK_TYPES[0]
        attr = get("label_attribute_name", str)
        if not _LABEL_ATTRIBUTE.match(attr) or attr.endswith("-metadata") or attr.endswith("-ref"):
            problems.append(
                f"label_attribute_name {attr!r} is invalid (no -metadata/-ref suffix, <= 127 chars)"
            )
        categories = get("categories", list)
        if not categories or not all(isinstance(c, str) and c for c in categories):
            problems.append("categories must be a non-empty list of strings")
        task = get("task", dict, {})
        workteam = get("workteam_arn", str)
        if not _WORKTEAM.match(workteam):
            problems.append(f"workteam_arn {workteam!r} is not a workteam ARN")
        for name in ("template_uri", "label_category_config_uri"):
            if not str(data.get(name, "")).startswith("s3://"):
                problems.append(f"{name} must be an s3:// URI")
        limits = {
            "workers_per_object": (1, 9),
            "task_time_limit_seconds": (30, 28800),
            "task_availability_lifetime_seconds": (60, 30 * 24 * 3600),
            "max_concurrent_task_count": (1, 5000),
        }
        numbers: dict[str, int] = {}
        for name, (low, high) in limits.items():
            value = get(name, int, low)
            if not low <= value <= high:
                problems.append(f"{name}={value} must be within {low}..{high}")
            numbers[name] = value
        pre = get("pre_human_task_lambda_arn", str, optional=True)
        acs = get("annotation_consolidation_lambda_arn", str, optional=True)
        prep_raw = data.get("preprocessing") or {}
        if not isinstance(prep_raw, dict):
            problems.append("preprocessing must be an object")
            prep_raw = {}
        transform = prep_raw.get("transform", DEFAULT_PREPROCESSING.transform)
        if not isinstance(transform, str) or ":" not in transform:
            problems.append("preprocessing.transform must be 'module:function'")
            transform = DEFAULT_PREPROCESSING.transform
        options = {k: v for k, v in prep_raw.items() if k != "transform"}
        classifiers = get("content_classifiers", list, [])
        unknown = [c for c in classifiers if c not in CONTENT_CLASSIFIERS]
        if unknown:
            problems.append(
                f"content_classifiers {unknown} unknown; allowed: {', '.join(CONTENT_CLASSIFIERS)}"
            )
        if problems:
            raise ProjectConfigError(problems)
        return cls(
            version=str(data.get("version", "")),
            task_type=task_type,
            label_attribute_name=attr,
            categories=tuple(categories),
            title=str(task.get("title", "Label the image")),
            description=str(task.get("description", "Label the image")),
            keywords=tuple(str(k) for k in task.get("keywords", ["image"])),
            template_uri=data["template_uri"],
            label_category_config_uri=data["label_category_config_uri"],
            workteam_arn=workteam,
            workers_per_object=numbers["workers_per_object"],
            task_time_limit_seconds=numbers["task_time_limit_seconds"],
            task_availability_lifetime_seconds=numbers["task_availability_lifetime_seconds"],
            max_concurrent_task_count=numbers["max_concurrent_task_count"],
            pre_human_task_lambda_arn=pre,
            annotation_consolidation_lambda_arn=acs,
            preprocessing=Preprocessing(
                transform=transform, options={**DEFAULT_PREPROCESSING.options, **options}
            ),
            content_classifiers=tuple(dict.fromkeys(classifiers)),
        )
