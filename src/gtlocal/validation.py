"""CreateLabelingJob request validation with the real API's error codes and messages."""

from __future__ import annotations

import re
from typing import Any

from gtlocal.errors import validation

NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
ATTR_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$")
S3_URI_RE = re.compile(r"^(https|s3)://([^/]+)/?(.*)$")
ROLE_RE = re.compile(r"^arn:aws[a-z\-]*:iam::(\d{12}):role/?[a-zA-Z_0-9+=,.@\-_/]+$")
SNS_RE = re.compile(r"^arn:aws[a-z\-]*:sns:[a-z0-9\-]*:[0-9]{12}:[a-zA-Z0-9_.-]+$")
WORKTEAM_RE = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:workteam/.*$")
LAMBDA_RE = re.compile(r"^arn:aws[a-z\-]*:lambda:[a-z0-9\-]*:[0-9]{12}:function:.*$")
UI_ARN_RE = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:[0-9]{12}:human-task-ui/.*$")

PUBLIC_MAX_LIFETIME = 43_200  # 12 hours for the public workforce (Mechanical Turk)
PRIVATE_MAX_LIFETIME = 2_592_000  # 30 days for private and vendor workforces
TASK_TIME_MIN, TASK_TIME_MAX = 30, 28_800


def _constraint(value: Any, member: str, rule: str) -> Exception:
    return validation(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}"
    )


