"""Account for every dropped file (docs/interfaces.md section 4, "Lost").

Each drop key ends in exactly one bucket: quarantined (with its reason), labeled, pending (accepted
and waiting for / at a job that is active), held back by a limit (with the reason), or lost.

- Held back: the object reached the per-object failure limit (``FAILED``; also counted as
  ``failed``), or it waits ``PENDING`` while no job is active because the chain reached
  ``MAX_CHAIN_DEPTH``. Nothing more happens to it until someone raises the limit; it is not lost.
- Lost: a key in the drop bucket without a ``DROP#`` item, or an accepted object that is not
  terminal while no job is active and no limit explains why. Only lost files fail the audit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gtcontract.states import (
    ACTIVE_JOB_STATUSES,
    DECISION_STOPPED,
    DROP_QUARANTINED,
    FAILED,
    LABELED,
    PENDING,
    QUARANTINED,
    held_by_review,
)
from gtctl.aws import Aws, translate_errors
from gtctl.deployment import Deployment
from gtctl.drop import existing_objects
from gtctl.ledger import LedgerReader


@dataclass
class Audit:
    dropped: int = 0
    objects: int = 0
    labeled: int = 0
    failed: int = 0
    quarantined: int = 0
    pending: int = 0
    held_back: int = 0  # by a limit: failed (per-object failure limit) + PENDING at max chain depth
    lost: int = 0
    active_job: str | None = None
    active_status: str | None = None
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantined_keys: dict[str, str] = field(default_factory=dict)
    held_back_reasons: dict[str, int] = field(default_factory=dict)
    held_back_keys: dict[str, str] = field(default_factory=dict)
    lost_keys: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def active_job_status(aws: Aws, job: str | None) -> str | None:
    """Ground Truth's status of the job the project item calls active (None: no such job)."""
    if not job:
        return None
    from botocore.exceptions import ClientError

    client = aws.client("sagemaker")
    try:
        return str(client.describe_labeling_job(LabelingJobName=job)["LabelingJobStatus"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ResourceNotFound", "ValidationException"):
            return None
        with translate_errors():
            raise


def held_reason(obj: dict[str, Any], limit: int) -> str:
    """Why a FAILED object is held back: a review's rejections past MAX_REVIEW_ROUNDS (its reason
    says so), else the per-object failure limit `limit` (gtcontract.states.held_by_review)."""
    if held_by_review(obj, limit):
        return str(obj.get("reason") or f"rejected by {obj['rejected_by']}")
    return failure_limit_reason(obj, limit)


def failure_limit_reason(obj: dict[str, Any], limit: int) -> str:
    last = str(obj.get("reason") or "no reason recorded")
    return (
        f"per-object failure limit ({limit}) reached after {obj.get('failure_count', '?')} attempts: {last}"
    )


def chain_depth_reason(project: dict[str, Any], limit: int) -> str | None:
    """Why PENDING objects wait with no job: the chain reached MAX_CHAIN_DEPTH (None: it did not)."""
    if int(project.get("chain_index") or 0) < limit:
        return None
    if project.get("last_decision") == DECISION_STOPPED and project.get("last_reason"):
        return str(project["last_reason"])
    return f"max chain depth {limit} reached (raise MAX_CHAIN_DEPTH to continue)"


def run(aws: Aws, dep: Deployment) -> Audit:
    ledger = LedgerReader(aws, dep)
    project = ledger.project()
    settings = dep.settings
    result = Audit(active_job=project.get("active_job") or None)
    result.active_status = active_job_status(aws, result.active_job)
    job_active = result.active_status in ACTIVE_JOB_STATUSES
    depth_reason = None if job_active else chain_depth_reason(project, settings.max_chain_depth)

    in_bucket = {
        key for key in existing_objects(aws, dep.drop_bucket, "") if not key.startswith(dep.quarantine_prefix)
    }
    items = ledger.items_by_kind()
    drops = {item["pk"][len("DROP#") :]: item for item in items["DROP"]}
    objects = {str(item.get("object_id") or item["pk"][len("OBJ#") :]): item for item in items["OBJ"]}
    result.objects = len(objects)
    reasons: Counter[str] = Counter()
    held: Counter[str] = Counter()

    def hold(key: str, reason: str) -> None:
        result.held_back += 1
        result.held_back_keys[key] = reason
        held[reason] += 1

    for key in sorted(in_bucket | set(drops)):
        result.dropped += 1
        drop = drops.get(key)
        if drop is None:
            result.lost += 1
            result.lost_keys[key] = "in the drop bucket but unknown to the ledger"
            continue
        if drop.get("state") == DROP_QUARANTINED:
            reason = str(drop.get("reason") or "no reason recorded")
            result.quarantined += 1
            result.quarantined_keys[key] = reason
            reasons[reason] += 1
            continue
        obj = objects.get(str(drop.get("object_id")))
        state = str(obj.get("state")) if obj else None
        if state == LABELED:
            result.labeled += 1
        elif state == FAILED:
            result.failed += 1
            hold(key, held_reason(obj or {}, settings.max_object_failures))
        elif state == QUARANTINED:
            reason = str((obj or {}).get("reason") or "no reason recorded")
            result.quarantined += 1
            result.quarantined_keys[key] = reason
            reasons[reason] += 1
        elif state is not None and job_active:
            result.pending += 1
        elif state == PENDING and depth_reason is not None:
            hold(key, depth_reason)
        else:
            result.lost += 1
            result.lost_keys[key] = (
                f"object {drop.get('object_id')} missing from the ledger"
                if state is None
                else f"object is {state} while no job is active"
            )
    result.quarantine_reasons = dict(reasons)
    result.held_back_reasons = dict(held)
    return result
