"""Object states, job statuses, decisions and event names (docs/interfaces.md sections 2-4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# --- objects in the ledger (section 4) --------------------------------------------------------

PENDING, SENT, LABELED, QUARANTINED, FAILED = "PENDING", "SENT", "LABELED", "QUARANTINED", "FAILED"
OBJECT_STATES = (PENDING, SENT, LABELED, QUARANTINED, FAILED)
# A review stage's verdict on an object (its ledger item's ``verdict``; gtstream.stages).
VERDICT_ACCEPTED, VERDICT_REJECTED = "accepted", "rejected"
# An object in one of these states needs no job any more.
FINAL_OBJECT_STATES = frozenset({LABELED, QUARANTINED, FAILED})
SENT_KEY_PREFIX = f"{SENT}#"


def sent_state_key(job: str) -> str:
    """The ``state_key`` of an object sent to ``job`` (``SENT#<job>``)."""
    return f"{SENT_KEY_PREFIX}{job}"


def held_by_review(item: Mapping[str, Any], max_object_failures: int) -> bool:
    """Whether a FAILED object is held back by a downstream review's rejections in
    MAX_REVIEW_ROUNDS rounds (``Ledger.reopen_rejected`` records ``rejected_by``) rather than by
    the per-object failure limit (its ``failure_count`` at the limit, whatever earlier rounds did)."""
    return bool(item.get("rejected_by")) and int(item.get("failure_count") or 0) < max_object_failures


# The state of a dropped key at intake (``DROP#`` items).
DROP_ACCEPTED, DROP_QUARANTINED = "ACCEPTED", QUARANTINED

# --- labeling jobs (Ground Truth's LabelingJobStatus) -----------------------------------------
# DescribeLabelingJob LabelingJobStatus
# (docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeLabelingJob.html)

INITIALIZING, IN_PROGRESS, STOPPING = "Initializing", "InProgress", "Stopping"
COMPLETED, JOB_FAILED, STOPPED = "Completed", "Failed", "Stopped"
ACTIVE_JOB_STATUSES = frozenset({INITIALIZING, IN_PROGRESS, STOPPING})
TERMINAL_JOB_STATUSES = frozenset({COMPLETED, JOB_FAILED, STOPPED})
JOB_STATUSES = (INITIALIZING, IN_PROGRESS, STOPPING, COMPLETED, JOB_FAILED, STOPPED)

# --- chaining decisions -----------------------------------------------------------------------
# What one chaining decision did (``gtstream.chaining.Decision.action``); ``created``, ``idle``,
# ``stopped`` and ``waiting`` are recorded on the project item (``last_decision``).
CREATED, ACTIVE, BUSY, IDLE, DECISION_STOPPED, WAITING = (
    "created",
    "active",
    "busy",
    "idle",
    "stopped",
    "waiting",
)
DECISIONS = (CREATED, ACTIVE, BUSY, IDLE, DECISION_STOPPED, WAITING)
RECORDED_DECISIONS = (CREATED, IDLE, DECISION_STOPPED, WAITING)
# What became of an ended job (``decision`` of its ``JOB#`` item).
CHAINED = "chained"
JOB_DECISIONS = (CHAINED, IDLE, DECISION_STOPPED, WAITING)

# --- notifications (the ``event`` field of each JSON message on the notification topic) --------

JOB_CREATED = "job-created"
JOB_ENDED = "job-ended"
CHAIN_STOPPED = "chain-stopped"
CHAIN_WAITING = "chain-waiting"
OBJECT_QUARANTINED = "object-quarantined"
IDLE_STOP_WARNING = "idle-stop-warning"
DECLINE_SPIKE = "decline-spike"
NOTIFICATION_EVENTS = (
    JOB_CREATED,
    JOB_ENDED,
    CHAIN_STOPPED,
    CHAIN_WAITING,
    OBJECT_QUARANTINED,
    IDLE_STOP_WARNING,
    DECLINE_SPIKE,
)


def chain_event(decision: str) -> str:
    """The notification event of a ``stopped`` or ``waiting`` decision."""
    return f"chain-{decision}"


# --- EventBridge ------------------------------------------------------------------------------
# docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html and the
# EventBridge schema registry (aws.sagemaker@SageMakerGroundTruthLabelingJobTaskStatusChange).

SAGEMAKER_EVENT_SOURCE = "aws.sagemaker"
JOB_STATE_CHANGE = "SageMaker Ground Truth Labeling Job State Change"
TASK_STATUS_CHANGE = "SageMaker Ground Truth Labeling Job Task Status Change"
# What EventBridge Scheduler / a schedule rule passes to the reconcile Lambda.
SCHEDULED_EVENT_SOURCE = "aws.scheduler"
SCHEDULED_EVENT = "Scheduled Event"
