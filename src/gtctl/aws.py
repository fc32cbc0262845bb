"""boto3 access for gtctl: one session, clear one-line errors for credentials and endpoints.

Clients honour the SDK-standard ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` (that is how
gtctl talks to the local cloud); ``--endpoint-url`` sets ``AWS_ENDPOINT_URL`` for the process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gtcontract.deployment import DeploymentError
from gtctl.deployment import Deployment, check_prefix
from gtctl.errors import GtctlError


class Aws:
    """A lazily created boto3 session with typed-enough client accessors."""

    def __init__(self, region: str | None = None) -> None:
        self._region = region
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    @property
    def session(self) -> Any:
        if self._session is None:
            import boto3

            with translate_errors():
                self._session = boto3.session.Session(region_name=self._region)
            if self._session.region_name is None:
                raise GtctlError("no AWS region: pass --region or set AWS_DEFAULT_REGION")
            check_endpoint(os.environ.get("AWS_ENDPOINT_URL"))
            if self._session.get_credentials() is None:
                raise GtctlError(
                    "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; "
                    "the local cloud accepts any value, e.g. 'testing')"
                )
        return self._session

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            config = Config(
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=60,
                max_pool_connections=16,
            )
            self._clients[service] = self.session.client(service, config=config)
        return self._clients[service]


def check_endpoint(url: str | None, timeout: float = 3.0) -> None:
    """A custom endpoint (the local cloud) must accept connections: say so in one line if not."""
    if not url:
        return
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GtctlError(f"invalid endpoint URL {url!r} (expected e.g. http://127.0.0.1:4566)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise GtctlError(f"invalid endpoint URL {url!r} (bad port)") from None
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise GtctlError(
            f"cannot reach the AWS endpoint {url} ({exc.strerror or exc}); is the local cloud running? "
            "(make emulator-up)"
        ) from None


def set_endpoint(endpoint_url: str | None) -> None:
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url


def discover(aws: Aws, prefix: str) -> Deployment:
    """Find a project by its prefix: the Lambda function whose environment has PROJECT_PREFIX=prefix."""
    check_prefix(prefix)
    lam = aws.client("lambda")
    with translate_errors():
        for page in lam.get_paginator("list_functions").paginate():
            for fn in page.get("Functions", []):
                env = (fn.get("Environment") or {}).get("Variables") or {}
                if env.get("PROJECT_PREFIX") == prefix and env.get("LEDGER_TABLE"):
                    try:
                        return Deployment.from_lambda_environment(
                            env, aws.region, f"Lambda function {fn.get('FunctionName')}"
                        )
                    except DeploymentError as exc:
                        raise GtctlError(str(exc)) from None
    raise GtctlError(
        f"unknown project prefix {prefix!r}: no Lambda function with PROJECT_PREFIX={prefix} in "
        f"{aws.region} (check --region, or pass --deployment FILE / --terraform-dir DIR)"
    )


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn botocore's exceptions into one-line GtctlErrors."""
    from botocore import exceptions as bx

    try:
        yield
    except GtctlError:
        raise
    except bx.NoCredentialsError:
        raise GtctlError("no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID)") from None
    except (bx.EndpointConnectionError, bx.ConnectTimeoutError) as exc:
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        raise GtctlError(f"cannot reach the AWS endpoint {url} (is the local cloud running?)") from None
    except bx.ProfileNotFound as exc:
        raise GtctlError(str(exc)) from None
    except bx.ClientError as exc:
        err = exc.response.get("Error", {})
        code = err.get("Code", "Error")
        op = getattr(exc, "operation_name", "")
        raise GtctlError(f"AWS {op} failed: {code}: {err.get('Message', '')}".rstrip(": ")) from None
    except bx.BotoCoreError as exc:
        raise GtctlError(f"AWS SDK error: {exc}") from None
