"""``"on_publish": "roll-over"``: the reconciler stops the running job once when a newer config is
published, and never for the default ``"next-job"``, the same version or an invalid config.

Moto in process (S3 for the published config, DynamoDB for the ledger); the labeling-job gateway
is a recorder, so the decision is checked without a Ground Truth emulator (the local-cloud test
``tests/integration/behaviour/test_roll_over.py`` runs the whole stop -> end -> chain).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from gtstream_world import ENV as WORLD_ENV
from gtstream_world import REGION
from tests.documents import published_config
from tests.inprocess import in_process_aws

from gtstream.config import Settings
from gtstream.deps import Deps
from gtstream.ledger import table_definition
from gtstream.reconcile import roll_over

# The reconcile role's environment: the shared one, with a mixed-case prefix (names are lower-cased).
ENV = {**WORLD_ENV, "PROJECT_PREFIX": "Cats", "AWS_REGION": REGION}
JOB = "Cats-0001"


class StopRecorder:
    """The labeling-job gateway, reduced to what a roll-over calls."""

    def __init__(self) -> None:
        self.stopped: list[str] = []

    def stop(self, name: str) -> None:
        self.stopped.append(name)


@pytest.fixture
def deps(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deps]:
    """Moto in process: the ledger table and the instruction bucket; the job gateway a recorder."""
    with in_process_aws(monkeypatch, REGION):
        boto3.client("dynamodb", region_name=REGION).create_table(**table_definition(ENV["LEDGER_TABLE"]))
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="cats-instructions")
        built = Deps.build(Settings.from_env(ENV))
        built.jobs = StopRecorder()  # type: ignore[assignment]
        yield built


def running_with(deps: Deps, version: str) -> None:
    """Job 1 runs with config ``version`` (as chaining records it when it creates the job)."""
    deps.ledger.add_job(JOB, 1, None, "test", None)
    deps.ledger.set_job_status(JOB, "Initializing", config_version=version)


def publish(**changes: Any) -> None:
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="cats-instructions", Key="config/project.json", Body=json.dumps(published_config(**changes))
    )


def stopped(deps: Deps) -> list[str]:
    recorder = deps.jobs
    assert isinstance(recorder, StopRecorder)
    return recorder.stopped


def test_a_newer_config_that_rolls_over_stops_the_running_job_once(deps: Deps) -> None:
    # Given job 1 running with v1 and v2 published with "on_publish": "roll-over"
    running_with(deps, "v1")
    publish(version="v2", on_publish="roll-over")

    # When the reconciler runs twice (the job is Stopping in between)
    first, second = roll_over(deps, JOB), roll_over(deps, JOB)

    # Then one StopLabelingJob, recorded on the job with the version it rolls over to
    assert (first, second) == ("v2", None)
    assert stopped(deps) == [JOB]
    item = deps.ledger.get_job(JOB)
    assert item is not None and item["roll_over_to"] == "v2" and item["config_version"] == "v1"


@pytest.mark.parametrize(
    ("running", "changes", "why"),
    [
        ("v1", {"version": "v2"}, "on_publish defaults to next-job"),
        ("v1", {"version": "v2", "on_publish": "next-job"}, "next-job: only the next job changes"),
        ("v2", {"version": "v2", "on_publish": "roll-over"}, "the job already runs that version"),
        ("v1", {"version": "v2", "on_publish": "roll-over", "categories": ["cat"]}, "invalid config"),
        (None, {"version": "v2", "on_publish": "roll-over"}, "version of the running job unknown"),
    ],
)
def test_no_roll_over(deps: Deps, running: str | None, changes: dict[str, Any], why: str) -> None:
    if running is None:
        deps.ledger.add_job(JOB, 1, None, "created before config versions were recorded", None)
    else:
        running_with(deps, running)
    publish(**changes)
    assert roll_over(deps, JOB) is None, why
    assert stopped(deps) == []


def test_no_roll_over_without_a_published_config(deps: Deps) -> None:
    running_with(deps, "v1")
    assert roll_over(deps, JOB) is None
    assert stopped(deps) == []


def test_an_ended_job_is_not_stopped_again(deps: Deps) -> None:
    running_with(deps, "v1")
    assert deps.ledger.mark_job_ended(JOB, "Stopped", {}, None)
    publish(version="v2", on_publish="roll-over")
    assert roll_over(deps, JOB) is None
    assert stopped(deps) == []
