"""Where a drop ends across the stages (gtctl.stages._end): accepted only by the final stage,
quarantined or held back (with the reason) by any stage, in progress while a stage works on it,
else lost."""

from __future__ import annotations

import copy
from typing import Any

from tests.documents import deployment_document

from gtcontract.deployment import Deployment
from gtctl.stages import _end

OID = "a" * 64


def _stages() -> list[Deployment]:
    first = deployment_document()
    second = copy.deepcopy(first)
    second["project_prefix"] = "demo-verify"
    second["lambda_environment"]["PROJECT_PREFIX"] = "demo-verify"
    return [Deployment.from_document(first), Deployment.from_document(second)]


def end(
    first: dict[str, Any] | None, second: dict[str, Any] | None, active: tuple[bool, bool]
) -> tuple[str, str]:
    objects = [{OID: first} if first else {}, {OID: second} if second else {}]
    return _end(OID, _stages(), objects, list(active), [None, None])


def test_each_drop_ends_in_one_bucket_with_its_reason() -> None:
    labeled = {"state": "LABELED"}
    assert end(labeled, {"state": "LABELED", "verdict": "accepted"}, (False, False)) == ("accepted", "")
    assert end(labeled, {"state": "QUARANTINED", "reason": "bad line"}, (False, False)) == (
        "quarantined",
        "demo-verify: bad line",
    )
    held = {"state": "FAILED", "rejected_by": "demo-verify-0001", "reason": "held back: MAX_REVIEW_ROUNDS=3"}
    assert end(held, None, (False, False)) == ("held back", "demo: held back: MAX_REVIEW_ROUNDS=3")
    failed = {"state": "FAILED", "failure_count": 3, "reason": "expired"}
    assert end(failed, None, (False, False))[1].startswith("demo: per-object failure limit (3)")
    assert end(labeled, None, (False, True)) == ("in progress", "demo-verify: not received yet")
    assert end(labeled, None, (False, False))[0] == "lost"
    assert end({"state": "SENT"}, None, (True, False)) == ("in progress", "demo: SENT")
    assert end({"state": "PENDING"}, None, (False, False)) == (
        "lost",
        "demo: object is PENDING while no job is active",
    )
    rejected = {"state": "LABELED", "verdict": "rejected"}
    assert end(labeled, rejected, (True, False))[0] == "in progress"
    assert end(labeled, rejected, (False, False))[0] == "lost"
