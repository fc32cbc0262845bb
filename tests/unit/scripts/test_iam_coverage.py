"""scripts/iam_coverage.py on a hand-made recorder log: which statement each call needs, and what
fails the check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import iam_coverage

ROLE = "p-intake-lambda"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:p-intake"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/p-ledger"


def allow(policy: str, sid: str) -> dict[str, str]:
    return {"policy": policy, "sid": sid, "effect": "Allow"}


def call(action: str, resource: str, *allowed_by: dict[str, str], decision: str = "allow") -> dict[str, Any]:
    return {
        "kind": "call",
        "operation": f"{action.split(':')[0]}:{action.split(':')[1]}",
        "role": ROLE,
        "action": action,
        "resource": resource,
        "decision": decision,
        "reason": "allowed" if decision == "allow" else "implicit-deny",
        "allowed_by": list(allowed_by),
        "denied_by": [],
    }


POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "OwnQueue", "Effect": "Allow", "Action": ["sqs:ReceiveMessage"], "Resource": QUEUE},
        {"Sid": "Ledger", "Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": TABLE},
        {"Sid": "LedgerToo", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:123456789012:p-x"},
        {"Sid": "DenyAll", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
    ],
}


def test_a_statement_is_needed_only_by_calls_it_alone_allowed() -> None:
    calls = [
        call("sqs:ReceiveMessage", QUEUE, allow("least", "OwnQueue")),
        # Two statements allow the same call: neither is needed by it.
        call("dynamodb:GetItem", TABLE, allow("least", "Ledger"), allow("least", "LedgerToo")),
        # Allowed by the identity statement and a resource policy: the statement is not needed.
        call(
            "sns:Publish", "arn:aws:sns:us-east-1:123456789012:p-x", allow("least", "#3"), allow("topic", "T")
        ),
        # Another role's call, and a denied one, need nothing.
        {**call("sqs:ReceiveMessage", QUEUE, allow("least", "OwnQueue")), "role": "other"},
        call("sqs:DeleteQueue", QUEUE, decision="deny"),
    ]
    assert iam_coverage.necessary(calls, ROLE) == {
        ("least", "OwnQueue"): {"sqs:ReceiveMessage (ReceiveMessage)"}
    }
    assert sorted(iam_coverage.called(calls, ROLE)) == [
        "dynamodb:GetItem",
        "sns:Publish",
        "sqs:ReceiveMessage",
    ]
    assert iam_coverage.denied(calls, ROLE) == [f"sqs:DeleteQueue on {QUEUE} (implicit-deny)"]


def test_a_key_policy_that_delegates_to_iam_is_no_alternative_to_the_identity_statement() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/k"
    root = {"policy": "key policy of k", "sid": "Root", "effect": "Allow"}
    delegated = {**call("kms:Decrypt", key, root, allow("least", "ProjectKey")), "delegated_by": [root]}
    direct = call("kms:Encrypt", key, {**root, "sid": "Role"}, allow("least", "ProjectKey"))
    assert iam_coverage.necessary([delegated, direct], ROLE) == {
        ("least", "ProjectKey"): {"kms:Decrypt (Decrypt)"}
    }


def test_statements_are_the_allow_statements_named_as_the_recorder_names_them() -> None:
    found = iam_coverage.statements({"least": POLICY})
    assert [s.sid for s in found] == ["OwnQueue", "Ledger", "LedgerToo", "#3"]
    assert found[2].actions == ("dynamodb:GetItem",) and found[0].resources == (QUEUE,)


def snapshot() -> dict[str, Any]:
    roles = {"intake": {"role": ROLE, "policies": {"least": POLICY}}}
    return {
        flavour: {"project_prefix": "p", "account": "123456789012", "region": "us-east-1", "roles": roles}
        for flavour in iam_coverage.FLAVOURS
    }


def test_unused_statements_need_a_reason_and_a_denied_call_fails() -> None:
    lines = [
        call("sqs:ReceiveMessage", QUEUE, allow("least", "OwnQueue")),
        call("dynamodb:GetItem", TABLE, allow("least", "Ledger"), allow("least", "LedgerToo")),
    ]
    calls = {flavour: lines for flavour in iam_coverage.FLAVOURS}
    coverage = iam_coverage.build(snapshot(), calls, {"intake": {"Ledger": "kept for the test"}})
    problems = "\n".join(coverage.problems)
    assert "intake statement LedgerToo is needed by no recorded call" in problems
    assert "statement #3 is needed by no recorded call" in problems
    assert "statement Ledger " not in problems and "OwnQueue" not in problems

    reasons = {"intake": {"Ledger": "a", "LedgerToo": "b", "#3": "c", "OwnQueue": "used", "Gone": "x"}}
    coverage = iam_coverage.build(snapshot(), calls, reasons)
    assert coverage.problems == [
        "docs/iam-unused.yaml: intake has no statement Gone (stale reason)",
        "docs/iam-unused.yaml: intake statement OwnQueue is needed by recorded calls: remove its reason",
    ]

    denied = {
        flavour: [*lines, call("s3:GetObject", "arn:aws:s3:::b/k", decision="deny")] for flavour in calls
    }
    coverage = iam_coverage.build(
        snapshot(), denied, {"intake": {"Ledger": "a", "LedgerToo": "b", "#3": "c"}}
    )
    assert coverage.problems == [
        f"{title} intake role {ROLE} was denied s3:GetObject on arn:aws:s3:::b/k (implicit-deny)"
        for title in ("CloudFormation", "SDK", "Terraform")
    ]


def test_a_statement_needed_on_one_deployment_is_used() -> None:
    # Terraform and CloudFormation run a subset of the scenarios: OwnQueue needed on the SDK's only.
    lines = {"sdk": [call("sqs:ReceiveMessage", QUEUE, allow("least", "OwnQueue"))], "terraform": []}
    reasons = {"intake": {"Ledger": "a", "LedgerToo": "b", "#3": "c"}}
    coverage = iam_coverage.build(snapshot(), lines, reasons)
    assert coverage.problems == []
    assert coverage.used("intake") == {"OwnQueue": ["SDK"]}
    text = iam_coverage.render(coverage, reasons)
    assert (
        "| needed by `sqs:ReceiveMessage (ReceiveMessage)` "
        "| not by this deployment's scenarios; needed on SDK |" in text
    )


def test_a_flavour_that_was_not_recorded_fails() -> None:
    partial = {"sdk": snapshot()["sdk"]}
    coverage = iam_coverage.build(partial, {"sdk": []}, {})
    assert any("no Terraform deployment was recorded" in p for p in coverage.problems)


def test_the_report_is_deterministic_and_check_finds_it_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = tmp_path / "build"
    for worker in ("gw0", "gw1"):  # one directory per pytest-xdist worker, read together
        (build / worker / "calls").mkdir(parents=True)
        (build / worker / "policies.json").write_text(json.dumps(snapshot()))
    line = call("sqs:ReceiveMessage", QUEUE, allow("least", "OwnQueue"))
    for flavour in iam_coverage.FLAVOURS:
        # the same calls in another order and repeated (here by two workers): the same report
        workers = ("gw0", "gw1") if flavour == "sdk" else ("gw0",)
        for worker in workers:
            (build / worker / "calls" / f"{flavour}.jsonl").write_text(json.dumps(line) + "\n")
    unused = tmp_path / "unused.yaml"
    unused.write_text(yaml.safe_dump({"intake": {"Ledger": "r1", "LedgerToo": "r2", "#3": "r3"}}))
    report = tmp_path / "iam-coverage.md"
    args = ["--build", str(build), "--unused", str(unused), "--output", str(report)]

    assert iam_coverage.main(args) == 0
    text = report.read_text()
    assert "| OwnQueue | `sqs:ReceiveMessage` | `arn:aws:sqs:<region>:<account>:<P>-intake` |" in text
    assert "needed by `sqs:ReceiveMessage (ReceiveMessage)`" in text and "**unused**: r2" in text
    assert iam_coverage.main([*args, "--check"]) == 0

    report.write_text(text.replace("r2", "old reason"))
    assert iam_coverage.main([*args, "--check"]) == 1
    assert "is stale" in capsys.readouterr().err


def test_a_kms_key_id_is_a_placeholder() -> None:
    arn = "arn:aws:kms:us-east-1:123456789012:key/d5155fb1-298d-4fc6-8535-ef2d545368e4"
    assert iam_coverage._placeholders(arn, []) == "arn:aws:kms:us-east-1:123456789012:key/<key-id>"
