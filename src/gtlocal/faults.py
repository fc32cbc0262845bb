"""Fault injection: make the next N calls of one service operation fail, and events go astray.

Two kinds of fault, set through the control API under ``/_localcloud/faults`` (README.md here,
"Fault injection"), both cleared by a moto reset (``/moto-api/reset``) and a control reset
(``/_groundtruth/reset``):

- **call faults** (``CallFaults``): the next ``count`` calls of ``service:operation`` (the IAM
  prefix and the API operation, e.g. ``sns:Publish``, ``dynamodb:UpdateItem``, ``s3:GetObject``,
  ``sagemaker:DescribeLabelingJob``) are answered with
  - ``throttle``: the service's throttling error in its protocol's shape, as its botocore model
    declares it (DynamoDB and SageMaker ``ThrottlingException`` 400, SNS ``Throttled`` 429, SQS
    ``RequestThrottled`` 400, S3 ``SlowDown`` 503);
  - ``error``: the service's internal error, HTTP 500 (DynamoDB ``InternalServerError``, SNS and S3
    ``InternalError``, the others ``InternalFailure``);
  - ``lose-response``: the call *is applied*, then the connection closes without an answer (what a
    client sees when its read times out after the service acted);
  - ``delay``: the call waits ``seconds`` of real time, then is applied and answered;
  - ``kill``: the process that made the call dies there (SIGKILL: no ``finally``, no ``except``):
    the call is answered with the service's internal error marked ``X-Localcloud-Fault: kill``,
    which the runner's handler process (``gtlocal.runner``, a forked child per invocation while a
    kill is pending) takes as its death; any other client sees the 500.
  The call is not applied for ``throttle``, ``error`` and ``kill``.
- **event faults** (``EventFaults``, applied by the Ground Truth emulator): the next ``count``
  labeling-job events of a kind (``state``, ``task`` or ``any``) are ``lose``-t (never delivered:
  only the reconciler sees the end) or ``delay``-ed by ``seconds`` of the *emulated* clock, and
  optionally delivered newest first (``reverse``: out of order).

Duplicated events (x5) are the emulator setting ``duplicate_events``.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.wrappers import Response

from gtlocal.errors import ControlError

CALL_KINDS = ("throttle", "error", "lose-response", "delay", "kill")
# The header of a "kill" fault's answer: the handler process that reads it dies (gtlocal.runner).
KILL_HEADER = "X-Localcloud-Fault"
EVENT_ACTIONS = ("lose", "delay")
EVENT_KINDS = ("state", "task", "any")
MAX_DELAY_SECONDS = 60.0

# (code, HTTP status) of a throttled call, from each service's botocore model (the error shapes'
# "error" trait) or, where the model has none, the AWS common errors ("Throttling", 400).
_THROTTLE = {
    "dynamodb": ("ThrottlingException", 400),
    "sagemaker": ("ThrottlingException", 400),
    "events": ("ThrottlingException", 400),
    "sns": ("Throttled", 429),
    "sqs": ("RequestThrottled", 400),
    "s3": ("SlowDown", 503),
    "lambda": ("TooManyRequestsException", 429),
}
_INTERNAL = {
    "dynamodb": "InternalServerError",
    "sns": "InternalError",
    "s3": "InternalError",
    "events": "InternalException",
}


@dataclass
class CallFault:
    id: int
    service: str
    operation: str
    kind: str
    count: int
    seconds: float = 0.0
    code: str = ""
    status: int = 0
    injected: int = 0

    def view(self) -> dict[str, Any]:
        return asdict(self)


def _number(data: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ControlError(f"{key} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _count(data: dict[str, Any]) -> int:
    value = data.get("count", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ControlError(f"count must be an integer >= 1, got {value!r}")
    return value


def _name(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ControlError(f"{key} must be a non-empty string, got {value!r}")
    return value


class CallFaults:
    """The pending call faults and what was injected (thread safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[CallFault] = []
        self._next_id = 1
        self.injected: list[dict[str, Any]] = []

    @property
    def active(self) -> bool:
        return bool(self._faults)

    def add(self, data: dict[str, Any]) -> CallFault:
        allowed = {"service", "operation", "kind", "count", "seconds", "code", "status"}
        unknown = set(data) - allowed
        if unknown:
            raise ControlError(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        service, operation = _name(data, "service").lower(), _name(data, "operation")
        kind = data.get("kind", "throttle")
        if kind not in CALL_KINDS:
            raise ControlError(f"kind must be one of {list(CALL_KINDS)}, got {kind!r}")
        code, status = _THROTTLE.get(service, ("Throttling", 400)) if kind == "throttle" else ("", 0)
        if kind in ("error", "kill"):
            code, status = _INTERNAL.get(service, "InternalFailure"), 500
        if "code" in data:
            code = _name(data, "code")
        if "status" in data:
            status = int(_number(data, "status", 500, 400, 599))
        fault = CallFault(
            0,
            service,
            operation,
            kind,
            _count(data),
            _number(data, "seconds", 0.0, 0.0, MAX_DELAY_SECONDS),
            code,
            status,
        )
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def take(self, service: str, operation: str) -> CallFault | None:
        """The fault for this call, if one is pending (it counts the call)."""
        with self._lock:
            for fault in self._faults:
                if fault.service == service and fault.operation == operation and fault.count > 0:
                    fault.count -= 1
                    fault.injected += 1
                    call = f"{service}:{operation}"
                    self.injected.append({"id": fault.id, "call": call, "kind": fault.kind})
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.view() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.injected.clear()


@dataclass
class EventFault:
    id: int
    action: str
    events: str
    count: int
    seconds: float = 0.0
    reverse: bool = False
    injected: int = 0


@dataclass
class _Held:
    due: float
    seq: int
    reverse: bool
    deliver: Any  # the emulator's callable that puts the entries on the bus
    entries: list[dict[str, Any]] = field(default_factory=list)


class EventFaults:
    """Event faults of the Ground Truth emulator: lose or hold (on the emulated clock) its events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[EventFault] = []
        self._held: list[_Held] = []
        self._next_id = 1
        self._seq = 0
        self.lost = 0
        self.delivered_late = 0

    def add(self, data: dict[str, Any]) -> EventFault:
        allowed = {"action", "events", "count", "seconds", "reverse"}
        unknown = set(data) - allowed
        if unknown:
            raise ControlError(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        action, events = data.get("action"), data.get("events", "state")
        if action not in EVENT_ACTIONS:
            raise ControlError(f"action must be one of {list(EVENT_ACTIONS)}, got {action!r}")
        if events not in EVENT_KINDS:
            raise ControlError(f"events must be one of {list(EVENT_KINDS)}, got {events!r}")
        reverse = data.get("reverse", False)
        if not isinstance(reverse, bool):
            raise ControlError(f"reverse must be a boolean, got {reverse!r}")
        seconds = _number(data, "seconds", 0.0, 0.0, 400 * 86_400.0)
        if action == "delay" and seconds <= 0:
            raise ControlError("a delay needs seconds > 0 (of the emulated clock)")
        fault = EventFault(0, action, events, _count(data), seconds, reverse)
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def route(self, kind: str, entries: list[dict[str, Any]], now: float, deliver: Any) -> bool:
        """Apply a pending fault to one event (``entries``: its copies); True when it took it."""
        with self._lock:
            for fault in self._faults:
                if fault.events in (kind, "any") and fault.count > 0:
                    fault.count -= 1
                    fault.injected += 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    if fault.action == "lose":
                        self.lost += 1
                    else:
                        self._seq += 1
                        held = _Held(now + fault.seconds, self._seq, fault.reverse, deliver, entries)
                        self._held.append(held)
                    return True
        return False

    def due(self, now: float) -> list[_Held]:
        """The held events due at ``now``, in delivery order (``reverse``: newest first)."""
        with self._lock:
            ready = [h for h in self._held if h.due <= now]
            self._held = [h for h in self._held if h.due > now]
            self.delivered_late += len(ready)
        forward = sorted((h for h in ready if not h.reverse), key=lambda h: h.seq)
        backward = sorted((h for h in ready if h.reverse), key=lambda h: -h.seq)
        return forward + backward

    def view(self) -> dict[str, Any]:
        with self._lock:
            return {
                "pending": [asdict(f) for f in self._faults],
                "held": len(self._held),
                "lost": self.lost,
                "delivered_late": self.delivered_late,
            }

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._held.clear()
            self.lost = 0
            self.delivered_late = 0


def fault_response(service: str, protocol: str, fault: CallFault) -> Response:
    """The error of a ``throttle``, ``error`` or ``kill`` fault, in the protocol of the service."""
    from gtlocal.iam.enforce import error_response

    message = f"injected by the local cloud: {fault.kind} fault {fault.id}"
    response = error_response(service, protocol, fault.code, message, fault.status)
    if protocol == "query" and fault.status >= 500:
        response.set_data(response.get_data().replace(b"<Type>Sender</Type>", b"<Type>Receiver</Type>"))
    if fault.kind == "kill":
        response.headers[KILL_HEADER] = "kill"
    return response


def apply_delay(fault: CallFault) -> None:
    time.sleep(fault.seconds)  # a "delay" fault is real time by definition (the client's timeouts)


def parse_query(environ: dict[str, Any]) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)


def _json(payload: Any, status: int = 200) -> Response:
    import json

    return Response(json.dumps(payload), status=status, content_type="application/json")


def control(calls: CallFaults, events: EventFaults, request: Any) -> Response:
    """Answer a ``/_localcloud/faults`` request (README.md here, "Fault injection")."""
    import json

    path = request.path[len(PREFIX) :].rstrip("/")
    try:
        if request.method == "GET" and path == "":
            view = {"calls": calls.pending(), "injected": list(calls.injected), "events": events.view()}
            return _json(view)
        if request.method == "DELETE" and path == "":
            calls.clear()
            events.clear()
            return _json({"cleared": True})
        if request.method == "POST" and path in ("/calls", "/events"):
            try:
                data = json.loads(request.get_data(as_text=True) or "{}")
            except json.JSONDecodeError as exc:
                raise ControlError(f"request body is not valid JSON: {exc}") from exc
            if not isinstance(data, dict):
                raise ControlError("request body must be a JSON object")
            if path == "/calls":
                return _json(calls.add(data).view(), 201)
            return _json(asdict(events.add(data)), 201)
        raise ControlError(f"no fault operation {request.method} {request.path}", status=404)
    except ControlError as err:
        return _json({"error": err.message}, err.status)


PREFIX = "/_localcloud/faults"
