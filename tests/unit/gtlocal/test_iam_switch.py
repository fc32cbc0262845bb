"""The IAM switch (GTLOCAL_IAM, gtlocal serve --iam), the recorder and service credentials in process."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from gtlocal.iam import enforce
from gtlocal.iam.enforce import IamEnforcer
from gtlocal.iam.policy import Caller, Decision, StatementRef
from gtlocal.iam.principals import AssumeRoleError, Principals, Signature, assume_role_as_service
from gtlocal.iam.record import Recorder
from gtlocal.localcloud_cli import add_parser

ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    ("value", "mode"), [(None, "enforce"), ("off", "off"), ("ENFORCE", "enforce"), ("", "enforce")]
)
def test_gtlocal_iam_environment_variable(
    monkeypatch: pytest.MonkeyPatch, value: str | None, mode: str
) -> None:
    if value is None:
        monkeypatch.delenv("GTLOCAL_IAM", raising=False)
    else:
        monkeypatch.setenv("GTLOCAL_IAM", value)
    assert enforce.default_mode() == mode
    assert IamEnforcer(log_path="").mode == mode


def test_a_bad_mode_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GTLOCAL_IAM", "lenient")
    with pytest.raises(ValueError, match="GTLOCAL_IAM must be one of enforce, off"):
        enforce.default_mode()


def test_serve_and_up_take_an_iam_switch() -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    assert parser.parse_args(["serve", "--iam", "off"]).iam == "off"
    assert parser.parse_args(["up", "--iam", "enforce"]).iam == "enforce"
    assert parser.parse_args(["serve"]).iam is None  # then GTLOCAL_IAM, else enforce
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--iam", "lenient"])


def test_enforcement_off_passes_requests_untouched() -> None:
    enforcer = IamEnforcer("off", log_path="")
    environ = {
        "PATH_INFO": "/",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=ASIAX/20260101/us-east-1/sqs/aws4_request",
    }
    assert enforcer.enforce(environ) is None and "gtlocal.principal" not in environ


def test_recorder_appends_one_json_line_per_decision(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "iam.jsonl"
    recorder = Recorder(str(path))
    caller = Caller(
        "role", f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:role/r", "r"
    )
    allowed = Decision(
        True, "allowed", "sqs:SendMessage", "arn:q", allowed_by=(StatementRef("p", "Send", "Allow"),)
    )
    refused = Decision(False, "implicit-deny", "sqs:DeleteQueue", "arn:q")
    recorder.record("call", "c1", "sqs:SendMessage", caller, allowed, {"aws:securetransport": ("true",)})
    recorder.record("call", "c2", "sqs:DeleteQueue", caller, refused, {})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(x["action"], x["decision"], x["role"]) for x in lines] == [
        ("sqs:SendMessage", "allow", "r"),
        ("sqs:DeleteQueue", "deny", "r"),
    ]
    assert lines[0]["allowed_by"] == [{"policy": "p", "sid": "Send", "effect": "Allow"}]
    assert lines[1]["message"].endswith("because no identity-based policy allows the sqs:DeleteQueue action")
    assert [x["action"] for x in recorder.entries(denied_only=True)] == ["sqs:DeleteQueue"]
    recorder.close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # in process: not the served local cloud an integration fixture may have pointed boto3 at
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def _role(name: str, trust: dict[str, object]) -> str:
    arn: str = boto3.client("iam", region_name="us-east-1").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    return arn


def test_service_credentials_are_a_session_of_the_role(aws: None) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = _role("fn", trust)
    credentials = assume_role_as_service(arn, "lambda.amazonaws.com", session_name="cats-intake")
    principal = Principals().resolve(
        Signature(credentials["AccessKeyId"], "us-east-1", "sqs", credentials["SessionToken"], signed=True)
    )
    assert principal.caller.kind == "role" and principal.caller.role_arn == arn
    assert principal.caller.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/fn/cats-intake"
    with pytest.raises(AssumeRoleError) as refused:
        assume_role_as_service(arn, "sagemaker.amazonaws.com")
    assert refused.value.status == 403
    with pytest.raises(AssumeRoleError) as missing:
        assume_role_as_service(f"arn:aws:iam::{ACCOUNT}:role/absent", "lambda.amazonaws.com")
    assert missing.value.status == 404


def test_unknown_keys_are_the_account_root(aws: None) -> None:
    principal = Principals().resolve(Signature("testing", "us-east-1", "s3", None, signed=True))
    assert (principal.caller.kind, principal.caller.arn) == ("root", f"arn:aws:iam::{ACCOUNT}:root")
    assert not principal.restricted
