"""Request validation of the four emulated operations, as the SageMaker API gives it.

1. **The service model** shipped in the installed botocore
   (``botocore.session.get_session().get_service_model("sagemaker")``): required members,
   string lengths and patterns, enums, numeric ranges, list lengths - checked on the server, so
   every client (AWS CLI, other SDKs, Terraform, raw HTTP) gets the same ``ValidationException``,
   in AWS's words: ``1 validation error detected: Value 'x' at 'labelingJobName' failed to satisfy
   constraint: Member must satisfy regular expression pattern: ...`` (several: ``N validation
   errors detected: ...; ...``). A JSON value of the wrong type is a ``SerializationException``,
   as the awsJson1.1 protocol answers it.
2. **The rules the model cannot express** (``validate_create_rules``), from the developer guide
   and the API reference: LabelAttributeName suffixes, input location != output location,
   lifetimes per workforce, task time limits per task type, a data source, a UI.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import regex
from botocore.model import ListShape, MapShape, Shape, StructureShape

from gtlocal.errors import ApiError, validation
from gtlocal.groundtruth.workforce import task_type_of

PUBLIC_MAX_LIFETIME = 43_200  # Amazon Mechanical Turk: "the maximum is 12 hours (43,200 seconds)"
PRIVATE_MAX_LIFETIME = 2_592_000  # private and vendor workforces: 30 days


@functools.cache
def _service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def input_shape(operation: str) -> StructureShape:
    shape: StructureShape = _service_model().operation_model(operation).input_shape
    return shape


@functools.cache
def _pattern(pattern: str) -> Any:
    # The model's patterns are Java regular expressions (\p{L} ...), matched against the whole value.
    return regex.compile(pattern)


def _member_path(parent: str, name: str) -> str:
    member = name[:1].lower() + name[1:]
    return f"{parent}.{member}" if parent else member


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    return str(value)


class _Walk:
    """Collects the constraint violations of one request, in AWS's message format."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, value: Any, path: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{_show(value)}'"
        self.errors.append(f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}")

    def shape(self, shape: Shape, value: Any, path: str) -> None:
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            self.structure(shape, value, path)
        elif kind == "list":
            assert isinstance(shape, ListShape)
            self.sequence(shape, value, path)
        elif kind == "map":
            assert isinstance(shape, MapShape)
            if not isinstance(value, dict):
                raise _serialization(value, "a map")
            for key, item in value.items():
                self.shape(shape.value, item, f"{path}.{key}")
        else:
            for constraint in self.scalar(shape, value):
                self.fail(value, path, constraint)

    def structure(self, shape: StructureShape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _serialization(value, "a structure")
        for name in list(shape.required_members):
            if value.get(name) is None:
                self.fail(None, _member_path(path, name), "Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                self.shape(member, value[name], _member_path(path, name))

    def sequence(self, shape: ListShape, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise _serialization(value, "a list")
        self.length(shape, value, path)
        member = shape.member
        if member.type_name in ("structure", "list", "map"):
            for index, item in enumerate(value, start=1):
                self.shape(member, item, f"{path}.{index}.member")
            return
        broken = [c for item in value for c in self.scalar(member, item)]
        if broken:
            inner = ", ".join(dict.fromkeys(broken))
            self.fail(value, path, f"Member must satisfy constraint: [{inner}]")

    def length(self, shape: Shape, value: Any, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            self.fail(value, path, f"Member must have length greater than or equal to {low}")
        if high is not None and len(value) > high:
            self.fail(value, path, f"Member must have length less than or equal to {high}")

    def scalar(self, shape: Shape, value: Any) -> list[str]:
        kind = shape.type_name
        broken: list[str] = []
        if kind == "string":
            if not isinstance(value, str):
                raise _serialization(value, "a String")
            low, high = shape.metadata.get("min"), shape.metadata.get("max")
            if low is not None and len(value) < low:
                broken.append(f"Member must have length greater than or equal to {low}")
            if high is not None and len(value) > high:
                broken.append(f"Member must have length less than or equal to {high}")
            pattern = shape.metadata.get("pattern")
            if pattern and not _pattern(pattern).fullmatch(value):
                broken.append(f"Member must satisfy regular expression pattern: {pattern}")
            enum = getattr(shape, "enum", None)
            if enum and value not in enum:
                broken.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        elif kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _serialization(value, "an Integer")
            low, high = shape.metadata.get("min"), shape.metadata.get("max")
            if low is not None and value < low:
                broken.append(f"Member must have value greater than or equal to {low}")
            if high is not None and value > high:
                broken.append(f"Member must have value less than or equal to {high}")
        elif kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _serialization(value, "a Double")
        elif kind == "timestamp":
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise _serialization(value, "a Timestamp")
        elif kind == "boolean" and not isinstance(value, bool):
            raise _serialization(value, "a Boolean")
        return broken


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, int | float):
        return "VALUE_NUMBER"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, dict):
        return "START_OBJECT"
    return "VALUE_NULL"


def _serialization(value: Any, expected: str) -> ApiError:
    return ApiError("SerializationException", f"{_json_kind(value)} can not be converted to {expected}")


def validate_request(operation: str, body: dict[str, Any]) -> None:
    """Raise ``ValidationException`` for every constraint of the service model ``body`` breaks."""
    walk = _Walk()
    walk.structure(input_shape(operation), body, "")
    if walk.errors:
        count = len(walk.errors)
        noun = "error" if count == 1 else "errors"
        raise validation(f"{count} validation {noun} detected: " + "; ".join(walk.errors))


def _prefix(uri: str) -> str:
    return uri.rstrip("/")


def validate_create_rules(body: dict[str, Any]) -> None:
    """CreateLabelingJob rules beyond the service model (after ``validate_request``)."""
    attr = str(body["LabelAttributeName"])
    human = body["HumanTaskConfig"]
    source = body["InputConfig"]["DataSource"]
    task = task_type_of(human.get("PreHumanTaskLambdaArn"))

    if not source.get("S3DataSource") and not source.get("SnsDataSource"):
        raise validation("InputConfig.DataSource must specify an S3DataSource or an SnsDataSource.")
    if source.get("SnsDataSource") and body.get("LabelingJobAlgorithmsConfig"):
        # "Streaming labeling jobs do not support automated data labeling. Do not include the
        # LabelingJobAlgorithmsConfig parameter." (Create a streaming labeling job, API example)
        raise validation(
            "Streaming labeling jobs do not support automated data labeling (LabelingJobAlgorithmsConfig)."
        )
    manifest = (source.get("S3DataSource") or {}).get("ManifestS3Uri")
    out_path = str(body["OutputConfig"]["S3OutputPath"])
    if manifest is not None:
        manifest_dir = str(manifest).rsplit("/", 1)[0]
        if _prefix(out_path) in (_prefix(str(manifest)), _prefix(manifest_dir)):
            raise validation(
                "The input data location and the output data location must be different: "
                f"input manifest {manifest} is in the output location {out_path}."
            )

    ui = human["UiConfig"]
    if not ui.get("UiTemplateS3Uri") and not ui.get("HumanTaskUiArn"):
        raise validation("UiConfig must specify either UiTemplateS3Uri or HumanTaskUiArn.")

    # HumanTaskConfig.TaskTimeLimitInSeconds: 8 hours for image, text and custom tasks, 30 days for
    # 3D point cloud and video frame tasks.
    task_time = human["TaskTimeLimitInSeconds"]
    if task_time > task.max_task_seconds:
        raise validation(
            f"1 validation error detected: Value '{task_time}' at "
            "'humanTaskConfig.taskTimeLimitInSeconds' failed to satisfy constraint: "
            f"Member must have value less than or equal to {task.max_task_seconds}"
        )
    # HumanTaskConfig.TaskAvailabilityLifetimeInSeconds: 12 hours for Amazon Mechanical Turk,
    # 30 days for private and vendor workforces.
    lifetime = human.get("TaskAvailabilityLifetimeInSeconds")
    public = ":workteam/public-crowd/" in str(human["WorkteamArn"])
    max_lifetime = PUBLIC_MAX_LIFETIME if public else PRIVATE_MAX_LIFETIME
    if lifetime is not None and lifetime > max_lifetime:
        raise validation(
            f"1 validation error detected: Value '{lifetime}' at "
            "'humanTaskConfig.taskAvailabilityLifetimeInSeconds' failed to satisfy constraint: "
            f"Member must have value less than or equal to {max_lifetime}"
        )

    # LabelAttributeName (CreateLabelingJob): not "-metadata", not the input keys, "-ref" exactly
    # for the task types that require it (semantic segmentation, video frame, 3D point cloud
    # segmentation and tracking).
    if attr.endswith("-metadata"):
        raise validation(f"LabelAttributeName '{attr}' must not end with '-metadata'.")
    if attr in ("source", "source-ref"):
        raise validation(
            f"LabelAttributeName must not be '{attr}': that key is reserved for the input data object."
        )
    if task.ref_required and not attr.endswith("-ref"):
        raise validation(f"LabelAttributeName '{attr}' must end with '-ref' for this task type.")
    if not task.ref_required and attr.endswith("-ref"):
        raise validation(
            f"LabelAttributeName '{attr}' must not end with '-ref' for this task type "
            "(the suffix is for semantic segmentation, video frame and 3D point cloud tasks)."
        )
