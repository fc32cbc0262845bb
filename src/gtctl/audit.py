"""Account for every dropped file (docs/interfaces.md section 4, "Lost").

Each drop key ends in exactly one bucket: quarantined (with its reason), labeled, failed (gave up
after the per-object failure limit), pending (accepted and waiting for / at a job that is active),
or lost: a key in the drop bucket without a ``DROP#`` item, or an accepted object that is not
terminal while no job is active.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gtcontract.states import ACTIVE_JOB_STATUSES, DROP_QUARANTINED, FAILED, LABELED, QUARANTINED
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
    lost: int = 0
    active_job: str | None = None
    active_status: str | None = None
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantined_keys: dict[str, str] = field(default_factory=dict)
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


def run(aws: Aws, dep: Deployment) -> Audit:
    ledger = LedgerReader(aws, dep)
    project = ledger.project()
    result = Audit(active_job=project.get("active_job") or None)
    result.active_status = active_job_status(aws, result.active_job)
    job_active = result.active_status in ACTIVE_JOB_STATUSES

    in_bucket = {
        key for key in existing_objects(aws, dep.drop_bucket, "") if not key.startswith(dep.quarantine_prefix)
    }
    items = ledger.items_by_kind()
    drops = {item["pk"][len("DROP#") :]: item for item in items["DROP"]}
    objects = {str(item.get("object_id") or item["pk"][len("OBJ#") :]): item for item in items["OBJ"]}
    result.objects = len(objects)
    reasons: Counter[str] = Counter()
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
        elif state == QUARANTINED:
            reason = str((obj or {}).get("reason") or "no reason recorded")
            result.quarantined += 1
            result.quarantined_keys[key] = reason
            reasons[reason] += 1
        elif state is not None and job_active:
            result.pending += 1
        else:
            result.lost += 1
            result.lost_keys[key] = (
                f"object {drop.get('object_id')} missing from the ledger"
                if state is None
                else f"object is {state} while no job is active"
            )
    result.quarantine_reasons = dict(reasons)
    return result
