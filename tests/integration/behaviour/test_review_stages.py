"""Issue 13, Must show: a two-stage project (bounding box -> bounding-box verification, rejected
objects relabeled). Every dropped image ends accepted (by the final stage), quarantined, or held
back by a limit with a reason; none is lost; the rejected ones were relabeled in stage 1 and
verified again; and each stage's chain survives a 30-day expiry with x5 duplicate state-change
events (one child per stage, exactly once).

On the SDK deployment: two SDK deployments (``gtlocal.deploy``), ``sg`` (bounding box) and
``sg-verify`` (verification, ``Stage.after(sg)``: fed by sg's output topic, rejected objects back to
sg's intake queue). The same scenario runs on the Terraform deployment's two stages (examples/local
with ``review_stage = true``: module labeling and module verify,
tests/integration/terraform/test_local_apply.py) and on a CloudFormation stack pair (the behaviour
suite's stack and a ``<P>-verify`` stack wired to it, tests/integration/cloudformation/conftest.py):
each provides the ``stages`` fixture (the two deployment documents, cleaned, their project configs
published by :func:`publish_stage_configs`). Under the strict local cloud the scenario passing there
proves each deployment's grants are enough.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gtctl.__main__ import cli
from gtlocal.deploy import Stage, deploy_project, publish_project_config
from gtlocal.runner import run_until_idle
from gtlocal.testing import LocalCloud, reset_local_cloud

from .conftest import INITIALIZING_SECONDS, Project

HOUR = 3600
MAX_REVIEW_ROUNDS = 3
IMAGES = 3  # and one that is no image


def publish_stage_configs(label: dict[str, Any], verify: dict[str, Any]) -> None:
    """The two stages' project configs: bounding boxes, then their verification (rejected ones
    relabeled). Each at its deployment's ``project_config_uri`` (the Terraform example's verify stage
    reads ``config/<P>-verify/project.json``)."""
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


# Named with a leading underscore so that ``from ... import *`` (the CloudFormation suite) does not
# take it: the Terraform and CloudFormation suites give their own ``stages``.
@pytest.fixture(name="stages", scope="module")
def _sdk_stages(local_cloud: LocalCloud) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    reset_local_cloud(local_cloud)
    env = {"PENDING_STALE_SECONDS": "0", "MAX_REVIEW_ROUNDS": str(MAX_REVIEW_ROUNDS)}
    label = deploy_project("sg", region=local_cloud.region, environment=env)
    verify = deploy_project("sg-verify", region=local_cloud.region, environment=env, stage=Stage.after(label))
    publish_stage_configs(label, verify)
    yield label, verify
    reset_local_cloud(local_cloud)  # the next module deploys its own project on a clean cloud


def _run(*stages: Project) -> None:
    """Every stage's Lambdas, in stage order, until no queue of any stage has work. A stage's work
    reaches a later stage in the same pass; only a later stage's work (a rejected object sent back)
    needs another pass."""
    while True:
        busy = []
        for stage in stages:
            stats = run_until_idle(stage.deployment)
            assert not any(stats.dead_letters.values()), stats.summary()
            busy.append(sum(stats.invocations.values()) > 0)
        if not any(busy[1:]):
            return


def _active(stage: Project) -> str | None:
    job = stage.project_item().get("active_job")
    return str(job) if job else None


def _objects(stage: Project) -> dict[str, dict[str, Any]]:
    return {str(o["object_id"]): o for o in stage.objects()}


def _label_available(cloud: LocalCloud, label: Project, verify: Project, held_back: str) -> int:
    """The workers label what is available in both stages. The reviewers answer "bad" (the last
    category: ``verification_last_category_fraction`` 1.0) for ``held_back`` in every round and for
    the other objects in round 0 only, "good" otherwise (0.0): every object is relabeled once, and
    ``held_back`` reaches MAX_REVIEW_ROUNDS, whatever the deployment's job names (which seed the
    emulator's answers)."""
    labeled = 0
    for stage in (label, verify):
        job = _active(stage)
        if not job or cloud.control.job(job)["status"] != "InProgress":
            continue
        objects = cloud.control.job(job)["objects"]
        available = sorted((o for o in objects if o["state"] == "available"), key=lambda o: o["seq"])
        if stage is label:
            labeled += cloud.control.workforce(job, label=len(available))["labeled"] if available else 0
            continue
        rounds = {object_id: int(o.get("review_round", 0)) for object_id, o in _objects(verify).items()}
        for obj in available:  # the workers take the oldest available object first
            object_id = str(obj["source"]).rsplit("/", 1)[-1].split(".", 1)[0]
            reject = object_id == held_back or rounds.get(object_id, 0) == 0
            cloud.control.update_settings(verification_last_category_fraction=1.0 if reject else 0.0)
            labeled += cloud.control.workforce(job, label=1)["labeled"]
    return labeled


