"""gtctl export: the augmented manifest matches the ledger one to one (moto in process)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from tests.documents import deployment_document
from tests.inprocess import in_process_aws

from gtctl import export as exports
from gtctl.__main__ import cli
from gtctl.errors import GtctlError
from gtctl.export import output_paths, split_of
from gtstream.aws import Clients
from gtstream.ledger import Ledger, table_definition

REGION = "eu-west-1"
DOC = deployment_document("demo", region=REGION)
ATTRIBUTE = "demo-labels"


def oid(n: int) -> str:
    return hashlib.sha256(f"image {n}".encode()).hexdigest()


def label(n: int) -> str:
    return json.dumps(
        {
            ATTRIBUTE: n % 3,
            f"{ATTRIBUTE}-metadata": {"class-name": ["cat", "dog", "bird"][n % 3], "confidence": 0.9},
        }
    )


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Ledger]:
    with in_process_aws(monkeypatch, REGION):
        boto3.client("dynamodb", region_name=REGION).create_table(**table_definition(DOC["ledger_table"]))
        yield Ledger(DOC["ledger_table"], Clients(REGION))


def given_objects(ledger: Ledger, labeled: int) -> dict[str, dict[str, Any]]:
    """``labeled`` labeled objects (one dropped twice), one sent, one quarantined, one with a bad label."""
    expected: dict[str, dict[str, Any]] = {}
    for n in range(labeled):
        uri = f"s3://{DOC['buckets']['input']}/images/{oid(n)}.jpg"
        ledger.add_object(oid(n), uri, f"batch/{n}.jpg")
        drops = [f"batch/{n}.jpg"]
        if n == 1:
            ledger.add_object(oid(n), uri, "again/1.jpg")
            drops = ["again/1.jpg", "batch/1.jpg"]
        ledger.mark_labeled(oid(n), "demo-0001", uri, label(n))
        expected[uri] = {"source-ref": uri, **json.loads(label(n)), "drop-keys": drops}
    ledger.add_object(oid(100), f"s3://x/images/{oid(100)}.jpg", "waiting.jpg")
    ledger.mark_sent(oid(100), "demo-0002")
    ledger.add_quarantined_object(oid(101), "broken.jpg", "not-an-image")
    ledger.add_object(oid(102), f"s3://x/images/{oid(102)}.jpg", "odd.jpg")
    ledger.mark_labeled(oid(102), "demo-0001", f"s3://x/images/{oid(102)}.jpg", "not json")
    return expected


def run(tmp_path: Path, *args: str) -> Any:
    document = tmp_path / "deployment.json"
    document.write_text(json.dumps(DOC))
    return CliRunner().invoke(cli, ["--deployment", str(document), "export", *args])


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_manifest_has_one_line_per_labeled_object_with_its_drop_keys(
    ledger: Ledger, tmp_path: Path
) -> None:
    expected = given_objects(ledger, labeled=7)

    result = run(tmp_path, "--output", str(tmp_path / "cats.manifest"))

    assert result.exit_code == 0, result.output
    written = lines(tmp_path / "cats.manifest")
    assert {line["source-ref"]: line for line in written} == expected and len(written) == 7
    assert "wrote" in result.stdout and "(7 labeled objects)" in result.stdout
    assert "left out 1: label is not a JSON object of label attributes" in result.stderr
    assert not list(tmp_path.glob("*.partial"))


def test_a_split_is_deterministic_and_partitions_the_labeled_objects(ledger: Ledger, tmp_path: Path) -> None:
    expected = given_objects(ledger, labeled=60)
    first = run(tmp_path, "--output", str(tmp_path / "a" / "d.manifest"), "--validation-fraction", "0.25")
    assert first.exit_code == 1 and "does not exist" in first.output  # no folder made silently
    (tmp_path / "a").mkdir()

    outputs = []
    for _ in range(2):
        result = run(
            tmp_path, "--output", str(tmp_path / "a" / "d.manifest"), "--validation-fraction", "0.25"
        )
        assert result.exit_code == 0, result.output
        outputs.append({s: lines(tmp_path / "a" / f"d.{s}.manifest") for s in ("train", "validation")})

    assert outputs[0] == outputs[1]
    train, validation = outputs[0]["train"], outputs[0]["validation"]
    assert {line["source-ref"] for line in train + validation} == set(expected)
    assert len(train) + len(validation) == 60 and 5 <= len(validation) <= 25
    for line in validation:
        object_id = line["source-ref"].rsplit("/", 1)[1].split(".")[0]
        assert split_of(object_id, 0.25) == "validation"


def test_bad_options_are_one_line_errors() -> None:
    with pytest.raises(GtctlError, match="must be at least 0 and below 1"):
        output_paths(Path("d.manifest"), 1.0)
    assert output_paths(Path("d"), 0.5) == {
        "train": Path("d.train.manifest"),
        "validation": Path("d.validation.manifest"),
    }
    with pytest.raises(GtctlError, match="not a sha256"):
        split_of("zz", 0.5)


def test_objects_all_adds_every_unlabeled_object_once_and_never_a_quarantined_one(
    ledger: Ledger, tmp_path: Path
) -> None:
    expected = given_objects(ledger, labeled=5)
    ledger.add_object(oid(103), f"s3://x/images/{oid(103)}.jpg", "later.jpg")  # PENDING
    ledger.add_object(oid(104), f"s3://x/images/{oid(104)}.jpg", "hard.jpg")
    ledger.mark_sent(oid(104), "demo-0001")
    assert ledger.record_failure(oid(104), "demo-0001", "every worker declined", max_failures=1) == "FAILED"
    unlabeled = {
        f"s3://x/images/{oid(n)}.jpg": {"source-ref": f"s3://x/images/{oid(n)}.jpg", "drop-keys": [key]}
        for n, key in ((100, "waiting.jpg"), (103, "later.jpg"), (104, "hard.jpg"))
    }

    result = run(tmp_path, "--output", str(tmp_path / "all.manifest"), "--objects", "all")

    assert result.exit_code == 0, result.output
    written = lines(tmp_path / "all.manifest")
    assert len(written) == len({line["source-ref"] for line in written}) == 8  # one line per object
    assert {line["source-ref"]: line for line in written} == {
        **{uri: {**line, "export-status": "accepted"} for uri, line in expected.items()},
        **{uri: {**line, "export-status": "unlabeled"} for uri, line in unlabeled.items()},
    }
    assert "(8 objects: 5 accepted, 0 not-accepted, 3 unlabeled)" in result.stdout
    assert "left out 1: quarantined at intake (no image to export)" in result.stderr
    assert "left out 1: label is not a JSON object of label attributes" in result.stderr


def test_objects_labeled_adds_the_objects_the_final_stage_did_not_accept_with_their_label(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = given_objects(ledger, labeled=6)
    # the one place "accepted" is decided: here, a final stage that rejected objects 1 and 4
    rejected = {oid(1), oid(4)}
    monkeypatch.setattr(exports, "final_stage_accepted", lambda item: item["object_id"] not in rejected)
    accepted = {uri for uri in expected if uri.rsplit("/", 1)[1].split(".")[0] not in rejected}

    default = run(tmp_path, "--output", str(tmp_path / "accepted.manifest"))
    labeled = run(tmp_path, "--output", str(tmp_path / "labeled.manifest"), "--objects", "labeled")

    assert default.exit_code == 0 and labeled.exit_code == 0, default.output + labeled.output
    assert {line["source-ref"]: line for line in lines(tmp_path / "accepted.manifest")} == {
        uri: expected[uri] for uri in accepted
    }
    assert "left out 2: not accepted by the final stage" in default.stderr and len(accepted) == 4
    assert {line["source-ref"]: line for line in lines(tmp_path / "labeled.manifest")} == {
        uri: {**line, "export-status": "accepted" if uri in accepted else "not-accepted"}
        for uri, line in expected.items()
    }
    assert "(6 objects: 4 accepted, 2 not-accepted)" in labeled.stdout
    assert "not labeled" not in labeled.stderr  # the SENT object is not counted as left out here


def test_a_review_stage_object_is_exported_with_the_reviewed_label_unless_rejected() -> None:
    """The final (review) stage's ledger: the verdict decides, and the line carries the upstream
    labels it reviewed (its ``input_line``) beside the review's own answer, without routing keys."""
    boxes = {"annotations": [{"class_id": 0, "left": 1, "top": 2, "width": 3, "height": 4}]}
    upstream = {
        "source-ref": "s3://in/images/" + "a" * 64 + ".png",
        "boxes": boxes,
        "boxes-metadata": {"job-name": "labeling-job/demo-0001"},
        "gtstream-round": 1,
        "gtstream-object-id": "a" * 64 + "-r1",
        "dataset-objectid-attribute-name": "gtstream-object-id",
    }
    item: dict[str, Any] = {
        "object_id": "a" * 64,
        "state": "LABELED",
        "input_uri": upstream["source-ref"],
        "drop_keys": [],
        "label": json.dumps({"verify": 0, "verify-metadata": {"class-name": "correct"}}),
        "input_line": json.dumps(upstream),
        "verdict": "accepted",
    }
    assert exports.final_stage_accepted(item)
    line, reason = exports.manifest_line(item)
    assert reason == "" and line is not None
    assert line["boxes"] == boxes and line["verify"] == 0
    assert not [key for key in line if key.startswith("gtstream-") or key.startswith("dataset-objectid")]
    assert not exports.final_stage_accepted({**item, "verdict": "rejected"})
    assert exports.final_stage_accepted({k: v for k, v in item.items() if k not in ("verdict", "input_line")})
