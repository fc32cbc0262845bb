"""CreateLabelingJob / Describe / Stop / List errors, with the real codes, through boto3."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from emulator_world import World


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(request: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = request
        for key in parents:
            target = target[key]
        target[leaf] = value

    return apply


INVALID = {
    "name with underscore": (_set("LabelingJobName", "bad_name"), "labelingJobName"),
    "name too long": (_set("LabelingJobName", "a" * 64), "labelingJobName"),
    "name starts with hyphen": (_set("LabelingJobName", "-abc"), "labelingJobName"),
    "attribute ends -metadata": (_set("LabelAttributeName", "category-metadata"), "-metadata"),
    "attribute is source-ref": (_set("LabelAttributeName", "source-ref"), "source-ref"),
    "attribute is source": (_set("LabelAttributeName", "source"), "'source'"),
    "attribute -ref without segmentation": (
        _set("LabelAttributeName", "mask-ref"),
        "must not end with '-ref'",
    ),
    "attribute pattern": (_set("LabelAttributeName", "has space"), "labelAttributeName"),
    "role arn": (_set("RoleArn", "arn:aws:iam::123:role/x-is-not-valid"), "roleArn"),
    "output path not s3": (_set("OutputConfig.S3OutputPath", "ftp://bucket/x"), "s3OutputPath"),
    "output topic arn": (
        _set("OutputConfig.SnsTopicArn", "arn:aws:sqs:us-east-1:123456789012:q"),
        "snsTopicArn",
    ),
    "input topic arn": (_set("InputConfig.DataSource.SnsDataSource.SnsTopicArn", "topic"), "snsTopicArn"),
    "manifest uri": (
        _set("InputConfig.DataSource.S3DataSource", {"ManifestS3Uri": "bucket/key"}),
        "manifestS3Uri",
    ),
    "input equals output": (
        _set("InputConfig.DataSource.S3DataSource", {"ManifestS3Uri": "s3://gt-output/jobs/in.manifest"}),
        "must be different",
    ),
    "no data source": (_set("InputConfig.DataSource", {}), "DataSource"),
    "workteam arn": (
        _set("HumanTaskConfig.WorkteamArn", "arn:aws:sagemaker:us-east-1:123456789012:team/x"),
        "workteamArn",
    ),
    "category uri": (_set("LabelCategoryConfigS3Uri", "categories.json"), "labelCategoryConfigS3Uri"),
    "task time too short": (
        _set("HumanTaskConfig.TaskTimeLimitInSeconds", 29),
        "greater than or equal to 30",
    ),
    "task time too long": (
        _set("HumanTaskConfig.TaskTimeLimitInSeconds", 28_801),
        "less than or equal to 28800",
    ),
    "lifetime too short": (
        _set("HumanTaskConfig.TaskAvailabilityLifetimeInSeconds", 59),
        "greater than or equal to 60",
    ),
    "lifetime over 30 days": (
        _set("HumanTaskConfig.TaskAvailabilityLifetimeInSeconds", 2_592_001),
        "less than or equal to 2592000",
    ),
    "workers per object 0": (
        _set("HumanTaskConfig.NumberOfHumanWorkersPerDataObject", 0),
        "numberOfHumanWorkers",
    ),
    "workers per object 10": (
        _set("HumanTaskConfig.NumberOfHumanWorkersPerDataObject", 10),
        "numberOfHumanWorkers",
    ),
    "concurrency 0": (_set("HumanTaskConfig.MaxConcurrentTaskCount", 0), "maxConcurrentTaskCount"),
    "concurrency 5001": (_set("HumanTaskConfig.MaxConcurrentTaskCount", 5001), "maxConcurrentTaskCount"),
    "pre lambda arn": (
        _set("HumanTaskConfig.PreHumanTaskLambdaArn", "arn:aws:lambda:x"),
        "preHumanTaskLambdaArn",
    ),
}


@pytest.mark.parametrize("mutate,fragment", INVALID.values(), ids=list(INVALID))
def test_create_rejects(world: World, mutate: Callable[[dict[str, Any]], None], fragment: str) -> None:
    request = world.request("valid-name", manifest="s3://gt-input/in.manifest")
    mutate(request)
    # Client-side validation off: the emulator itself must reject what botocore would.
    unchecked = boto3.client("sagemaker", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as err:
        unchecked.create_labeling_job(**request)
    error = err.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert fragment in error["Message"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert world.sm.list_labeling_jobs()["LabelingJobSummaryList"] == []


def test_public_workforce_lifetime_limit_is_12_hours(world: World) -> None:
    public = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
    request = world.request("public", WorkteamArn=public, TaskAvailabilityLifetimeInSeconds=43_201)
    with pytest.raises(ClientError, match="less than or equal to 43200"):
        world.sm.create_labeling_job(**request)


def test_semantic_segmentation_needs_ref_suffix(world: World) -> None:
    pre = "arn:aws:lambda:us-east-1:432418664414:function:PRE-SemanticSegmentation"
    request = world.request("seg", PreHumanTaskLambdaArn=pre)
    with pytest.raises(ClientError, match="must end with '-ref'"):
        world.sm.create_labeling_job(**request)
    request["LabelAttributeName"] = "mask-ref"
    assert world.sm.create_labeling_job(**request)["LabelingJobArn"].endswith("/seg")


def test_duplicate_name_is_resource_in_use(world: World) -> None:
    world.create("twice")
    with pytest.raises(ClientError) as err:
        world.create("twice")
    assert err.value.response["Error"]["Code"] == "ResourceInUse"


def test_unknown_job_is_resource_not_found(world: World) -> None:
    for call in (world.sm.describe_labeling_job, world.sm.stop_labeling_job):
        with pytest.raises(ClientError) as err:
            call(LabelingJobName="nope")
        assert err.value.response["Error"]["Code"] == "ResourceNotFound"


def test_missing_input_topic_is_rejected(world: World) -> None:
    request = world.request("no-topic")
    request["InputConfig"]["DataSource"]["SnsDataSource"]["SnsTopicArn"] = (
        "arn:aws:sns:us-east-1:123456789012:missing"
    )
    with pytest.raises(ClientError, match="does not exist"):
        world.sm.create_labeling_job(**request)


def test_other_sagemaker_operations_go_to_moto(world: World) -> None:
    # moto answers the SageMaker operations the emulator does not own.
    assert world.sm.list_notebook_instances()["NotebookInstances"] == []


# The service model of the installed botocore, checked by the server: any client gets the same answer.
UNCHECKED = Config(parameter_validation=False)


def _error(call: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    error: dict[str, Any] = err.value.response["Error"]
    return error


def test_every_broken_constraint_is_listed_in_one_message(world: World) -> None:
    request = world.request(
        "bad_name", TaskKeywords=["image-classification"], NumberOfHumanWorkersPerDataObject=0
    )
    request["LabelAttributeName"] = "has space"
    del request["RoleArn"]
    sm = boto3.client("sagemaker", config=UNCHECKED)
    error = _error(sm.create_labeling_job, **request)
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("5 validation errors detected: ")
    parts = error["Message"].removeprefix("5 validation errors detected: ").split("; ")
    assert sorted(parts) == sorted(
        [
            "Value 'bad_name' at 'labelingJobName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
            "Value 'has space' at 'labelAttributeName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}",
            "Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
            "Value '[image-classification]' at 'humanTaskConfig.taskKeywords' failed to satisfy constraint: "
            "Member must satisfy constraint: [Member must satisfy regular expression pattern: "
            "[A-Za-z0-9]+( [A-Za-z0-9]+)*]",
            "Value '0' at 'humanTaskConfig.numberOfHumanWorkersPerDataObject' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1",
        ]
    )


def test_list_members_enums_and_unicode_tag_patterns(world: World) -> None:
    sm = boto3.client("sagemaker", config=UNCHECKED)
    request = world.request("enums")
    request["InputConfig"]["DataAttributes"] = {"ContentClassifiers": ["FreeOfCats"]}
    request["Tags"] = [{"Key": "Prüfung", "Value": "ok"}, {"Key": "bad#key", "Value": "x"}]
    message = _error(sm.create_labeling_job, **request)["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert (
        "Value '[FreeOfCats]' at 'inputConfig.dataAttributes.contentClassifiers' "
        "failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[FreeOfPersonallyIdentifiableInformation, FreeOfAdultContent]]"
    ) in message
    assert "Value 'bad#key' at 'tags.2.member.key'" in message  # \p{L} lets "Prüfung" through
    assert "tags.1" not in message


@pytest.mark.parametrize(
    "operation,kwargs,fragment",
    [
        ("describe_labeling_job", {"LabelingJobName": "bad_name"}, "at 'labelingJobName'"),
        (
            "stop_labeling_job",
            {"LabelingJobName": "x" * 64},
            "Member must have length less than or equal to 63",
        ),
        ("list_labeling_jobs", {"MaxResults": 101}, "Member must have value less than or equal to 100"),
        (
            "list_labeling_jobs",
            {"StatusEquals": "Done"},
            "Member must satisfy enum value set: [Initializing,",
        ),
        ("list_labeling_jobs", {"SortBy": "Size"}, "enum value set: [Name, CreationTime, Status]"),
        ("list_labeling_jobs", {"NameContains": "a_b"}, "regular expression pattern: [a-zA-Z0-9\\-]+"),
    ],
)
def test_the_other_operations_are_checked_against_the_model(
    world: World, operation: str, kwargs: dict[str, Any], fragment: str
) -> None:
    sm = boto3.client("sagemaker", config=UNCHECKED)
    error = _error(getattr(sm, operation), **kwargs)
    assert error["Code"] == "ValidationException"
    assert re.match(r"\d validation errors? detected: Value ", error["Message"])
    assert fragment in error["Message"]


def test_a_raw_http_client_gets_the_same_answer_as_boto3(world: World) -> None:
    """Not only boto3 users: the answer is the server's (Terraform, other SDKs, curl)."""
    request = world.request("bad_name")
    sm = boto3.client("sagemaker", config=UNCHECKED)
    boto3_message = _error(sm.create_labeling_job, **request)["Message"]
    raw = urllib.request.Request(  # noqa: S310 - local endpoint
        world.cloud.endpoint,
        data=json.dumps(request).encode(),
        method="POST",
        headers={"X-Amz-Target": "SageMaker.CreateLabelingJob", "Content-Type": "application/x-amz-json-1.1"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(raw, timeout=10)  # noqa: S310
    assert err.value.code == 400
    assert err.value.headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(err.value.read()) == {"__type": "ValidationException", "message": boto3_message}


def test_a_value_of_the_wrong_json_type_is_a_serialization_exception(world: World) -> None:
    request = world.request("wrong-type")
    request["HumanTaskConfig"]["TaskTimeLimitInSeconds"] = "300"
    sm = boto3.client("sagemaker", config=UNCHECKED)
    error = _error(sm.create_labeling_job, **request)
    assert error["Code"] == "SerializationException"
    assert error["Message"] == "VALUE_STRING can not be converted to an Integer"


def test_streaming_jobs_take_no_automated_labeling(world: World) -> None:
    request = world.request("no-al")
    request["LabelingJobAlgorithmsConfig"] = {
        "LabelingJobAlgorithmSpecificationArn": (
            "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/image-classification"
        )
    }
    assert "automated data labeling" in _error(world.sm.create_labeling_job, **request)["Message"]
