"""Control API: bad input gets a 4xx JSON message, never a stack trace."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from emulator_world import World

from gtlocal.client import ControlApiError
from gtlocal.testing import LocalCloud


def raw(cloud: LocalCloud, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    req = urllib.request.Request(f"{cloud.endpoint}/_groundtruth/{path}", data=body, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


BAD = [
    ("POST", "workforce", b"{not json", 400, "not valid JSON"),
    ("POST", "workforce", b"[1, 2]", 400, "JSON object"),
    ("POST", "workforce", b'{"label": 1}', 400, "job_name"),
    ("POST", "workforce", b'{"job_name": "x", "label": -1}', 400, "non-negative"),
    ("POST", "workforce", b'{"job_name": "x", "label": "2"}', 400, "non-negative integer"),
    ("POST", "workforce", b'{"job_name": "x", "labels": 2}', 400, "unknown field"),
    ("POST", "workforce", b'{"job_name": "nope", "label": 1}', 404, "unknown labeling job"),
    ("POST", "clock", b'{"advance_seconds": -5}', 400, "non-negative"),
    ("POST", "clock", b'{"advance_seconds": "5"}', 400, "non-negative number"),
    ("POST", "clock", b"{}", 400, "missing"),
    ("POST", "settings", b'{"duplicate_events": 0}', 400, "duplicate_events"),
    ("POST", "settings", b'{"expiry_status": "Done"}', 400, "expiry_status"),
    ("POST", "settings", b'{"colour": "red"}', 400, "unknown field"),
    ("POST", "settings", b'{"initializing_seconds": -1}', 400, "initializing_seconds"),
    ("POST", "settings", b'{"state_change_events": "some"}', 400, "['terminal', 'all']"),
    ("POST", "settings", b'{"unlabeled_in_output": "yes"}', 400, "['plain', 'failure-metadata', 'omitted']"),
    ("POST", "settings", b'{"idle_stop_status": "InProgress"}', 400, "idle_stop_status"),
    ("POST", "workforce", b'{"job_name": "x", "return": -1}', 400, "non-negative"),
    ("GET", "jobs/nope", None, 404, "unknown labeling job"),
    ("POST", "jobs/nope/fail", b'{"reason": "x"}', 404, "unknown labeling job"),
    ("POST", "jobs/nope/fail", b'{"reason": 5}', 400, "reason"),
    ("GET", "no-such-thing", None, 404, "no control operation"),
    ("DELETE", "clock", None, 404, "no control operation"),
]


@pytest.mark.parametrize(
    "method,path,body,status,fragment", BAD, ids=[f"{m} {p} {b!r}" for m, p, b, _, _ in BAD]
)
def test_bad_input_is_a_4xx_with_a_message(
    cloud: LocalCloud, method: str, path: str, body: bytes | None, status: int, fragment: str
) -> None:
    code, answer = raw(cloud, method, path, body)
    assert code == status
    assert fragment in answer["error"]
    assert "Traceback" not in answer["error"]


def test_workforce_on_a_job_that_is_not_in_progress_is_409(world: World) -> None:
    world.create("initializing")
    with pytest.raises(ControlApiError) as err:
        world.cloud.control.workforce("initializing", label=1)
    assert err.value.status == 409 and "Initializing" in err.value.message


def test_settings_round_trip_and_reset_restores(cloud: LocalCloud) -> None:
    defaults = cloud.control.settings()
    assert (defaults["state_change_events"], defaults["idle_stop_status"], defaults["expiry_status"]) == (
        "terminal",
        "Stopped",
        "Failed",
    )
    assert (defaults["duplicate_events"], defaults["unlabeled_in_output"]) == (1, "plain")
    changed = cloud.control.update_settings(
        duplicate_events=2,
        expiry_status="Stopped",
        label_seed=7,
        state_change_events="all",
        unlabeled_in_output="omitted",
    )
    assert (changed["duplicate_events"], changed["expiry_status"], changed["label_seed"]) == (2, "Stopped", 7)
    assert (changed["state_change_events"], changed["unlabeled_in_output"]) == ("all", "omitted")
    cloud.control.reset()
    assert cloud.control.settings() == defaults


def test_clock_moves_and_reset_rewinds(cloud: LocalCloud) -> None:
    before = cloud.control.now()
    after = cloud.control.advance_clock(86_400)
    assert after - before >= 86_400
    cloud.control.reset()
    assert cloud.control.now() < before + 60


def test_emulator_api_bad_json_is_an_aws_error(cloud: LocalCloud) -> None:
    req = urllib.request.Request(  # noqa: S310
        cloud.endpoint,
        data=b"{oops",
        method="POST",
        headers={
            "X-Amz-Target": "SageMaker.DescribeLabelingJob",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)  # noqa: S310
    assert err.value.code == 400
    assert json.loads(err.value.read())["__type"] == "SerializationException"
