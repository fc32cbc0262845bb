"""Bad files are quarantined with a reason; a handler crash mid-batch loses and duplicates nothing."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest

import gtstream.aws
import gtstream.intake

from .conftest import Project, image_bytes


def test_bad_files_are_quarantined_with_a_reason_and_never_retried(project: Project) -> None:
    project.deployment["lambda_environment"]["MAX_IMAGE_BYTES"] = "4000"
    big = image_bytes(7, size=(900, 900), fmt="PNG")
    assert len(big) > 4000
    good = image_bytes(1)
    assert len(good) < 4000
    project.drop("bad/empty.jpg", b"")
    project.drop("bad/notes.jpg", b"this is not an image at all")
    project.drop("bad/truncated.jpg", good[: len(good) // 2])
    project.drop("bad/huge.png", big)
    project.drop("good/ok.jpg", good)

    stats = project.run()

    assert stats.failed.get("intake", 0) == 0 and stats.dead_letters.get("intake") == 0
    drops = {str(i["pk"])[5:]: i for i in project.ledger_items() if str(i["pk"]).startswith("DROP#")}
    reasons = {k: str(v.get("reason", "")) for k, v in drops.items() if v["state"] == "QUARANTINED"}
    assert set(reasons) == {"bad/empty.jpg", "bad/notes.jpg", "bad/truncated.jpg", "bad/huge.png"}
    assert reasons["bad/empty.jpg"].startswith("empty")
    assert reasons["bad/notes.jpg"].startswith("not-an-image")
    assert reasons["bad/truncated.jpg"].startswith("corrupt")
    assert reasons["bad/huge.png"].startswith("too-large")
    assert drops["good/ok.jpg"]["state"] == "ACCEPTED"
    s3 = project.s3()
    bucket = project.deployment["buckets"]["drop"]
    for key, reason in reasons.items():
        head = s3.head_object(Bucket=bucket, Key=f"quarantine/{key}")
        assert head["Metadata"]["reason"].split(":")[0] == reason.split(":")[0]
    remaining = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert remaining == {"good/ok.jpg", *(f"quarantine/{k}" for k in reasons)}
    assert project.lost() == []
    quarantined = [n for n in project.notifications() if n["event"] == "object-quarantined"]
    assert sorted(n["drop_key"] for n in quarantined) == sorted(reasons)
    assert Counter(o["state"] for o in project.objects()) == {"QUARANTINED": 4, "PENDING": 1}


def test_handler_crash_mid_batch_loses_nothing_and_duplicates_no_task(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.drop_images(100, 1)
    project.run()
    project.start_job_running(1)
    crashes: Counter[str] = Counter()
    real_process, real_publish = gtstream.intake.take_drop, gtstream.aws.Topics.publish_batch

    def flaky_process(deps: Any, drop: Any) -> Any:
        if drop.key.endswith("img 3.jpg") and not crashes["process"]:
            crashes["process"] += 1
            raise RuntimeError("injected crash while processing one record")
        return real_process(deps, drop)

    def publish_then_crash(self: Any, topic: str, messages: Any) -> list[int]:
        failed = real_publish(self, topic, messages)
        if not crashes["publish"]:
            crashes["publish"] += 1
            raise RuntimeError("injected crash after publishing, before recording SENT")
        return failed

    monkeypatch.setattr(gtstream.intake, "take_drop", flaky_process)
    monkeypatch.setattr(gtstream.aws.Topics, "publish_batch", publish_then_crash)
    project.drop_images(0, 6)

    stats = project.run(reconcile=True)

    assert crashes == {"process": 1, "publish": 1}
    assert stats.handler_errors == 1 and stats.dead_letters.get("intake") == 0
    view = project.cloud.control.job(project.job_name(1))
    sources = [o["source"] for o in view["objects"]]
    assert len(sources) == 7 and len(set(sources)) == 7  # every image once, no duplicate task
    assert Counter(o["state"] for o in project.objects()) == {"SENT": 7}
    assert project.lost() == []
    assert project.cloud.control.workforce(project.job_name(1), label=7)["labeled"] == 7
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(1))
    project.advance(5)
    project.run()
    assert Counter(o["state"] for o in project.objects()) == {"LABELED": 7}


def test_a_message_that_always_fails_ends_in_the_dlq_after_max_receives(project: Project) -> None:
    sqs = boto3.client("sqs")
    queue = project.deployment["queues"]["intake"]
    sqs.send_message(QueueUrl=queue["url"], MessageBody='{"not": "an S3 event"}')

    stats = project.run()

    assert stats.failed["intake"] == queue["max_receive_count"]
    assert stats.dead_letters["intake"] == 1
