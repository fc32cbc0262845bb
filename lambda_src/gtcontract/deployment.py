"""The deployment document (docs/interfaces.md section 2): typed model, one parser, its loaders.

``Deployment.from_document`` is the one parser: the JSON Schema ``deployment.schema.json``,
then ``lambda_environment`` through ``gtcontract.settings.Settings.from_env`` and its agreement
with the rest of the document. Every problem is named in one ``DeploymentError`` line.

Loaders that need no AWS SDK live here: a JSON file (``load_deployment_file``, also the
``terraform output -json`` of all outputs) and ``terraform output -json deployment``
(``load_terraform_deployment``). Finders that need boto3 (``gtctl --prefix``: a Lambda's
environment; ``cloudformation/deployment_document.py``: stack outputs) build the document and
pass it through the same parser (``Deployment.from_lambda_environment`` for the former).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtcontract.names import FUNCTION_KINDS
from gtcontract.schema import Problem, schema_problems
from gtcontract.settings import Settings, SettingsError

SCHEMA_FILE = "deployment.schema.json"
DEFAULT_HANDLERS = {kind: f"gtstream.handlers.{kind}.handler" for kind in FUNCTION_KINDS}
DEFAULT_QUARANTINE_PREFIX = "quarantine/"
# lambda_environment variable -> where the same value sits in the document.
_AGREEMENT = {
    "PROJECT_PREFIX": ("project_prefix",),
    "LEDGER_TABLE": ("ledger_table",),
    "DROP_BUCKET": ("buckets", "drop"),
    "INPUT_BUCKET": ("buckets", "input"),
    "OUTPUT_BUCKET": ("buckets", "output"),
    "INPUT_TOPIC_ARN": ("topics", "input"),
    "OUTPUT_TOPIC_ARN": ("topics", "output"),
    "NOTIFICATION_TOPIC_ARN": ("topics", "notifications"),
    "PROJECT_CONFIG_URI": ("project_config_uri",),
    "GROUNDTRUTH_ROLE_ARN": ("groundtruth_role_arn",),
    "JOB_EVENTS_QUEUE_URL": ("queues", "job_events", "url"),
}


# The stage's variables (optional): the same value as the document's ``stage`` key, or both absent.
_STAGE_AGREEMENT = {
    "UPSTREAM_OUTPUT_TOPIC_ARN": "upstream_output_topic_arn",
    "REJECTED_QUEUE_URL": "rejected_queue_url",
}


def environment_from_document(document: Mapping[str, Any]) -> dict[str, str]:
    """The Lambda environment variables (section 3) that the rest of a document determines."""
    environment = {}
    for variable, where in _AGREEMENT.items():
        value: Any = document
        for key in where:
            value = value[key]
        environment[variable] = str(value)
    return environment


class DeploymentError(ValueError):
    """Not a usable deployment document; the message (one line) names every problem."""


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str
    dlq_url: str
    batch_size: int
    max_receive_count: int


@dataclass(frozen=True)
class Deployment:
    """One deployed project. ``document`` is the validated JSON as it was read."""

    project_prefix: str
    region: str
    account_id: str
    ledger_table: str
    buckets: Mapping[str, str]
    topics: Mapping[str, str]
    project_config_uri: str
    groundtruth_role_arn: str
    lambda_roles: Mapping[str, str]  # execution role ARN by handler key; empty from a Lambda environment
    queues: Mapping[str, Queue]  # empty when rebuilt from a Lambda environment
    handlers: Mapping[str, str]  # empty when rebuilt from a Lambda environment
    lambda_environment: Mapping[str, str]
    document: dict[str, Any] = field(repr=False, compare=False)

    @property
    def stage(self) -> Mapping[str, str | None]:
        """The ``stage`` key (``upstream_output_topic_arn``, ``rejected_queue_url``); from a Lambda
        environment, its variables. Both None for a project of one stage."""
        stage = self.document.get("stage") or {}
        return {
            key: stage.get(key) or self.lambda_environment.get(variable) or None
            for variable, key in _STAGE_AGREEMENT.items()
        }

    @property
    def drop_bucket(self) -> str:
        return self.buckets["drop"]

    @property
    def input_bucket(self) -> str:
        return self.buckets["input"]

    @property
    def output_bucket(self) -> str:
        return self.buckets["output"]

    @property
    def quarantine_prefix(self) -> str:
        return self.lambda_environment.get("QUARANTINE_PREFIX") or DEFAULT_QUARANTINE_PREFIX

    @property
    def settings(self) -> Settings:
        """The Lambda settings of the project (its ``lambda_environment``, parsed)."""
        return Settings.from_env(self.lambda_environment)

    @classmethod
    def from_document(cls, document: Any, source: str = "deployment document") -> Deployment:
        """Validate ``document`` (section 2) and build the model; ``DeploymentError`` names every problem."""
        problems = deployment_problems(document)
        if problems:
            raise DeploymentError(
                f"{source}: not a valid deployment document: " + "; ".join(map(str, problems))
            )
        return cls._build(document)

    @classmethod
    def from_lambda_environment(cls, env: Mapping[str, str], region: str, source: str) -> Deployment:
        """The document of a project found by one of its Lambda functions (its environment, section 3):
        everything but ``queues``, ``handlers`` and the artifact bucket, from ``Settings.from_env``."""
        try:
            settings = Settings.from_env(env)
        except SettingsError as exc:
            raise DeploymentError(f"{source}: {exc}") from None
        return cls._build(
            {
                "project_prefix": settings.project_prefix,
                "region": region,
                "account_id": settings.account_id,
                "ledger_table": settings.ledger_table,
                "buckets": {
                    "drop": settings.drop_bucket,
                    "input": settings.input_bucket,
                    "output": settings.output_bucket,
                    "instructions": settings.project_config_uri[len("s3://") :].split("/", 1)[0],
                },
                "topics": {
                    "input": settings.input_topic_arn,
                    "output": settings.output_topic_arn,
                    "notifications": settings.notification_topic_arn,
                },
                "project_config_uri": settings.project_config_uri,
                "groundtruth_role_arn": settings.groundtruth_role_arn,
                "lambda_environment": dict(env),
            }
        )

    @classmethod
    def _build(cls, doc: dict[str, Any]) -> Deployment:
        fields = ("url", "arn", "dlq_url", "batch_size", "max_receive_count")
        return cls(
            project_prefix=doc["project_prefix"],
            region=doc["region"],
            account_id=doc["account_id"],
            ledger_table=doc["ledger_table"],
            buckets=dict(doc["buckets"]),
            topics=dict(doc["topics"]),
            project_config_uri=doc["project_config_uri"],
            groundtruth_role_arn=doc["groundtruth_role_arn"],
            lambda_roles=dict(doc.get("lambda_roles", {})),
            queues={kind: Queue(**{k: q[k] for k in fields}) for kind, q in doc.get("queues", {}).items()},
            handlers=dict(doc.get("handlers", {})),
            lambda_environment=dict(doc["lambda_environment"]),
            document=doc,
        )


def deployment_problems(document: Any) -> list[Problem]:
    """Every problem of a deployment document; ``[]`` when it is valid."""
    problems = schema_problems(SCHEMA_FILE, document)
    if problems or not isinstance(document, dict):
        return problems
    env = document["lambda_environment"]
    try:
        Settings.from_env(env)
    except SettingsError as exc:
        problems.extend(Problem("lambda_environment", p) for p in exc.problems)
    # A document with a ``stage`` key agrees with the environment on it (without one, the
    # environment alone says: ``Deployment.stage``).
    if isinstance(document.get("stage"), dict):
        problems.extend(_stage_problems(env, document["stage"]))
    for variable, value in environment_from_document(document).items():
        if variable in env and env[variable] != value:
            where = ".".join(_AGREEMENT[variable])
            problems.append(
                Problem(
                    f"lambda_environment.{variable}",
                    f"{env[variable]!r} differs from {where} {value!r}; write the same value in both",
                )
            )
    return sorted(set(problems))


def _stage_problems(env: Mapping[str, str], stage: Mapping[str, Any]) -> list[Problem]:
    return [
        Problem(
            f"lambda_environment.{variable}",
            f"{env.get(variable)!r} differs from stage.{key} {stage.get(key)!r}; "
            "write the same value in both (or leave both out)",
        )
        for variable, key in _STAGE_AGREEMENT.items()
        if (env.get(variable) or None) != stage.get(key)
    ]


# --- loaders that need no AWS SDK -------------------------------------------------------------


def load_deployment_file(path: Path) -> Deployment:
    """A JSON file: the document itself, or ``terraform output -json`` (every output, ``deployment``
    among them)."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeploymentError(f"deployment file not found: {path}") from None
    except OSError as exc:
        raise DeploymentError(f"cannot read deployment file {path}: {exc.strerror}") from None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DeploymentError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    # `terraform output -json` (all outputs) wraps it: {"deployment": {"value": {...}}}
    if (
        isinstance(document, dict)
        and "project_prefix" not in document
        and isinstance(document.get("deployment"), dict)
    ):
        document = document["deployment"].get("value", document["deployment"])
    return Deployment.from_document(document, str(path))


def load_terraform_deployment(directory: Path, terraform: str | None = None) -> Deployment:
    """``terraform output -json deployment`` in ``directory`` (a root module that outputs it)."""
    if not Path(directory).is_dir():
        raise DeploymentError(f"terraform directory not found: {directory}")
    binary = terraform or shutil.which("terraform")
    if binary is None:
        raise DeploymentError(
            "terraform is not on PATH (needed to read a Terraform deployment; give the file instead)"
        )
    try:
        proc = subprocess.run(
            [binary, f"-chdir={directory}", "output", "-json", "deployment"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise DeploymentError(f"cannot run {binary}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split())[:300] or f"exit {proc.returncode}"
        raise DeploymentError(f"terraform output -json deployment failed in {directory}: {detail}")
    try:
        document = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise DeploymentError(f"terraform output in {directory} is not JSON") from None
    return Deployment.from_document(document, f"terraform output in {directory}")
