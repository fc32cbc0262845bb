"""The names of docs/interfaces.md section 1: prefixes, P-NNNN jobs, resource names.

Terraform and CloudFormation spell the same rules; tests/integration/terraform compares what
Terraform creates with these functions (through the SDK deployment), cloudformation the stacks."""

from __future__ import annotations

import pytest

from gtcontract import names
from gtcontract.names import BUCKET_KINDS, bucket_name, resource_base

ACCOUNT = "123456789012"
LONGEST = "A-very-long-project-prefix-that-is-still-valid-for-jobs1"  # 56 characters, the contract's max


def test_short_prefix_names_are_the_prefix_itself() -> None:
    assert resource_base("Cats") == "Cats"
    assert [bucket_name("Cats", kind, ACCOUNT) for kind in BUCKET_KINDS] == [
        f"cats-{ACCOUNT}-{kind}" for kind in BUCKET_KINDS
    ]
    assert names.topic_name("Cats", "input") == "Cats-gt-input"
    assert names.topic_name("Cats", "notifications") == "Cats-notifications"
    assert (names.queue_name("Cats", "job_events"), names.dlq_name("Cats", "job_events")) == (
        "Cats-job-events",
        "Cats-job-events-dlq",
    )
    assert names.rule_name("Cats", "job_events") == "Cats-job-state"
    assert names.rule_name("Cats", "worker_events") == "Cats-worker-task"
    assert names.function_name("Cats", "worker_events") == "Cats-worker-events"
    assert names.lambda_role_name("Cats", "job_events") == "Cats-job-events-lambda"
    assert names.ledger_table_name("Cats") == "Cats-ledger"
    assert names.groundtruth_role_name("Cats") == "Cats-groundtruth"
    assert names.service_name("Cats") == "gt-streaming-cats"
    assert names.project_config_uri("b") == "s3://b/config/project.json"


def test_longest_prefix_names_fit_the_service_limits_and_stay_distinct() -> None:
    assert len(LONGEST) == 56
    base = resource_base(LONGEST)
    assert len(names.lambda_role_name(LONGEST, "worker_events")) <= 64  # IAM role names
    assert base.startswith(LONGEST[:27]) and base != resource_base(LONGEST[:-1] + "2")
    for kind in BUCKET_KINDS:
        name = bucket_name(LONGEST, kind, ACCOUNT)
        assert len(name) <= 63 and name == name.lower() and name.endswith(f"-{ACCOUNT}-{kind}")
        assert name != bucket_name(LONGEST[:-1] + "2", kind, ACCOUNT)
    # 36 characters is still used as it is (Terraform: length <= 36), bucket bases up to 37.
    assert resource_base("p" * 36) == "p" * 36 and resource_base("p" * 37) != "p" * 37
    assert bucket_name("p" * 37, "drop", ACCOUNT) == f"{'p' * 37}-{ACCOUNT}-drop"
    for kind in names.QUEUE_KINDS:
        assert len(names.dlq_name(LONGEST, kind)) <= 80  # SQS queue names
    assert names.job_name(LONGEST, 99999) and len(names.job_name(LONGEST, 9999)) <= 63


@pytest.mark.parametrize("prefix", ["demo", "a", "my-project-2", "a--b", "a" * 56])
def test_valid_prefixes(prefix: str) -> None:
    assert names.check_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "-x", "x-", "a_b", "a" * 57, "dé"])
def test_invalid_prefixes_say_what_to_write(prefix: str) -> None:
    with pytest.raises(ValueError, match=r"invalid project prefix .*1-56 letters, digits and hyphens"):
        names.check_prefix(prefix)


def test_job_names_indexes_and_arns() -> None:
    assert names.job_name("Cats", 7) == "Cats-0007" and names.job_name("Cats", 12345) == "Cats-12345"
    assert names.job_index("Cats", "cats-0042") == 42 and names.job_index("Cats", "dogs-0042") is None
    assert names.job_index("Cats", "cats-042") is None  # fewer than 4 digits is not ours
    arn = names.job_arn("us-east-1", ACCOUNT, "Cats-0003")
    assert arn == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:labeling-job/cats-0003"
    assert arn.startswith(names.job_arn_prefix("us-east-1", ACCOUNT, "Cats"))
    assert names.job_name_from_arn("Cats", arn) == "Cats-0003"
    assert (
        names.job_name_from_arn("Cats", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:labeling-job/catsx-0003")
        is None
    )
    assert names.job_name_from_arn("Cats", "arn:aws:sqs:us-east-1:1:cats-0003") is None


def test_groundtruth_queue_names() -> None:
    assert names.groundtruth_queue_name("Cats-0002") == "GroundTruth-cats-0002"
    assert names.groundtruth_queue_prefix("Cats") == "GroundTruth-cats-"
    assert names.job_name_from_groundtruth_queue("Cats", "GroundTruth-cats-0002") == "Cats-0002"
    assert names.job_name_from_groundtruth_queue("Cats", "GroundTruth-cats-extra-0002") is None
    assert names.job_name_from_groundtruth_queue("Cats", "cats-0002") is None


def test_object_locations() -> None:
    assert names.output_s3_path("o") == "s3://o/jobs/"
    assert names.input_manifest_uri("i", "Cats-0002") == "s3://i/manifests/Cats-0002/input.manifest"
