"""The IAM call recorder: every evaluated authorization of a restricted principal, and every
service-principal delivery, as one JSON line.

Written to the file named by ``GTLOCAL_IAM_LOG`` (appended, one line per authorization, flushed
at once) and kept in memory (the last ``KEEP`` entries, for ``GET /_localcloud/iam/calls`` and
``/denials``). One API call that needs several permissions (CopyObject: ``s3:GetObject`` on the
source and ``s3:PutObject`` on the target; an SSE-KMS read: ``s3:GetObject`` and ``kms:Decrypt``)
writes one line per permission, all with the same ``call_id``.

Line format (keys always present, ``null`` where not applicable)::

    {"time": "2026-11-28T08:00:00.123456+00:00", "kind": "call" | "delivery",
     "call_id": "…", "operation": "sqs:SendMessageBatch",
     "principal": "arn:aws:sts::123456789012:assumed-role/<role>/<session>" | "events.amazonaws.com",
     "principal_type": "role" | "user" | "service" | "anonymous", "role": "<role name>" | null,
     "action": "sqs:SendMessage", "resource": "arn:aws:sqs:…", "context": {"aws:sourcearn": ["…"]},
     "decision": "allow" | "deny",
     "reason": "allowed" | "explicit-deny" | "implicit-deny" | "unknown-operation",
     "allowed_by": [{"policy": "…", "sid": "…", "effect": "Allow"}], "denied_by": [...],
     "delegated_by": [...], "message": "User: … is not authorized …" | null}

``allowed_by`` lists *every* statement that allowed the request (identity and resource policy),
so a coverage report can tell which statements a call needs; ``delegated_by`` those of them that
allowed only together with an identity statement (a key policy naming the account).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from gtlocal.iam.policy import Caller, Decision

KEEP = 10_000


class Recorder:
    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self._file: IO[str] | None = None
        self.path: str | None = None
        self.set_path(path)

    def set_path(self, path: str | None) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self.path = path or None
            if self.path:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open

    def record(
        self,
        kind: str,
        call_id: str,
        operation: str,
        caller: Caller,
        decision: Decision,
        context: Mapping[str, Sequence[str]],
    ) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(),
            "kind": kind,
            "call_id": call_id,
            "operation": operation,
            "principal": caller.arn,
            "principal_type": caller.kind,
            "role": caller.role_name or None,
            "action": decision.action,
            "resource": decision.resource,
            "context": {k: list(v) for k, v in context.items()},
            "decision": "allow" if decision.allowed else "deny",
            "reason": decision.reason,
            "allowed_by": [ref.as_dict() for ref in decision.allowed_by],
            "denied_by": [ref.as_dict() for ref in decision.denied_by],
            "delegated_by": [ref.as_dict() for ref in decision.delegated_by],
            "message": None if decision.allowed else decision.message(caller),
        }
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock:
            self._entries.append(entry)
            if self._file is not None:
                self._file.write(line)
                self._file.flush()

    def entries(
        self, role: str | None = None, denied_only: bool = False, limit: int | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            found = [
                e
                for e in self._entries
                if (role is None or e["role"] == role) and (not denied_only or e["decision"] == "deny")
            ]
        return found[-limit:] if limit else found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        self.set_path(None)
