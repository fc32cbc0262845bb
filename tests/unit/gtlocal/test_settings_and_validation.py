"""Unit tests of the emulator's pure parts (no server)."""

from __future__ import annotations

import pytest

from gtlocal.errors import ApiError, ControlError
from gtlocal.groundtruth.models import account_of_role
from gtlocal.groundtruth.responses import _decode_token
from gtlocal.groundtruth.settings import Settings
from gtlocal.groundtruth.workforce import CUSTOM, task_type_of


def test_settings_update_checks_types_and_names() -> None:
    settings = Settings()
    settings.update({"duplicate_events": 3, "idle_stop_seconds": 5, "expiry_status": "Completed"})
    assert (settings.duplicate_events, settings.idle_stop_seconds, settings.expiry_status) == (
        3,
        5.0,
        "Completed",
    )
    for bad in (
        {"duplicate_events": 0},
        {"expiry_status": "Running"},
        {"nope": 1},
        {"stopping_seconds": "1"},
        {"state_change_events": "some"},
        {"unlabeled_in_output": "yes"},
        {"unloadable_image": "labeled"},
        {"duplicate_events": 2, "idle_stop_status": "InProgress"},
    ):
        with pytest.raises(ControlError):
            settings.update(bad)
    assert settings.duplicate_events == 3  # a rejected update changes nothing


def test_documented_defaults() -> None:
    assert Settings().to_dict() == {
        "state_change_events": "terminal",
        "idle_stop_status": "Stopped",
        "expiry_status": "Failed",
        "duplicate_events": 1,
        "unlabeled_in_output": "plain",
        "unloadable_image": "failed",
        "initializing_seconds": 1.0,
        "stopping_seconds": 0.0,
        "job_expiry_seconds": 2_592_000.0,
        "idle_stop_seconds": 864_000.0,
        "label_seed": 0,
        "verification_last_category_fraction": None,
    }


def test_verification_last_category_fraction_is_null_or_a_fraction() -> None:
    settings = Settings()
    settings.update({"verification_last_category_fraction": 1})
    assert settings.verification_last_category_fraction == 1.0
    for bad in (1.5, -0.1, "half", True):
        with pytest.raises(ControlError, match="verification_last_category_fraction must be null"):
            settings.update({"verification_last_category_fraction": bad})
    settings.update({"verification_last_category_fraction": None})
    assert settings.verification_last_category_fraction is None


def test_task_type_from_pre_lambda_name() -> None:
    arn = "arn:aws:lambda:us-east-1:432418664414:function:PRE-{}"
    assert task_type_of(arn.format("ImageMultiClass")).output_type == "groundtruth/image-classification"
    assert task_type_of(arn.format("BoundingBox")).output_type == "groundtruth/object-detection"
    assert (
        task_type_of(arn.format("ImageMultiClassMultiLabel")).output_type
        == "groundtruth/image-classification-multilabel"
    )
    assert task_type_of(arn.format("VerificationBoundingBox")).output_type == "groundtruth/label-verification"
    assert task_type_of(arn.format("AdjustmentSemanticSegmentation")).ref_required
    assert not task_type_of(arn.format("VerificationSemanticSegmentation")).ref_required
    # Any other Lambda, PRE-PassThrough or none: a custom workflow.
    assert task_type_of("arn:aws:lambda:us-east-1:111122223333:function:my-pre") is CUSTOM
    assert task_type_of(arn.format("PassThrough")) is CUSTOM
    assert task_type_of(None) is CUSTOM


def test_account_from_role() -> None:
    assert account_of_role("arn:aws:iam::111122223333:role/path/x") == "111122223333"


def test_pagination_token_garbage() -> None:
    with pytest.raises(ApiError) as err:
        _decode_token("bm90IGpzb24=")
    assert err.value.code == "ValidationException"
