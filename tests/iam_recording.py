"""What the IAM coverage report (scripts/iam_coverage.py, docs/iam-coverage.md) is built from.

Every pytest process that starts the local cloud writes, under ``build/iam/<worker>/`` (the
pytest-xdist worker id, or ``main`` without workers):
- ``calls.jsonl``: the recorder log of the whole session (``GTLOCAL_IAM_LOG``: one JSON line per
  permission a restricted principal needed, src/gtlocal/README.md "IAM enforcement");
- ``calls/<flavour>.jsonl``: the same lines while the behaviour suite runs on one deployment flavour
  (``sdk``, ``terraform``, ``cloudformation``): ``record_deployment`` points the recorder there;
- ``policies.json``: ``{flavour: {role kind: {"role", "policies": {name: document}}}}``, each
  deployed role's identity policies read back through IAM (inline and attached managed), for the
  role kinds ``groundtruth``, ``intake``, ``job_events``, ``worker_events``, ``labels``, ``reconcile``.

Import as ``from tests.iam_recording import recording``; ``with recording(cloud, flavour, document):``
around the scenario (a fixture yields inside it), so that what the local cloud does once the
scenario is over (a job's queue polled while its role is destroyed) is not the behaviour suite's.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from gtlocal.testing import LocalCloud

ROOT = Path(__file__).resolve().parents[1]
IAM_ROOT = ROOT / "build" / "iam"
# One directory per pytest process: each pytest-xdist worker runs its own local cloud and records
# apart from the others (scripts/iam_coverage.py reads them all).
IAM_DIR = IAM_ROOT / os.environ.get("PYTEST_XDIST_WORKER", "main")
SESSION_LOG = IAM_DIR / "calls.jsonl"
CALLS_DIR = IAM_DIR / "calls"
POLICIES = IAM_DIR / "policies.json"
FLAVOURS = ("sdk", "terraform", "cloudformation")


def forget_recordings() -> None:
    """Forget every earlier session's records (the pytest process that starts the session: the
    pytest-xdist controller, or pytest without workers)."""
    shutil.rmtree(IAM_ROOT, ignore_errors=True)


def start_session() -> Path:
    """Start this process's records; return the session log's path (for GTLOCAL_IAM_LOG)."""
    shutil.rmtree(IAM_DIR, ignore_errors=True)
    CALLS_DIR.mkdir(parents=True)
    return SESSION_LOG


def role_policies(role_name: str) -> dict[str, Any]:
    """A role's identity policies as IAM answers them: inline by name, attached managed by ARN."""
    iam = boto3.client("iam")
    found: dict[str, Any] = {}
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        found[name] = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        arn = attached["PolicyArn"]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        found[arn] = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document
    return found


def record_deployment(cloud: LocalCloud, flavour: str, deployment: dict[str, Any]) -> None:
    """Snapshot the deployment's roles for ``flavour`` and send the recorder's lines to
    ``calls/<flavour>.jsonl`` until the next reset of the local cloud."""
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}, got {flavour!r}")
    roles = {"groundtruth": deployment["groundtruth_role_arn"], **deployment["lambda_roles"]}
    snapshot = {}
    for kind, arn in sorted(roles.items()):
        name = arn.rsplit("/", 1)[-1]
        snapshot[kind] = {"role": name, "policies": role_policies(name)}
    IAM_DIR.mkdir(parents=True, exist_ok=True)
    known = json.loads(POLICIES.read_text()) if POLICIES.exists() else {}
    known[flavour] = {
        "project_prefix": deployment["project_prefix"],
        "account": deployment["account_id"],
        "region": deployment["region"],
        "roles": snapshot,
    }
    POLICIES.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    CALLS_DIR.mkdir(parents=True, exist_ok=True)
    cloud.control.update_iam_settings(log=str(CALLS_DIR / f"{flavour}.jsonl"))


@contextmanager
def recording(cloud: LocalCloud, flavour: str, deployment: dict[str, Any]) -> Iterator[None]:
    """``record_deployment`` for the block; then the recorder writes to the session log again."""
    record_deployment(cloud, flavour, deployment)
    try:
        yield
    finally:
        cloud.control.update_iam_settings(log=str(SESSION_LOG))
