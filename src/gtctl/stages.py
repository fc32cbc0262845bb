"""``gtctl status --stage FILE ...``: the stages of a multi-stage project side by side
(docs/interfaces.md "Stages"), and ``--audit`` across them.

Each stage is a project deployment of its own; the first is the one the drops go to (``--deployment``
etc.), each ``--stage`` the next one, in order. A dropped file ends in exactly one bucket:

- accepted: the final stage labeled it (and, when it reviews, accepted it);
- quarantined: a stage quarantined it (its reason);
- held back: a stage holds it by a limit (FAILED: the per-object failure limit, or
  ``MAX_REVIEW_ROUNDS`` after a review rejected it; PENDING at ``MAX_CHAIN_DEPTH``), with the reason;
- in progress: it is on its way (a stage's job is active, or the next stage has it open);
- lost: none of these. Only lost files fail the audit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gtcontract.states import ACTIVE_JOB_STATUSES, FAILED, LABELED, PENDING, QUARANTINED
from gtctl import audit as audits
from gtctl.aws import Aws
from gtctl.deployment import Deployment
from gtctl.ledger import LedgerReader
from gtctl.status import Status, collect

ACCEPTED, REJECTED = "accepted", "rejected"


@dataclass
class StageStatus:
    """One stage: its ``gtctl status`` and its review's verdicts on LABELED objects."""

    status: Status
    upstream_output_topic_arn: str | None
    rejected_queue_url: str | None
    verdicts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.status.to_json(),
            "upstream_output_topic_arn": self.upstream_output_topic_arn,
            "rejected_queue_url": self.rejected_queue_url,
            "verdicts": self.verdicts,
        }


def verdicts(reader: LedgerReader) -> dict[str, int]:
    """Accepted/rejected among the LABELED objects (a review stage's ``verdict``)."""
    counts: Counter[str] = Counter({ACCEPTED: 0, REJECTED: 0})
    for item in reader.ledger.iter_state(LABELED, attributes=("verdict",)):
        if item.get("verdict") in (ACCEPTED, REJECTED):
            counts[str(item["verdict"])] += 1
    return dict(counts)


def collect_stages(aws: Aws, stages: list[Deployment]) -> list[StageStatus]:
    result = []
    for dep in stages:
        stage = dep.stage
        result.append(
            StageStatus(
                collect(aws, dep),
                stage["upstream_output_topic_arn"],
                stage["rejected_queue_url"],
                verdicts(LedgerReader(aws, dep)),
            )
        )
    return result


@dataclass
class StagesAudit:
    stages: list[str]
    dropped: int = 0
    accepted: int = 0
    quarantined: int = 0
    held_back: int = 0
    in_progress: int = 0
    lost: int = 0
    ends: dict[str, str] = field(default_factory=dict)  # drop key -> "<bucket>: <stage>: <reason>"
    held_back_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    lost_keys: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def audit_stages(aws: Aws, stages: list[Deployment]) -> StagesAudit:
    """Every file dropped in the first stage, followed through the stages to where it ends."""
    first = audits.run(aws, stages[0])
    result = StagesAudit([dep.project_prefix for dep in stages], dropped=first.dropped)
    held: Counter[str] = Counter()
    quarantined: Counter[str] = Counter(first.quarantine_reasons)
    result.quarantined = first.quarantined
    result.lost, result.lost_keys = first.lost, dict(first.lost_keys)
    objects, active, depth = [], [], []
    drops: dict[str, dict[str, Any]] = {}
    for index, dep in enumerate(stages):
        reader = LedgerReader(aws, dep)
        items = reader.items_by_kind()
        if index == 0:  # the drops are the first stage's: read with its objects, in the same scan
            drops = {i["pk"][len("DROP#") :]: i for i in items["DROP"]}
        objects.append({str(i.get("object_id") or i["pk"][4:]): i for i in items["OBJ"]})
        project = reader.project()
        running = audits.active_job_status(aws, project.get("active_job")) in ACTIVE_JOB_STATUSES
        active.append(running)
        depth.append(None if running else audits.chain_depth_reason(project, dep.settings.max_chain_depth))
    for key in sorted(set(drops) - set(first.quarantined_keys) - set(first.lost_keys)):
        object_id = str(drops[key].get("object_id"))
        end = _end(object_id, stages, objects, active, depth)
        bucket, reason = end
        result.ends[key] = f"{bucket}: {reason}" if reason else bucket
        if bucket == ACCEPTED:
            result.accepted += 1
        elif bucket == "quarantined":
            result.quarantined += 1
            quarantined[reason] += 1
        elif bucket == "held back":
            result.held_back += 1
            held[reason] += 1
        elif bucket == "in progress":
            result.in_progress += 1
        else:
            result.lost += 1
            result.lost_keys[key] = reason
    result.held_back_reasons = dict(held)
    result.quarantine_reasons = dict(quarantined)
    return result


def _end(
    object_id: str,
    stages: list[Deployment],
    objects: list[dict[str, dict[str, Any]]],
    active: list[bool],
    depth: list[str | None],
) -> tuple[str, str]:
    """(bucket, reason) of one object across the stages."""
    for index, dep in enumerate(stages):
        name = dep.project_prefix
        obj = objects[index].get(object_id)
        if obj is None:
            if index > 0 and (active[index] or active[index - 1]):
                return "in progress", f"{name}: not received yet"
            return "lost", f"{name}: object {object_id} never reached this stage"
        state = str(obj.get("state"))
        if state == QUARANTINED:
            return "quarantined", f"{name}: {obj.get('reason') or 'no reason recorded'}"
        if state == FAILED:
            return "held back", f"{name}: {audits.held_reason(obj, dep.settings.max_object_failures)}"
        if state != LABELED:
            if active[index] or any(active[:index]):
                return "in progress", f"{name}: {state}"
            if state == PENDING and depth[index]:
                return "held back", f"{name}: {depth[index]}"
            return "lost", f"{name}: object is {state} while no job is active"
        if obj.get("verdict") == REJECTED:
            # Sent back upstream for a new round: the upstream reopens it (its state says so),
            # unless the rejected message has not been handled yet.
            if any(active):
                return "in progress", f"{name}: rejected, relabel pending upstream"
            return "lost", f"{name}: rejected, but no stage reopened it and no job is active"
    return ACCEPTED, ""
