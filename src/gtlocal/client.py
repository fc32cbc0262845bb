"""``GroundTruthControl``: a small Python client for the control API (see README.md here)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class ControlApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class GroundTruthControl:
    """Drive the simulated workforce and the emulated clock of a running local cloud."""

    def __init__(self, endpoint: str, timeout: float = 30.0) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, root: str = "_groundtruth"
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            f"{self.endpoint}/{root}/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                message = json.loads(raw).get("error", raw.decode())
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace")
            raise ControlApiError(err.code, message) from None

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "health")
        return result

    def job(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"jobs/{name}")
        return result

    def jobs(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "jobs")["jobs"]
        return result

    def workforce(
        self, job_name: str, label: int = 0, decline: int = 0, fail: int = 0, return_: int = 0
    ) -> dict[str, int]:
        """Workers act on the oldest available objects; ``return_`` is the body's ``return``."""
        body: dict[str, Any] = {"job_name": job_name, "label": label, "decline": decline, "fail": fail}
        if return_:
            body["return"] = return_
        result: dict[str, int] = self.request("POST", "workforce", body)
        return result

    def advance_clock(self, seconds: float) -> float:
        return float(self.request("POST", "clock", {"advance_seconds": seconds})["now"])

    def now(self) -> float:
        return float(self.request("GET", "clock")["now"])

    def tick(self) -> None:
        self.request("POST", "tick")

    def settings(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "settings")
        return result

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "settings", changes)
        return result

    def reset(self) -> None:
        self.request("POST", "reset")

    def fail_job(self, name: str, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"jobs/{name}/fail", {"reason": reason})
        return result

    # --- IAM enforcement (/_localcloud/iam/) ------------------------------------------------------

    def iam_settings(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "settings", root="_localcloud/iam")
        return result

    def update_iam_settings(self, **changes: Any) -> dict[str, Any]:
        """``mode="enforce" | "off"``, ``kms_source_context`` / ``log_group_keys`` (bools), ``log`` (path
        or None); see src/gtlocal/README.md, "IAM enforcement"."""
        result: dict[str, Any] = self.request("POST", "settings", changes, root="_localcloud/iam")
        return result

    def service_credentials(
        self,
        role_arn: str,
        service: str,
        source_account: str | None = None,
        source_arn: str | None = None,
        session_name: str | None = None,
        region: str | None = None,
    ) -> dict[str, str]:
        """Credentials of ``role_arn`` as AWS service ``service`` assumes it (``lambda.amazonaws.com``,
        ``sagemaker.amazonaws.com``), after its trust policy allowed it; ControlApiError 403 if not."""
        body: dict[str, Any] = {"role_arn": role_arn, "service": service}
        for key, value in (
            ("source_account", source_account),
            ("source_arn", source_arn),
            ("session_name", session_name),
            ("region", region),
        ):
            if value is not None:
                body[key] = value
        result: dict[str, str] = self.request("POST", "service-credentials", body, root="_localcloud/iam")
        return result

    def iam_calls(self, role: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        return self._iam_list("calls", role, limit)

    def iam_denials(self, role: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        return self._iam_list("denials", role, limit)

    def _iam_list(self, kind: str, role: str | None, limit: int | None) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({k: v for k, v in (("role", role), ("limit", limit)) if v is not None})
        result: list[dict[str, Any]] = self.request(
            "GET", f"{kind}?{query}" if query else kind, root="_localcloud/iam"
        )[kind]
        return result

    # --- pipelines (/_localcloud/pipelines/) --------------------------------------------------------

    def wait_for_pipelines(self, timeout: float = 600.0) -> bool:
        """Block until no CodeCommit event delivery, pipeline execution or build is queued or running
        (``POST /_localcloud/pipelines/wait``); False if ``timeout`` seconds passed first."""
        waiting = GroundTruthControl(self.endpoint, timeout=timeout + 30)
        answer = waiting.request("POST", "wait", {"timeout": timeout}, root="_localcloud/pipelines")
        return bool(answer["idle"])

    def build_log(self, build_id: str) -> str:
        """The log of a build the local cloud ran, as its log stream holds it."""
        req = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            f"{self.endpoint}/_localcloud/pipelines/builds/{urllib.parse.quote(build_id)}/log"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                return str(resp.read().decode())
        except urllib.error.HTTPError as err:
            raise ControlApiError(err.code, err.read().decode(errors="replace")) from None

    # --- fault injection (/_localcloud/faults) ----------------------------------------------------

    def inject_call_fault(
        self,
        service: str,
        operation: str,
        kind: str = "throttle",
        count: int = 1,
        seconds: float | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> dict[str, Any]:
        """The next ``count`` calls of ``service:operation`` (IAM prefix, API operation) get ``kind``:
        ``throttle``, ``error`` (500), ``lose-response`` (applied, no answer), ``delay`` (``seconds``
        of real time) or ``kill`` (the runner's handler process dies there); see
        src/gtlocal/README.md, "Fault injection"."""
        body: dict[str, Any] = {"service": service, "operation": operation, "kind": kind, "count": count}
        for key, value in (("seconds", seconds), ("code", code), ("status", status)):
            if value is not None:
                body[key] = value
        result: dict[str, Any] = self.request("POST", "calls", body, root="_localcloud/faults")
        return result

    def inject_event_fault(
        self, action: str, events: str = "state", count: int = 1, seconds: float = 0.0, reverse: bool = False
    ) -> dict[str, Any]:
        """The next ``count`` labeling-job events (``state``, ``task``, ``any``) are ``lose``-t, or
        ``delay``-ed by ``seconds`` of the emulated clock (``reverse``: delivered newest first)."""
        body: dict[str, Any] = {"action": action, "events": events, "count": count, "reverse": reverse}
        if seconds:
            body["seconds"] = seconds
        result: dict[str, Any] = self.request("POST", "events", body, root="_localcloud/faults")
        return result

    def faults(self) -> dict[str, Any]:
        """``{"calls": pending call faults, "injected": [...], "events": {...}}``."""
        result: dict[str, Any] = self.request("GET", "", root="_localcloud/faults")
        return result

    def clear_faults(self) -> None:
        self.request("DELETE", "", root="_localcloud/faults")
