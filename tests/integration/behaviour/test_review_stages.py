"""Issue 13, Must show: a two-stage project (bounding box -> bounding-box verification, rejected
objects relabeled). Every dropped image ends accepted (by the final stage), quarantined, or held
back by a limit with a reason; none is lost; the rejected ones were relabeled in stage 1 and
verified again; and each stage's chain survives a 30-day expiry with x5 duplicate state-change
events (one child per stage, exactly once).

Two SDK deployments (``gtlocal.deploy``): ``sg`` (bounding box) and ``sg-verify`` (verification,
``Stage.after(sg)``: fed by sg's output topic, rejected objects back to sg's intake queue).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from gtlocal.deploy import Stage, deploy_project, publish_project_config
from gtlocal.runner import run_until_idle
from gtlocal.testing import LocalCloud, reset_local_cloud

from .conftest import INITIALIZING_SECONDS, image_bytes

HOUR = 3600
MAX_REVIEW_ROUNDS = 3


@pytest.fixture(scope="module")
def stages(local_cloud: LocalCloud) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    reset_local_cloud(local_cloud)
    env = {"PENDING_STALE_SECONDS": "0", "MAX_REVIEW_ROUNDS": str(MAX_REVIEW_ROUNDS)}
    label = deploy_project("sg", region=local_cloud.region, environment=env)
    verify = deploy_project("sg-verify", region=local_cloud.region, environment=env, stage=Stage.after(label))
    publish_project_config(
        label, task_type="bounding-box", label_attribute_name="boxes", categories=["cat", "dog"]
    )
    publish_project_config(
        verify,
        task_type="bounding-box-verification",
        label_attribute_name="verdict",
        categories=["good", "bad"],
        audit_label_attribute_name="boxes",
        review={"accept": ["good"], "on_reject": "relabel"},
    )
    yield label, verify
    reset_local_cloud(local_cloud)  # the next module deploys its own project on a clean cloud


def _run(*deployments: dict[str, Any]) -> None:
    """Every stage's Lambdas until no queue of any stage has work (a stage's output feeds the next)."""
    while True:
        busy = 0
        for deployment in deployments:
            stats = run_until_idle(deployment)
            assert not any(stats.dead_letters.values()), stats.summary()
            busy += sum(stats.succeeded.values()) + sum(stats.failed.values())
        if busy == 0:
            return


def _ledger(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name=deployment["region"]).Table(deployment["ledger_table"])
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _objects(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(i["object_id"]): i for i in _ledger(deployment) if str(i["pk"]).startswith("OBJ#")}


def _active(deployment: dict[str, Any]) -> str | None:
    project = next((i for i in _ledger(deployment) if i["pk"] == "PROJECT"), {})
    return project.get("active_job")


def _label_available(cloud: LocalCloud, *deployments: dict[str, Any]) -> int:
    labeled = 0
    for deployment in deployments:
        job = _active(deployment)
        if job and cloud.control.job(job)["status"] == "InProgress":
            view = cloud.control.job(job)
            available = sum(1 for o in view["objects"] if o["state"] == "available")
            if available:
                labeled += cloud.control.workforce(job, label=available)["labeled"]
    return labeled


def _jobs(region: str) -> list[str]:
    sm = boto3.client("sagemaker", region_name=region)
    return sorted(
        j["LabelingJobName"] for j in sm.list_labeling_jobs(MaxResults=100)["LabelingJobSummaryList"]
    )


def _drop(deployment: dict[str, Any], seeds: range) -> None:
    s3 = boto3.client("s3", region_name=deployment["region"])
    for seed in seeds:
        s3.put_object(Bucket=deployment["buckets"]["drop"], Key=f"stages/{seed}.png", Body=image_bytes(seed))


def test_must_show_two_stages_rejected_relabeled_nothing_lost_each_chain_survives_expiry_x5(
    stages: tuple[dict[str, Any], dict[str, Any]], local_cloud: LocalCloud
) -> None:
    label, verify = stages
    cloud, region = local_cloud, label["region"]
    cloud.control.update_settings(
        initializing_seconds=INITIALIZING_SECONDS,
        verification_last_category_fraction=0.5,
        label_seed=13,
        duplicate_events=5,
    )

    # Given 6 images dropped in stage 1, one of them not an image (quarantined)
    _drop(label, range(5))
    boto3.client("s3", region_name=region).put_object(
        Bucket=label["buckets"]["drop"], Key="stages/broken.png", Body=b"not an image"
    )
    _run(label, verify)
    # When both stages' workers label whatever is available until nothing is left
    for _ in range(4 * MAX_REVIEW_ROUNDS):
        cloud.control.advance_clock(INITIALIZING_SECONDS + 5)  # new jobs leave Initializing
        _run(label, verify)
        if not _label_available(cloud, label, verify):
            break
        _run(label, verify)
    first, second = _objects(label), _objects(verify)

    # Then every dropped image ends accepted by the final stage, quarantined, or held back
    drops = [i for i in _ledger(label) if str(i["pk"]).startswith("DROP#")]
    assert len(drops) == 6
    ends: Counter[str] = Counter()
    for drop in drops:
        obj = first[str(drop["object_id"])]
        if obj["state"] == "QUARANTINED":
            assert obj["reason"]
            ends["quarantined"] += 1
        elif obj["state"] == "FAILED":  # held back by MAX_REVIEW_ROUNDS, with the reason
            assert "held back" in obj["reason"] and f"MAX_REVIEW_ROUNDS={MAX_REVIEW_ROUNDS}" in obj["reason"]
            review = second[str(obj["object_id"])]
            assert (review["verdict"], int(review["review_round"])) == ("rejected", MAX_REVIEW_ROUNDS - 1)
            ends["held back"] += 1
        else:
            review = second[str(obj["object_id"])]
            assert (obj["state"], review["state"], review["verdict"]) == ("LABELED", "LABELED", "accepted")
            # the final stage accepted the label of the object's last round
            assert int(review["review_round"]) == int(obj.get("review_round", 0))
            ends["accepted"] += 1
    assert ends["quarantined"] == 1 and ends["accepted"] + ends["held back"] == 5, ends
    # ... the rejected ones were relabeled in stage 1 and verified again
    relabeled = [o for o in first.values() if int(o.get("review_round", 0)) >= 1]
    assert relabeled, "the seeded workforce rejected nothing: the scenario shows no relabel"
    for obj in relabeled:
        assert str(obj["rejected_by"]).startswith("sg-verify-")
        assert int(second[str(obj["object_id"])]["review_round"]) >= 1
    # ... and nothing is lost: every drop key is known to stage 1's ledger
    s3 = boto3.client("s3", region_name=region)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=label["buckets"]["drop"]).get("Contents", [])]
    known = {str(d["drop_key"]) for d in drops}
    assert [k for k in keys if not k.startswith("quarantine/") and k not in known] == []

    # Given one more image labeled in stage 1 but not verified, another not labeled at all
    _drop(label, range(5, 7))
    _run(label, verify)
    job1 = _active(label)
    assert job1 and cloud.control.workforce(job1, label=1)["labeled"] == 1
    _run(label, verify)
    assert Counter(o["state"] for o in _objects(verify).values())["SENT"] == 1
    jobs_before = _jobs(region)

    # When both jobs expire (30 days), each state change delivered 5 times
    cloud.control.update_settings(idle_stop_seconds=90 * 86400)
    cloud.control.advance_clock(cloud.control.settings()["job_expiry_seconds"] + HOUR)
    for _ in range(3):
        _run(label, verify)

    # Then each stage chained exactly one child, which re-offers its unfinished object
    new = sorted(set(_jobs(region)) - set(jobs_before))
    assert [j.rsplit("-", 1)[0] for j in new] == ["sg", "sg-verify"], new
    for deployment, job in zip((label, verify), new, strict=True):
        assert _active(deployment) == job
        chained = [o for o in _objects(deployment).values() if o.get("job") == job and o["state"] == "SENT"]
        assert len(chained) == 1
        ended = [i for i in _ledger(deployment) if str(i["pk"]).startswith("JOB#") and i.get("ended_at")]
        assert len(ended) == len(
            [j for j in jobs_before if j.rsplit("-", 1)[0] == deployment["project_prefix"]]
        )
