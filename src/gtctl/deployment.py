"""Finding a project: the deployment document of docs/interfaces.md section 2.

A project is found, in this order, from
1. ``--deployment FILE`` (or env ``GTCTL_DEPLOYMENT``): the JSON document written by
   ``gtlocal deploy`` or by ``terraform output -json deployment > FILE``;
2. ``--terraform-dir DIR`` (or env ``GTCTL_TERRAFORM_DIR``): ``terraform output -json deployment``
   run in DIR (a root module that outputs ``deployment``);
3. ``--prefix P`` (or env ``GTCTL_PREFIX``): discovery in the account and region of the current
   credentials: the project's Lambda functions carry the environment of section 3
   (``PROJECT_PREFIX=P``), from which the document is rebuilt.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtctl.errors import GtctlError

PREFIX_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,55}$")
DEFAULT_QUARANTINE_PREFIX = "quarantine/"


@dataclass(frozen=True)
class Deployment:
    """The parts of the deployment document gtctl uses (the raw document is kept in ``document``)."""

    project_prefix: str
    region: str
    ledger_table: str
    drop_bucket: str
    input_bucket: str
    output_bucket: str
    lambda_environment: dict[str, str]
    document: dict[str, Any] = field(repr=False)

    @property
    def quarantine_prefix(self) -> str:
        return self.lambda_environment.get("QUARANTINE_PREFIX", DEFAULT_QUARANTINE_PREFIX)

    @classmethod
    def from_document(cls, doc: Any, source: str) -> Deployment:
        """Validate a deployment document; every problem is named in one error line."""
        if not isinstance(doc, dict):
            raise GtctlError(f"{source}: the deployment document must be a JSON object")
        problems: list[str] = []

        def text(value: Any, name: str) -> str:
            if not isinstance(value, str) or not value:
                problems.append(f"'{name}' missing")
                return ""
            return value

        buckets: dict[str, Any] = doc["buckets"] if isinstance(doc.get("buckets"), dict) else {}
        env: dict[str, Any] = (
            doc["lambda_environment"] if isinstance(doc.get("lambda_environment"), dict) else {}
        )
        dep = cls(
            project_prefix=text(doc.get("project_prefix"), "project_prefix"),
            region=text(doc.get("region"), "region"),
            ledger_table=text(doc.get("ledger_table"), "ledger_table"),
            drop_bucket=text(buckets.get("drop"), "buckets.drop"),
            input_bucket=text(buckets.get("input"), "buckets.input"),
            output_bucket=text(buckets.get("output"), "buckets.output"),
            lambda_environment={str(k): str(v) for k, v in env.items()},
            document=doc,
        )
        if not env:
            problems.append("'lambda_environment' missing")
        if problems:
            raise GtctlError(f"{source}: not a deployment document ({', '.join(problems)})")
        return dep

    @classmethod
    def from_lambda_environment(cls, env: dict[str, str], region: str, source: str) -> Deployment:
        """Rebuild the document from the Lambda environment of docs/interfaces.md section 3."""
        doc: dict[str, Any] = {
            "project_prefix": env.get("PROJECT_PREFIX"),
            "region": region,
            "ledger_table": env.get("LEDGER_TABLE"),
            "buckets": {
                "drop": env.get("DROP_BUCKET"),
                "input": env.get("INPUT_BUCKET"),
                "output": env.get("OUTPUT_BUCKET"),
            },
            "topics": {
                "input": env.get("INPUT_TOPIC_ARN"),
                "output": env.get("OUTPUT_TOPIC_ARN"),
                "notifications": env.get("NOTIFICATION_TOPIC_ARN"),
            },
            "project_config_uri": env.get("PROJECT_CONFIG_URI"),
            "groundtruth_role_arn": env.get("GROUNDTRUTH_ROLE_ARN"),
            "lambda_environment": dict(env),
        }
        return cls.from_document(doc, source)


def load_file(path: Path) -> Deployment:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GtctlError(f"deployment file not found: {path}") from None
    except OSError as exc:
        raise GtctlError(f"cannot read deployment file {path}: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise GtctlError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    # `terraform output -json` (all outputs) wraps it: {"deployment": {"value": {...}}}
    if isinstance(doc, dict) and "project_prefix" not in doc and isinstance(doc.get("deployment"), dict):
        doc = doc["deployment"].get("value", doc["deployment"])
    return Deployment.from_document(doc, str(path))


def load_terraform(directory: Path) -> Deployment:
    if not directory.is_dir():
        raise GtctlError(f"terraform directory not found: {directory}")
    terraform = shutil.which("terraform")
    if terraform is None:
        raise GtctlError(
            "terraform is not on PATH (needed by --terraform-dir; use --deployment FILE instead)"
        )
    proc = subprocess.run(
        [terraform, f"-chdir={directory}", "output", "-json", "deployment"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split())[:300] or f"exit {proc.returncode}"
        raise GtctlError(f"terraform output -json deployment failed in {directory}: {detail}")
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise GtctlError(f"terraform output in {directory} is not JSON") from None
    return Deployment.from_document(doc, f"terraform output in {directory}")


def check_prefix(prefix: str) -> str:
    if not PREFIX_PATTERN.match(prefix):
        raise GtctlError(
            f"invalid project prefix {prefix!r}: use 1-56 letters, digits and single hyphens "
            "(pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,55}$)"
        )
    return prefix
