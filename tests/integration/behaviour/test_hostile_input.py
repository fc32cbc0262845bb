"""The hostile input corpus (tests/hostile.py) dropped on a deployed project: every file accounted
for (accepted, or quarantined with its reason), nothing lost, no crash loop (no handler error, an
empty dead-letter queue), and nothing written outside the project's prefixes. The local cloud holds
S3 to its documented limits (keys up to 1,024 bytes), so a 1 KB name is quarantined as in AWS."""

from __future__ import annotations

import re
from collections import Counter

from tests.hostile import CORPUS

from gtlocal.testing import clean_project

from .conftest import Project


def test_the_hostile_corpus_is_accounted_for_without_a_crash_loop(project: Project) -> None:
    for key, data, _ in CORPUS:
        project.drop(key, data)

    stats = project.run(reconcile=True)

    assert stats.handler_errors == 0 and stats.failed.get("intake", 0) == 0
    assert {k: v for k, v in stats.dead_letters.items() if v} == {}
    assert project.lost() == []
    drops = {str(i["pk"])[5:]: i for i in project.ledger_items() if str(i["pk"]).startswith("DROP#")}
    assert set(drops) == {key for key, _, _ in CORPUS}
    for key, _, expected in CORPUS:
        if expected == "accepted":
            assert drops[key]["state"] == "ACCEPTED", key
        else:
            assert drops[key]["state"] == "QUARANTINED", key
            assert str(drops[key]["reason"]).startswith(expected), (key, drops[key]["reason"])
    s3 = project.s3()
    buckets = project.deployment["buckets"]
    inputs = [o["Key"] for o in s3.list_objects_v2(Bucket=buckets["input"]).get("Contents", [])]
    accepted = sum(1 for *_, e in CORPUS if e == "accepted")
    assert len([k for k in inputs if k.startswith("images/")]) == accepted
    assert all(re.fullmatch(r"images/[0-9a-f]{64}\.(jpg|png)", k) for k in inputs if k.startswith("images/"))
    in_drop = [o["Key"] for o in s3.list_objects_v2(Bucket=buckets["drop"]).get("Contents", [])]
    moved = [k for k in in_drop if k.startswith("quarantine/")]
    assert len(moved) == sum(1 for *_, e in CORPUS if e != "accepted")
    assert all(len(k.encode()) <= 1024 for k in moved)
    # Objects are content-addressed: the same bytes under two names are one object.
    assert Counter(str(o["state"]) for o in project.objects()) == {
        "QUARANTINED": len({data for _, data, e in CORPUS if e != "accepted"}),
        "PENDING": len({data for _, data, e in CORPUS if e == "accepted"}),
    }

    # The per-test reset empties the buckets, keys with control characters included (they cannot
    # be named in DeleteObjects' XML: deleted one by one).
    assert clean_project(project.cloud, project.deployment, strict=False) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=buckets["drop"])
