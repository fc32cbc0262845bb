"""Unit tests of the emulator's pure parts (no server)."""

from __future__ import annotations

import pytest

from gtlocal.emulator import GroundTruthEmulator, Settings
from gtlocal.errors import ApiError, ControlError
from gtlocal.validation import account_of_role, task_type_of


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
    ):
        with pytest.raises(ControlError):
            settings.update(bad)
    assert settings.duplicate_events == 3  # a rejected update changes nothing


def test_task_type_from_pre_lambda_suffix() -> None:
    assert task_type_of(None) == "image-classification"
    assert task_type_of("arn:aws:lambda:us-east-1:1:function:PRE-BoundingBox") == "bounding-box"
    assert (
        task_type_of("arn:aws:lambda:us-east-1:1:function:PRE-ImageMultiClassMultiLabel")
        == "image-multilabel-classification"
    )


def test_account_from_role() -> None:
    assert account_of_role("arn:aws:iam::111122223333:role/path/x") == "111122223333"


def test_pagination_token_round_trip_and_garbage() -> None:
    with pytest.raises(ApiError) as err:
        GroundTruthEmulator._decode_token("bm90IGpzb24=")
    assert err.value.code == "ValidationException"
