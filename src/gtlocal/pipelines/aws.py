"""AWS calls of the local services: as a role a service assumed, or as the service itself.

A service principal's work is done with the credentials of the role AWS would use, obtained with
``gtlocal.iam.assume_role_as_service`` (the role's trust policy is checked for that service, with
``aws:SourceAccount`` / ``aws:SourceArn``), and sent to the local cloud's own endpoint, where
``gtlocal.iam`` enforces the role's policies as for any caller. What AWS does as the service itself
(CodeCommit putting its events on the default bus) uses the account's root credentials, as the
Ground Truth emulator does for its events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from gtlocal.iam import Principal, assume_role_as_service
from gtlocal.iam.policy import Decision

ROOT_KEY = "testing"  # any key moto did not issue is the account's root user (gtlocal.iam.principals)
_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10, read_timeout=120)


@dataclass(frozen=True)
class RoleSession:
    """Temporary credentials of a role, as ``service`` assumed it."""

    role_arn: str
    service: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    assumed_role_arn: str

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


def assume(
    role_arn: str, service: str, region: str, source_account: str, source_arn: str | None = None
) -> RoleSession:
    """Credentials of ``role_arn`` for ``service`` (``AssumeRoleError`` when its trust policy refuses)."""
    answer = assume_role_as_service(
        role_arn,
        service,
        source_account=source_account,
        source_arn=source_arn,
        session_name=service.split(".", 1)[0],
        region=region,
    )
    return RoleSession(
        role_arn,
        service,
        answer["AccessKeyId"],
        answer["SecretAccessKey"],
        answer["SessionToken"],
        answer["AssumedRoleArn"],
    )


def client(
    service_name: str,
    region: str,
    endpoint: str,
    session: RoleSession | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """A boto3 client of the local cloud: as ``session``'s role, or as the account's root user."""
    keys = (
        {
            "aws_access_key_id": session.access_key_id,
            "aws_secret_access_key": session.secret_access_key,
            "aws_session_token": session.session_token,
        }
        if session is not None
        else {"aws_access_key_id": ROOT_KEY, "aws_secret_access_key": ROOT_KEY}
    )
    boto_session: Any = boto3.session.Session(region_name=region, **keys)  # type: ignore[arg-type]
    made = boto_session.client(service_name, endpoint_url=endpoint, config=_CONFIG)
    for name, value in (headers or {}).items():

        def add(request: Any, _name: str = name, _value: str = value, **_: Any) -> None:
            request.headers[_name] = _value

        made.meta.events.register("before-sign", add)
    return made


def principal_of(session: RoleSession, region: str) -> Principal | None:
    """The ``gtlocal.iam`` principal of a role session (None when no enforcer runs here)."""
    from gtlocal.iam.enforce import current
    from gtlocal.iam.principals import Signature

    enforcer = current()
    if enforcer is None:
        return None
    signature = Signature(session.access_key_id, region, "", session.session_token, signed=True)
    return enforcer.principals.resolve(signature)


def check(session: RoleSession, action: str, resource: str, region: str) -> Decision:
    """Decide one permission of a role session in process (for calls the local cloud makes without
    an API of its own, e.g. CodePipeline reading a CodeCommit branch); recorded like a call."""
    from gtlocal.iam import check as iam_check

    principal = principal_of(session, region)
    if principal is None:
        return Decision(True, "allowed", action, resource)
    return iam_check(principal, action, resource, region=region)


def error_message(exc: BaseException) -> tuple[str, str]:
    """(code, message) of a botocore ClientError (or any exception)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return str(error.get("Code") or type(exc).__name__), str(error.get("Message") or exc)
    return type(exc).__name__, str(exc)
