from __future__ import annotations

from typing import Any

import pytest
from tests.documents import published_config as config

from gtstream.config import ConfigError, Settings
from gtstream.project_config import ProjectConfig, ProjectConfigError

ENV = {
    "PROJECT_PREFIX": "demo",
    "LEDGER_TABLE": "demo-ledger",
    "DROP_BUCKET": "demo-drop",
    "INPUT_BUCKET": "demo-input",
    "OUTPUT_BUCKET": "demo-output",
    "INPUT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:demo-input",
    "OUTPUT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:demo-output",
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:demo-notifications",
    "PROJECT_CONFIG_URI": "s3://demo-instructions/config/project.json",
    "GROUNDTRUTH_ROLE_ARN": "arn:aws:iam::123456789012:role/demo-groundtruth",
    "JOB_EVENTS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/demo-job-events",
}


def test_settings_parse_with_defaults() -> None:
    settings = Settings.from_env({**ENV, "MAX_CHAIN_DEPTH": "7"})
    assert settings.max_chain_depth == 7
    assert settings.max_object_failures == 3
    assert settings.quarantine_prefix == "quarantine/"
    assert settings.output_s3_path == "s3://demo-output/jobs/"
    assert (settings.region, settings.account_id) == ("eu-west-1", "123456789012")


def test_job_checks_default_to_a_minute_and_stay_within_the_sqs_delay_limit() -> None:
    assert Settings.from_env(ENV).job_check_seconds == 60
    assert Settings.from_env({**ENV, "JOB_CHECK_SECONDS": "900"}).job_check_seconds == 900
    for bad, problem in (("0", "must be >= 1"), ("901", "must be <= 900"), ("soon", "is not an integer")):
        with pytest.raises(ConfigError, match=f"JOB_CHECK_SECONDS.*{problem}"):
            Settings.from_env({**ENV, "JOB_CHECK_SECONDS": bad})
    with pytest.raises(
        ConfigError, match="JOB_EVENTS_QUEUE_URL='demo-job-events' is not a valid SQS queue URL"
    ):
        Settings.from_env({**ENV, "JOB_EVENTS_QUEUE_URL": "demo-job-events"})


def test_every_problem_is_listed_in_one_error() -> None:
    env = {k: v for k, v in ENV.items() if k not in ("LEDGER_TABLE", "DROP_BUCKET")}
    env.update({"PROJECT_PREFIX": "bad_prefix!", "MAX_IMAGE_BYTES": "lots", "MAX_CHAIN_DEPTH": "0"})
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    text = str(caught.value)
    for expected in (
        "LEDGER_TABLE is required",
        "DROP_BUCKET is required",
        "PROJECT_PREFIX",
        "MAX_IMAGE_BYTES",
    ):
        assert expected in text
    assert len(caught.value.problems) == 5


def test_content_classifiers_are_declared_only_when_the_config_says_so() -> None:
    # Nothing is claimed about the images by default ...
    assert ProjectConfig.parse(config()).content_classifiers == ()
    # ... the data owner can declare the documented classifiers ...
    declared = ProjectConfig.parse(config(content_classifiers=["FreeOfAdultContent"]))
    assert declared.content_classifiers == ("FreeOfAdultContent",)
    # ... and anything else is rejected with the allowed values named.
    with pytest.raises(ProjectConfigError, match="FreeOfPersonallyIdentifiableInformation"):
        ProjectConfig.parse(config(content_classifiers=["SafeForWork"]))


def test_create_request_declares_content_classifiers_only_from_the_config() -> None:
    from types import SimpleNamespace

    from gtstream.chaining import build_request

    deps: Any = SimpleNamespace(settings=Settings.from_env(ENV))
    silent = build_request(deps, ProjectConfig.parse(config()), "demo-0001", "category", None)
    assert "DataAttributes" not in silent["InputConfig"]
    declared = build_request(
        deps,
        ProjectConfig.parse(config(content_classifiers=["FreeOfPersonallyIdentifiableInformation"])),
        "demo-0002",
        "category",
        "s3://demo-input/manifests/demo-0002/input.manifest",
    )
    assert declared["InputConfig"]["DataAttributes"] == {
        "ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]
    }
    assert declared["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"].endswith("input.manifest")


def test_forgotten_project_configs_are_read_again_and_the_others_stay_cached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``forget_project_configs`` (``gtlocal.testing.clean_project``): a forgotten function's next
    read gets the config published since (e.g. another reviewed attribute), before the minute of
    its cache is over; another function keeps its cached config, and each its warm clients."""
    from gtstream_world import ENV

    from gtstream.handlers import common

    published = [config(version="v1")]
    monkeypatch.setattr(common, "_deps", {})
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    warm = {}
    for function in ("cats-intake", "cats-review-intake"):
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function)
        warm[function] = common.deps()
        monkeypatch.setattr(warm[function].store, "get_json", lambda uri: published[-1])
        project = warm[function].project_config()
        assert project is not None and project.version == "v1"
    published.append(config(version="v2"))
    assert common.forget_project_configs({"cats-intake"}) == 1
    versions = {}
    for function in warm:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function)
        assert common.deps() is warm[function]  # the same warm environment
        project = common.deps().project_config()
        versions[function] = project.version if project else None
    assert versions == {"cats-intake": "v2", "cats-review-intake": "v1"}