def _status_of_stages(*stages: Project) -> dict[str, Any]:
    """``gtctl --deployment <stage 1> status --stage <stage 2> --json --audit``."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for stage in stages:
            paths.append(Path(folder) / f"{stage.prefix}.json")
            paths[-1].write_text(json.dumps(stage.deployment))
        args = ["--deployment", str(paths[0]), "status", "--json", "--audit"]
        for path in paths[1:]:
            args += ["--stage", str(path)]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_must_show_two_stages_rejected_relabeled_nothing_lost_each_chain_survives_expiry_x5(
    stages: tuple[dict[str, Any], dict[str, Any]], local_cloud: LocalCloud
) -> None:
    label, verify = (Project(deployment, local_cloud) for deployment in stages)
    cloud = local_cloud
    # MAX_REVIEW_ROUNDS: set by the SDK fixture, the Lambdas' default (3) on the other deployments
    assert int(label.deployment["lambda_environment"].get("MAX_REVIEW_ROUNDS", 3)) == MAX_REVIEW_ROUNDS
    cloud.control.update_settings(initializing_seconds=INITIALIZING_SECONDS, duplicate_events=5)

    # Given 3 images dropped in stage 1, and a file that is no image (quarantined)
    label.drop_images(0, IMAGES, folder="stages")
    label.drop("stages/broken.png", b"not an image")
    _run(label, verify)
    images = sorted(i for i, o in _objects(label).items() if o["state"] != "QUARANTINED")
    assert len(images) == IMAGES
    held_back = images[0]  # the one the reviewers reject in every round
    # When both stages' workers label whatever is available until nothing is left
    for _ in range(4 * MAX_REVIEW_ROUNDS):
        cloud.control.advance_clock(INITIALIZING_SECONDS + 5)  # new jobs leave Initializing
        _run(label, verify)
        open_ = [o for stage in (label, verify) for o in stage.objects() if o["state"] in ("PENDING", "SENT")]
        if not _label_available(cloud, label, verify, held_back) and not open_:
            break
    first, second = _objects(label), _objects(verify)

    # Then every dropped image ends accepted by the final stage, quarantined, or held back
    drops = [i for i in label.ledger_items() if str(i["pk"]).startswith("DROP#")]
    assert len(drops) == IMAGES + 1
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
            assert obj["object_id"] == held_back
            ends["held back"] += 1
        else:
            review = second[str(obj["object_id"])]
            assert (obj["state"], review["state"], review["verdict"]) == ("LABELED", "LABELED", "accepted")
            # the final stage accepted the label of the object's last round
            assert int(review["review_round"]) == int(obj.get("review_round", 0))
            ends["accepted"] += 1
    # both endings: the others accepted in round 1, the one rejected every round held back after 3
    assert ends == {"quarantined": 1, "accepted": IMAGES - 1, "held back": 1}, ends
    # ... every image was rejected at least once, relabeled in stage 1 and verified again
    relabeled = [o for o in first.values() if int(o.get("review_round", 0)) >= 1]
    assert sorted(str(o["object_id"]) for o in relabeled) == images
    for obj in relabeled:
        assert str(obj["rejected_by"]).startswith(f"{verify.prefix}-")
        assert int(second[str(obj["object_id"])]["review_round"]) >= 1
    # ... and nothing is lost: every drop key is known to stage 1's ledger
    assert label.lost() == []
    # gtctl status shows the stages side by side and audits the drops across them, 0 lost
    doc = _status_of_stages(label, verify)
    assert [s["project_prefix"] for s in doc["stages"]] == [label.prefix, verify.prefix]
    assert doc["stages"][1]["verdicts"]["accepted"] == ends["accepted"]
    assert doc["stages"][1]["upstream_output_topic_arn"] == label.deployment["topics"]["output"]
    audit = doc["audit"]
    assert (audit["dropped"], audit["accepted"], audit["quarantined"]) == (IMAGES + 1, ends["accepted"], 1)
    assert (audit["held_back"], audit["in_progress"], audit["lost"]) == (ends["held back"], 0, 0)
    assert all("MAX_REVIEW_ROUNDS" in reason for reason in audit["held_back_reasons"])

    # Given one more image labeled in stage 1 but not verified, another not labeled at all
    label.drop_images(IMAGES, 2, folder="stages")
    _run(label, verify)
    job1 = _active(label)
    assert job1 and cloud.control.workforce(job1, label=1)["labeled"] == 1
    _run(label, verify)
    assert Counter(o["state"] for o in _objects(verify).values())["SENT"] == 1
    jobs_before = label.jobs()

    # When both jobs expire (30 days), each state change delivered 5 times
    cloud.control.update_settings(idle_stop_seconds=90 * 86400)
    cloud.control.advance_clock(cloud.control.settings()["job_expiry_seconds"] + HOUR)
    _run(label, verify)

    # Then each stage chained exactly one child, which re-offers its unfinished object
    new = sorted(set(label.jobs()) - set(jobs_before))
    assert [j.rsplit("-", 1)[0] for j in new] == [label.prefix, verify.prefix], new
    for stage, job in zip((label, verify), new, strict=True):
        assert _active(stage) == job
        chained = [o for o in stage.objects() if o.get("job") == job and o["state"] == "SENT"]
        assert len(chained) == 1
        ended = [i for i in stage.ledger_items() if str(i["pk"]).startswith("JOB#") and i.get("ended_at")]
        assert len(ended) == sum(1 for j in jobs_before if j.rsplit("-", 1)[0] == stage.prefix)
