"""Response-format and behaviour shims that let moto serve what ``terraform apply`` creates.

Applied once, in-process, before the local cloud serves (``apply()`` is idempotent). Each shim
fixes a place where moto differs from AWS in a way that breaks the Terraform modules of this
project; nothing here changes behaviour that AWS would show differently.

- **S3 bucket policy conditions.** moto evaluates bucket policies but ignores ``Condition``, so
  the standard TLS-only statement (Deny ``s3:*`` when ``aws:SecureTransport`` is ``false``)
  denies *every* request. The local cloud is the stand-in for an HTTPS endpoint: the shim
  evaluates ``aws:SecureTransport`` as ``true`` and drops other conditional statements (which
  moto cannot evaluate) instead of applying them unconditionally.
- **SQS RedriveAllowPolicy.** moto stores the attribute but never returns it; the provider waits
  forever for it to appear. The shim returns it.
- **SQS -> Lambda event source mappings.** moto would invoke the function (through Docker, which
  is absent) on every ``SendMessage`` and count a failed receive each time, pushing messages to
  the DLQ. Locally the event-source runner of ``gtlocal`` plays Lambda's poller, so the mapping is
  kept as metadata only.
- **CodeBuild projects with a CODEPIPELINE source/artifacts** need no ``location`` in AWS;
  moto requires one.
"""

from __future__ import annotations

import json
import threading
from typing import Any

_lock = threading.Lock()
_applied = False


def apply() -> None:
    """Install every shim (once per process)."""
    global _applied
    with _lock:
        if _applied:
            return
        _patch_s3_bucket_policy_conditions()
        _patch_sqs_redrive_allow_policy()
        _patch_sqs_event_source_delivery()
        _patch_codebuild_pipeline_sources()
        _applied = True


# --- S3 -------------------------------------------------------------------------------------


def _condition_holds(condition: dict[str, Any]) -> bool | None:
    """True/False when every test is about ``aws:SecureTransport``; None when not evaluable."""
    outcome = True
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            return None
        for key, expected in tests.items():
            if key.lower() != "aws:securetransport" or operator not in ("Bool", "BoolIfExists"):
                return None
            values = expected if isinstance(expected, list) else [expected]
            # The local endpoint stands in for AWS's HTTPS endpoint: SecureTransport is true.
            outcome = outcome and any(str(v).lower() == "true" for v in values)
    return outcome


def effective_policy(policy: str) -> str:
    """The bucket policy as moto should evaluate it: conditions resolved or the statement dropped."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = []
    for statement in statements:
        condition = statement.get("Condition")
        if not condition:
            kept.append(statement)
            continue
        if _condition_holds(condition):
            kept.append({k: v for k, v in statement.items() if k != "Condition"})
    document["Statement"] = kept
    return json.dumps(document)


def _patch_s3_bucket_policy_conditions() -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        raw = self.policy.decode() if isinstance(self.policy, bytes) else str(self.policy)
        return IAMPolicy(effective_policy(raw)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


# --- SQS ------------------------------------------------------------------------------------


def _patch_sqs_redrive_allow_policy() -> None:
    from moto.sqs.models import Queue

    original: property = Queue.__dict__["attributes"]

    def attributes(self: Queue) -> dict[str, Any]:
        result: dict[str, Any] = original.fget(self) if original.fget else {}
        allow = getattr(self, "redrive_allow_policy", None)
        if allow:
            result["RedriveAllowPolicy"] = allow if isinstance(allow, str) else json.dumps(allow)
        return result

    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]


class _MetadataOnlyMappings(dict[str, Any]):
    """A queue's event-source mappings that moto never delivers to (the local runner does)."""

    def items(self) -> Any:  # moto iterates .items() on every SendMessage
        return iter(())


def _patch_sqs_event_source_delivery() -> None:
    from moto.sqs.models import Queue

    original_init = Queue.__init__

    def __init__(self: Queue, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.lambda_event_source_mappings = _MetadataOnlyMappings()

    Queue.__init__ = __init__  # type: ignore[method-assign]


# --- CodeBuild ------------------------------------------------------------------------------


def _patch_codebuild_pipeline_sources() -> None:
    from moto.codebuild import responses

    validate_source = responses._validate_required_params_source
    validate_artifacts = responses._validate_required_params_artifacts

    def source(source: dict[str, Any]) -> None:
        if source.get("type") in ("CODEPIPELINE", "NO_SOURCE") and not source.get("location"):
            source = {**source, "location": "<pipeline>"}
        validate_source(source)

    def artifacts(artifacts: dict[str, Any]) -> None:
        if artifacts.get("type") == "CODEPIPELINE" and not artifacts.get("location"):
            artifacts = {**artifacts, "location": "<pipeline>"}
        validate_artifacts(artifacts)

    responses._validate_required_params_source = source
    responses._validate_required_params_artifacts = artifacts