def _string(body: dict[str, Any], key: str, member: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise validation(
                f"1 validation error detected: Value null at '{member}' "
                "failed to satisfy constraint: Member must not be null"
            )
        return None
    if not isinstance(value, str):
        raise validation(f"Value of '{member}' must be a string")
    return value


def _pattern(value: str, member: str, regex: re.Pattern[str], max_len: int) -> None:
    if len(value) > max_len:
        raise _constraint(value, member, f"Member must have length less than or equal to {max_len}")
    if not regex.match(value):
        raise _constraint(
            value, member, f"Member must satisfy regular expression pattern: {regex.pattern.strip('^$')}"
        )


def _int(
    body: dict[str, Any], key: str, member: str, lo: int, hi: int | None, *, required: bool
) -> int | None:
    value = body.get(key)
    if value is None:
        if required:
            raise validation(
                f"1 validation error detected: Value null at '{member}' "
                "failed to satisfy constraint: Member must not be null"
            )
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation(f"Value of '{member}' must be an integer")
    if value < lo:
        raise _constraint(value, member, f"Member must have value greater than or equal to {lo}")
    if hi is not None and value > hi:
        raise _constraint(value, member, f"Member must have value less than or equal to {hi}")
    return value


def _struct(body: dict[str, Any], key: str, member: str, *, required: bool = True) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        if required:
            raise validation(
                f"1 validation error detected: Value null at '{member}' "
                "failed to satisfy constraint: Member must not be null"
            )
        return {}
    if not isinstance(value, dict):
        raise validation(f"Value of '{member}' must be a structure")
    return value


def task_type_of(pre_lambda_arn: str | None) -> str:
    """The built-in task type, from the suffix of the pre-annotation Lambda ARN."""
    arn = pre_lambda_arn or ""
    if arn.endswith("PRE-BoundingBox"):
        return "bounding-box"
    if arn.endswith("PRE-ImageMultiClassMultiLabel"):
        return "image-multilabel-classification"
    if arn.endswith("PRE-SemanticSegmentation"):
        return "semantic-segmentation"
    return "image-classification"


def normalize_prefix(uri: str) -> str:
    return uri.rstrip("/")


def validate_create(body: dict[str, Any]) -> None:
    """Raise ``ValidationException`` the way CreateLabelingJob does."""
    name = _string(body, "LabelingJobName", "labelingJobName")
    assert name is not None
    _pattern(name, "labelingJobName", NAME_RE, 63)

    attr = _string(body, "LabelAttributeName", "labelAttributeName")
    assert attr is not None
    _pattern(attr, "labelAttributeName", ATTR_RE, 127)

    role = _string(body, "RoleArn", "roleArn")
    assert role is not None
    if len(role) < 20:
        raise _constraint(role, "roleArn", "Member must have length greater than or equal to 20")
    _pattern(role, "roleArn", ROLE_RE, 2048)

    input_config = _struct(body, "InputConfig", "inputConfig")
    source = _struct(input_config, "DataSource", "inputConfig.dataSource")
    s3_source = _struct(source, "S3DataSource", "inputConfig.dataSource.s3DataSource", required=False)
    sns_source = _struct(source, "SnsDataSource", "inputConfig.dataSource.snsDataSource", required=False)
    if not s3_source and not sns_source:
        raise validation("InputConfig.DataSource must specify an S3DataSource or an SnsDataSource.")
    manifest = None
    if s3_source:
        manifest = _string(s3_source, "ManifestS3Uri", "inputConfig.dataSource.s3DataSource.manifestS3Uri")
        assert manifest is not None
        _pattern(manifest, "inputConfig.dataSource.s3DataSource.manifestS3Uri", S3_URI_RE, 1024)
    if sns_source:
        topic = _string(sns_source, "SnsTopicArn", "inputConfig.dataSource.snsDataSource.snsTopicArn")
        assert topic is not None
        _pattern(topic, "inputConfig.dataSource.snsDataSource.snsTopicArn", SNS_RE, 2048)

    output_config = _struct(body, "OutputConfig", "outputConfig")
    out_path = _string(output_config, "S3OutputPath", "outputConfig.s3OutputPath")
    assert out_path is not None
    _pattern(out_path, "outputConfig.s3OutputPath", S3_URI_RE, 1024)
    out_topic = _string(output_config, "SnsTopicArn", "outputConfig.snsTopicArn", required=False)
    if out_topic:
        _pattern(out_topic, "outputConfig.snsTopicArn", SNS_RE, 2048)
    if manifest is not None:
        manifest_dir = manifest.rsplit("/", 1)[0]
        if normalize_prefix(out_path) in (normalize_prefix(manifest), normalize_prefix(manifest_dir)):
            raise validation(
                "The input data location and the output data location must be different: "
                f"input manifest {manifest} is in the output location {out_path}."
            )

    categories = _string(body, "LabelCategoryConfigS3Uri", "labelCategoryConfigS3Uri", required=False)
    if categories is not None:
        _pattern(categories, "labelCategoryConfigS3Uri", S3_URI_RE, 1024)

    human = _struct(body, "HumanTaskConfig", "humanTaskConfig")
    workteam = _string(human, "WorkteamArn", "humanTaskConfig.workteamArn")
    assert workteam is not None
    _pattern(workteam, "humanTaskConfig.workteamArn", WORKTEAM_RE, 256)
    ui = _struct(human, "UiConfig", "humanTaskConfig.uiConfig")
    template = _string(ui, "UiTemplateS3Uri", "humanTaskConfig.uiConfig.uiTemplateS3Uri", required=False)
    ui_arn = _string(ui, "HumanTaskUiArn", "humanTaskConfig.uiConfig.humanTaskUiArn", required=False)
    if template is None and ui_arn is None:
        raise validation("UiConfig must specify either UiTemplateS3Uri or HumanTaskUiArn.")
    if template is not None:
        _pattern(template, "humanTaskConfig.uiConfig.uiTemplateS3Uri", S3_URI_RE, 1024)
    if ui_arn is not None:
        _pattern(ui_arn, "humanTaskConfig.uiConfig.humanTaskUiArn", UI_ARN_RE, 1024)
    pre = _string(human, "PreHumanTaskLambdaArn", "humanTaskConfig.preHumanTaskLambdaArn", required=False)
    if pre is not None:
        _pattern(pre, "humanTaskConfig.preHumanTaskLambdaArn", LAMBDA_RE, 2048)
    consolidation = _struct(
        human,
        "AnnotationConsolidationConfig",
        "humanTaskConfig.annotationConsolidationConfig",
        required=False,
    )
    if consolidation:
        acs = _string(
            consolidation,
            "AnnotationConsolidationLambdaArn",
            "humanTaskConfig.annotationConsolidationConfig.annotationConsolidationLambdaArn",
        )
        assert acs is not None
        _pattern(
            acs,
            "humanTaskConfig.annotationConsolidationConfig.annotationConsolidationLambdaArn",
            LAMBDA_RE,
            2048,
        )
    title = _string(human, "TaskTitle", "humanTaskConfig.taskTitle")
    if not title or len(title) > 128:
        raise _constraint(title, "humanTaskConfig.taskTitle", "Member must have length between 1 and 128")
    description = _string(human, "TaskDescription", "humanTaskConfig.taskDescription")
    if not description or len(description) > 255:
        raise _constraint(
            description, "humanTaskConfig.taskDescription", "Member must have length between 1 and 255"
        )
    _int(
        human,
        "NumberOfHumanWorkersPerDataObject",
        "humanTaskConfig.numberOfHumanWorkersPerDataObject",
        1,
        9,
        required=True,
    )
    _int(
        human,
        "TaskTimeLimitInSeconds",
        "humanTaskConfig.taskTimeLimitInSeconds",
        TASK_TIME_MIN,
        TASK_TIME_MAX,
        required=True,
    )
    public = ":workteam/public-crowd/" in workteam
    max_lifetime = PUBLIC_MAX_LIFETIME if public else PRIVATE_MAX_LIFETIME
    _int(
        human,
        "TaskAvailabilityLifetimeInSeconds",
        "humanTaskConfig.taskAvailabilityLifetimeInSeconds",
        60,
        max_lifetime,
        required=False,
    )
    _int(human, "MaxConcurrentTaskCount", "humanTaskConfig.maxConcurrentTaskCount", 1, 5000, required=False)

    # LabelAttributeName rules (Ground Truth developer guide, "Create a Labeling Job (API)").
    task_type = task_type_of(pre)
    if attr.endswith("-metadata"):
        raise validation(f"LabelAttributeName '{attr}' must not end with '-metadata'.")
    if attr in ("source", "source-ref"):
        raise validation(
            f"LabelAttributeName must not be '{attr}': that key is reserved for the input data object."
        )
    if task_type == "semantic-segmentation" and not attr.endswith("-ref"):
        raise validation(
            f"LabelAttributeName '{attr}' must end with '-ref' for a semantic segmentation labeling job."
        )
    if task_type != "semantic-segmentation" and attr.endswith("-ref"):
        raise validation(
            f"LabelAttributeName '{attr}' must not end with '-ref': "
            "that suffix is reserved for semantic segmentation."
        )


def account_of_role(role_arn: str) -> str:
    match = ROLE_RE.match(role_arn)
    return match.group(1) if match else "123456789012"
