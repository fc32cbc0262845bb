from __future__ import annotations

import json

import pytest

from gtcontract.names import job_index, job_name, job_name_from_arn
from gtstream.intake import parse_s3_event
from gtstream.manifest import merge_lines, object_id_of, source_line

A, B, C, D = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)


class RecordingSink:
    def __init__(self) -> None:
        self.labels: dict[str, dict[str, object]] = {}
        self.failures: list[str] = []

    def labeled(self, object_id: str, uri: str, label: str) -> None:
        self.labels[object_id] = json.loads(label)

    def failed(self, object_id: str, reason: str) -> str | None:
        self.failures.append(object_id)
        return "FAILED" if object_id == D else "PENDING"


def line(oid: str, job: str, *, label: int | None = None, failure: str | None = None) -> str:
    out: dict[str, object] = {"source-ref": f"s3://in/images/{oid}.jpg"}
    meta: dict[str, object] = {"job-name": f"labeling-job/{job}"}
    if label is not None:
        out["category"] = label
    if failure:
        meta["failure-reason"] = failure
    out["category-metadata"] = meta
    return json.dumps(out)


def test_merge_classifies_labeled_failed_carried_unprocessed_and_bad_lines() -> None:
    sink = RecordingSink()
    lines = [
        line(A, "p-0002", label=1),
        line(B, "P-0001", label=0),  # carried over from the parent: merged back then
        line(C, "p-0002", failure="ClientError: declined"),
        line(D, "p-0002", failure="ClientError: expired"),
        json.dumps({"source-ref": f"s3://in/images/{'e' * 64}.jpg"}),
        json.dumps({"source-ref": "s3://elsewhere/x.jpg"}),
        "{not json",
    ]
    stats = merge_lines(lines, "category", "P-0002", sink)
    assert (stats.lines, stats.labeled, stats.carried, stats.failed_attempts) == (7, 1, 1, 2)
    assert (stats.permanently_failed, stats.not_processed, stats.unknown, stats.malformed) == (1, 1, 1, 1)
    assert sink.labels[A]["category"] == 1 and "category-metadata" in sink.labels[A]
    assert sink.failures == [C, D]


def test_object_ids_and_source_lines() -> None:
    assert object_id_of(f"s3://in/images/{A}.png") == A
    assert object_id_of("s3://in/other/x.png") is None
    assert json.loads(source_line("s3://in/images/x.jpg")) == {
        "source-ref": "s3://in/images/x.jpg",
        "dataset-objectid-attribute-name": "source-ref",
    }


def test_job_names_never_truncate_and_arns_map_back() -> None:
    assert job_name("Demo", 7) == "Demo-0007"
    assert job_name("Demo", 12345) == "Demo-12345"
    assert job_index("Demo", "demo-12345") == 12345
    assert job_index("demo", "demo-x-0001") is None  # another project whose prefix starts like ours
    arn = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/demo-0003"
    assert job_name_from_arn("Demo", arn) == "Demo-0003"
    assert job_name_from_arn("Demo", "arn:aws:sagemaker:us-east-1:1:labeling-job/other-0003") is None


def test_s3_event_parsing_decodes_keys_and_ignores_test_events() -> None:
    assert parse_s3_event({"Service": "Amazon S3", "Event": "s3:TestEvent"}) == []
    body = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "d"}, "object": {"key": "a+b%C3%BC.jpg", "size": 3}},
            },
            {
                "eventName": "ObjectRemoved:Delete",
                "s3": {"bucket": {"name": "d"}, "object": {"key": "gone.jpg"}},
            },
        ]
    }
    (drop,) = parse_s3_event(body)
    assert (drop.bucket, drop.key, drop.size) == ("d", "a bü.jpg", 3)
    with pytest.raises(ValueError, match="not an S3 event"):
        parse_s3_event({"hello": 1})


def test_an_interrupted_merge_resumes_from_its_checkpoint() -> None:
    lines = [line(f"{n:064x}", "p-0001", label=n % 2) for n in range(25)]
    checkpoints: list[int] = []
    first = RecordingSink()
    merge_lines(lines[:17], "category", "p-0001", first, checkpoint=checkpoints.append, checkpoint_every=5)
    assert checkpoints == [4, 9, 14]
    second = RecordingSink()
    stats = merge_lines(lines, "category", "p-0001", second, skip=checkpoints[-1])
    assert stats.lines == 25 and stats.labeled == 11
    assert len(first.labels) + len(second.labels) - 3 == 25  # lines 15..17 merged twice: idempotent
