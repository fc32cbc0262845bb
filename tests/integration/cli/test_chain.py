"""gtctl chain: forces the next job through the Lambdas' chaining code, exactly once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from gtctl.__main__ import cli
from gtctl.chain import force
from gtctl.deployment import Deployment
from gtlocal.testing import LocalCloud

PREFIX = "chaintest"


@pytest.fixture
def deployed(cloud: LocalCloud, tmp_path: Path) -> Iterator[tuple[Deployment, Path]]:
    from gtlocal.deploy import deploy_project, publish_project_config

    doc = deploy_project(PREFIX, region=cloud.region)
    publish_project_config(doc)
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(doc))
    yield Deployment.from_document(doc, str(path)), path


def add_pending_object(doc: dict[str, Any], object_id: str) -> None:
    boto3.resource("dynamodb").Table(doc["ledger_table"]).put_item(
        Item={
            "pk": f"OBJ#{object_id}",
            "sk": "OBJ",
            "object_id": object_id,
            "state": "PENDING",
            "state_key": "PENDING",
            "input_uri": f"s3://{doc['buckets']['input']}/images/{object_id}.jpg",
            "drop_keys": {f"{object_id}.jpg"},
            "failure_count": 0,
            "created_at": "2026-01-01T00:00:00.000000Z",
            "updated_at": "2026-01-01T00:00:00.000000Z",
        }
    )


def chain(path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--deployment", str(path), "chain", *args])


def project_jobs() -> list[str]:
    summaries = boto3.client("sagemaker").list_labeling_jobs(NameContains=PREFIX)["LabelingJobSummaryList"]
    return sorted(s["LabelingJobName"] for s in summaries)


def wait_status(job: str, wanted: str, timeout: float = 10.0) -> None:
    sm = boto3.client("sagemaker")
    deadline = time.monotonic() + timeout
    while sm.describe_labeling_job(LabelingJobName=job)["LabelingJobStatus"] != wanted:
        assert time.monotonic() < deadline, f"{job} never became {wanted}"
        time.sleep(0.1)


def test_chain_creates_the_next_job_once_and_refuses_while_one_is_active(
    deployed: tuple[Deployment, Path],
) -> None:
    dep, path = deployed
    # nothing to label: no job
    idle = chain(path)
    assert idle.exit_code == 0, idle.output
    assert idle.stdout.startswith("idle:")
    assert project_jobs() == []

    add_pending_object(dep.document, "obj1")
    first = chain(path, "--reason", "operator asked")
    assert first.exit_code == 0, first.output
    assert "created: chaintest-0001 created: operator asked" in first.stdout
    assert project_jobs() == ["chaintest-0001"]

    again = chain(path)
    assert again.exit_code == 1
    assert again.stderr.strip().startswith("gtctl: error: not chained: chaintest-0001 is ")
    assert "--stop-active" in again.stderr
    assert project_jobs() == ["chaintest-0001"]

    # --stop-active: the running job is stopped, its end merged, and the chain moves on
    stopped = chain(path, "--stop-active", "--reason", "new instructions pushed")
    assert stopped.exit_code == 0, stopped.output
    assert "stopped chaintest-0001" in stopped.stdout
    assert "created: chaintest-0002 created: new instructions pushed" in stopped.stdout
    assert project_jobs() == ["chaintest-0001", "chaintest-0002"]

    status = json.loads(CliRunner().invoke(cli, ["--deployment", str(path), "status", "--json"]).stdout)
    second = next(j for j in status["jobs"] if j["name"] == "chaintest-0002")
    assert second["parent"] == "chaintest-0001"
    assert second["created_reason"] == "new instructions pushed"


def test_concurrent_forced_chains_create_exactly_one_job(deployed: tuple[Deployment, Path]) -> None:
    dep, _ = deployed
    add_pending_object(dep.document, "obj1")
    assert force(dep, "first").action == "created"
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName="chaintest-0001")
    wait_status("chaintest-0001", "Stopped")

    outcomes: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            for _ in range(20):  # "busy" (lock held) -> retry like a user would
                outcome = force(dep, "concurrent")
                if outcome.action != "busy":
                    outcomes.append(outcome.action)
                    return
                time.sleep(0.05)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(outcomes) == ["active", "active", "active", "created"]
    assert project_jobs() == ["chaintest-0001", "chaintest-0002"]


def test_status_finds_an_sdk_deployed_project_by_its_prefix(deployed: tuple[Deployment, Path]) -> None:
    # Given a project deployed with `gtlocal deploy` (the SDK way) and nothing but its prefix
    dep, _path = deployed
    add_pending_object(dep.document, "obj1")
    # When gtctl looks it up by prefix (the Lambda whose environment has PROJECT_PREFIX)
    result = CliRunner().invoke(cli, ["--prefix", PREFIX, "status", "--json"])
    # Then it reads that project's ledger
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["ledger_table"] == dep.ledger_table
    assert status["totals"]["PENDING"] == 1
