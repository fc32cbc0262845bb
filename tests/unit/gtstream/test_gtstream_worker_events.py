"""Worker task events in the EventBridge schema's shape
(aws.sagemaker@SageMakerGroundTruthLabelingJobTaskStatusChange)."""

from __future__ import annotations

from typing import Any

import pytest
from gtstream_world import ACCOUNT, REGION, World

from gtstream.aws import NullMetrics
from gtstream.worker_events import handle_task_event

JOB_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/cats-0001"
TEAM_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/team"


def task_event(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Ground Truth Labeling Job Task Status Change",
        "resources": [],
        "detail": detail,
    }


def schema_detail(state: str) -> dict[str, str]:
    """aws.sagemaker@SageMakerGroundTruthLabelingJobTaskStatusChange: exactly these three keys."""
    return {"State": state, "labeling-job-arn": JOB_ARN, "workteam-team-arn": TEAM_ARN}


def test_worker_events_count_the_schemas_state(world: World) -> None:
    metrics = world.deps.metrics
    assert isinstance(metrics, NullMetrics)
    results = [handle_task_event(world.deps, task_event(schema_detail(s))) for s in ("Submitted", "Declined")]
    assert [(r.job, r.state, r.counted) for r in results] == [
        ("cats-0001", "submitted", True),
        ("cats-0001", "declined", True),
    ]
    assert metrics.values == {"TasksSubmitted": 1, "TasksDeclined": 1}


def test_unknown_states_and_other_shapes_are_logged_not_counted(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = world.deps.metrics
    assert isinstance(metrics, NullMetrics)
    unknown = handle_task_event(world.deps, task_event(schema_detail("Expired")))
    # A lower-case `state` (not the schema's key) is not read: no State, nothing counted.
    lower = handle_task_event(
        world.deps, task_event({"state": "declined", "labeling-job-arn": JOB_ARN, "workteam-arn": TEAM_ARN})
    )
    assert (unknown.state, unknown.counted, lower.state, lower.counted) == (
        "unknown",
        False,
        "unknown",
        False,
    )
    assert metrics.values == {}
    assert "unknown State 'Expired'" in caplog.text and "unknown State None" in caplog.text
    assert not [i for i in world.deps.ledger.scan_all() if str(i["pk"]).startswith("WORKERS#")]


def test_a_decline_spike_is_notified_once_per_window(world: World) -> None:
    results = [handle_task_event(world.deps, task_event(schema_detail("Declined"))) for _ in range(8)]
    assert [r.spike for r in results] == [False] * 4 + [True] + [False] * 3
