"""The deployment document (docs/interfaces.md section 2): the one parser and its loaders."""

from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from tests.documents import deployment_document

from gtcontract.deployment import (
    Deployment,
    DeploymentError,
    deployment_problems,
    load_deployment_file,
    load_terraform_deployment,
)


def test_a_valid_document_becomes_the_typed_model() -> None:
    doc = deployment_document("Cats", region="eu-west-1")
    dep = Deployment.from_document(doc)
    assert (dep.project_prefix, dep.region, dep.account_id) == ("Cats", "eu-west-1", "123456789012")
    assert dep.drop_bucket == "cats-123456789012-drop" and dep.quarantine_prefix == "quarantine/"
    assert dep.queues["job_events"].max_receive_count == 5
    assert dep.handlers["reconcile"] == "gtstream.handlers.reconcile.handler"
    assert dep.settings.ledger_table == "Cats-ledger" and dep.document is doc
    # Producers may add keys: a newer Terraform output is still read.
    assert Deployment.from_document({**doc, "dashboard": "x"}).ledger_table == "Cats-ledger"


def broken(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(deployment_document())
    for dotted, value in changes.items():
        target = doc
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[key]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return doc


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"region": None}, ["region: is required but missing"]),
        ({"account_id": "12345"}, ['account_id: "12345": use the 12-digit account id']),
        ({"buckets__artifacts": None}, ["buckets.artifacts: is required but missing"]),
        ({"buckets__drop": "Not_A_Bucket"}, ['buckets.drop: "Not_A_Bucket": use an S3 bucket name']),
        ({"topics__input": "topic"}, ['topics.input: "topic": use an SNS topic ARN']),
        (
            {"queues__intake__batch_size": "10"},
            ['queues.intake.batch_size: must be a whole number, not "10"'],
        ),
        ({"queues__worker_events": None}, ["queues.worker_events: is required but missing"]),
        ({"handlers__reconcile": None}, ["handlers.reconcile: is required but missing"]),
        ({"lambda_environment__LEDGER_TABLE": None}, ["lambda_environment: LEDGER_TABLE is required"]),
        (
            {"lambda_environment__MAX_CHAIN_DEPTH": 7},
            ["lambda_environment.MAX_CHAIN_DEPTH: must be a string"],
        ),
        (
            {"lambda_environment__DROP_BUCKET": "other-bucket"},
            ["lambda_environment.DROP_BUCKET: 'other-bucket' differs from buckets.drop"],
        ),
    ],
)
def test_each_problem_is_named_with_its_field(changes: dict[str, Any], expected: list[str]) -> None:
    problems = [str(p) for p in deployment_problems(broken(**changes))]
    assert len(problems) == len(expected), problems
    for text, start in zip(problems, expected, strict=True):
        assert text.startswith(start), problems


def test_every_problem_in_one_line() -> None:
    with pytest.raises(DeploymentError) as caught:
        Deployment.from_document(broken(region=None, ledger_table=None, buckets__input=None), "f.json")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("f.json: not a valid deployment document: ")
    for field in ("region", "ledger_table", "buckets.input"):
        assert f"{field}: is required but missing" in message
    with pytest.raises(DeploymentError, match=r"\(document\): must be an object"):
        Deployment.from_document([], "f.json")


def test_file_loader_reads_the_document_and_terraforms_all_outputs_json(tmp_path: Path) -> None:
    doc = deployment_document()
    plain, wrapped = tmp_path / "plain.json", tmp_path / "all-outputs.json"
    plain.write_text(json.dumps(doc))
    wrapped.write_text(json.dumps({"deployment": {"sensitive": False, "type": "object", "value": doc}}))
    assert load_deployment_file(plain).document == doc == load_deployment_file(wrapped).document
    with pytest.raises(DeploymentError, match="deployment file not found"):
        load_deployment_file(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DeploymentError, match=r"bad.json: invalid JSON"):
        load_deployment_file(tmp_path / "bad.json")


def fake_terraform(tmp_path: Path, script: str) -> Path:
    binary = tmp_path / "bin" / "terraform"
    binary.parent.mkdir(exist_ok=True)
    binary.write_text(f"#!/bin/sh\n{script}\n")
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return binary


def test_terraform_loader_runs_terraform_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = deployment_document()
    (tmp_path / "out.json").write_text(json.dumps(doc))
    binary = fake_terraform(
        tmp_path, f'test "$2 $3 $4" = "output -json deployment" && cat {tmp_path}/out.json'
    )
    assert load_terraform_deployment(tmp_path, str(binary)).document == doc
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ['PATH']}")
    assert load_terraform_deployment(tmp_path).ledger_table == "demo-ledger"  # found on PATH
    failing = fake_terraform(tmp_path, 'echo "No outputs found" >&2; exit 1')
    with pytest.raises(
        DeploymentError, match=r"terraform output -json deployment failed in .*No outputs found"
    ):
        load_terraform_deployment(tmp_path, str(failing))
    with pytest.raises(DeploymentError, match="terraform directory not found"):
        load_terraform_deployment(tmp_path / "nowhere", str(binary))


def test_rebuilt_from_a_lambda_environment_through_the_settings_parser() -> None:
    env = deployment_document("p", region="us-west-2")["lambda_environment"]
    dep = Deployment.from_lambda_environment(env, "us-west-2", "fn")
    assert (dep.ledger_table, dep.region, dep.account_id) == ("p-ledger", "us-west-2", "123456789012")
    assert dep.buckets["instructions"] == "p-123456789012-instructions" and dep.queues == {}
    incomplete = {k: v for k, v in env.items() if k != "OUTPUT_BUCKET"}
    with pytest.raises(DeploymentError, match="fn: invalid Lambda environment: OUTPUT_BUCKET is required"):
        Deployment.from_lambda_environment(incomplete, "us-west-2", "fn")


def test_the_sdk_deployment_writes_a_document_the_parser_accepts(aws: None) -> None:
    from gtlocal.deploy import deploy_project

    doc = deploy_project("shape", region="us-east-1")
    dep = Deployment.from_document(doc, "gtlocal deploy")
    assert dep.ledger_table == "shape-ledger" and set(dep.queues) == {
        "intake",
        "job_events",
        "worker_events",
        "labels",
    }
