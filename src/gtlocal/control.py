"""The control API under ``/_groundtruth/``: simulated workforce, clock, settings, reset.

Every answer is JSON; bad input gets a 4xx ``{"error": "..."}``, never a stack trace.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from werkzeug.wrappers import Request, Response

from gtlocal.errors import ControlError
from gtlocal.groundtruth.models import GroundTruthBackend

LOG = logging.getLogger("gtlocal.control")
PREFIX = "/_groundtruth"


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def _body(request: Request, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    raw = request.get_data(as_text=True)
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ControlError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ControlError("request body must be a JSON object")
    unknown = set(data) - allowed
    if unknown:
        raise ControlError(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = required - set(data)
    if missing:
        raise ControlError(f"missing field(s) {sorted(missing)}")
    return data


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ControlError(f"{key} must be a non-negative integer, got {value!r}")
    return value


class ControlApi:
    def __init__(self, emulator: GroundTruthBackend) -> None:
        self.emulator = emulator

    def handle(self, request: Request) -> Response:
        try:
            return self._route(request)
        except ControlError as err:
            return _json({"error": err.message}, err.status)
        except Exception as exc:  # catch-all: a message, never a stack trace
            LOG.exception("control API error")
            return _json({"error": f"internal error: {type(exc).__name__}: {exc}"}, 500)

    def _route(self, request: Request) -> Response:
        path = request.path[len(PREFIX) :].rstrip("/")
        method = request.method
        emu = self.emulator
        if path == "/health" and method == "GET":
            return _json({"status": "ok", "aws_endpoint": emu.aws_endpoint, "jobs": len(emu.jobs)})
        if path == "/clock":
            if method == "GET":
                return _json(self._clock())
            if method == "POST":
                data = _body(request, {"advance_seconds"}, {"advance_seconds"})
                seconds = data["advance_seconds"]
                if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                    raise ControlError(f"advance_seconds must be a non-negative number, got {seconds!r}")
                emu.advance(float(seconds))
                return _json(self._clock())
        if path == "/tick" and method == "POST":
            _body(request, set())
            emu.tick()
            return _json(self._clock())
        if path == "/settings":
            if method == "GET":
                return _json(emu.settings.to_dict())
            if method == "POST":
                data = _body(request, set(emu.settings.to_dict()))
                with emu.lock:
                    emu.settings.update(data)
                    return _json(emu.settings.to_dict())
        if path == "/reset" and method == "POST":
            _body(request, set())
            emu.reset()
            return _json({"reset": True})
        if path == "/workforce" and method == "POST":
            data = _body(request, {"job_name", "label", "decline", "fail", "return"}, {"job_name"})
            name = data["job_name"]
            if not isinstance(name, str) or not name:
                raise ControlError("job_name must be a non-empty string")
            result = emu.workforce(
                name,
                _count(data, "label"),
                _count(data, "decline"),
                _count(data, "fail"),
                _count(data, "return"),
            )
            return _json(result)
        if path == "/jobs" and method == "GET":
            with emu.lock:
                emu.tick()
                jobs = [{"name": j.name, "region": j.region, "status": j.status} for j in emu.jobs.values()]
                return _json({"jobs": jobs})
        if path.startswith("/jobs/"):
            rest = path[len("/jobs/") :]
            if rest.endswith("/fail") and method == "POST":
                data = _body(request, {"reason"})
                reason = data.get("reason", "ClientError: failed by the control API")
                if not isinstance(reason, str) or not reason:
                    raise ControlError("reason must be a non-empty string")
                return _json(emu.fail_job(rest[: -len("/fail")], reason))
            if "/" not in rest and method == "GET":
                with emu.lock:
                    emu.tick()
                    return _json(emu.job_view(rest))
        raise ControlError(f"no control operation {method} {request.path}", status=404)

    def _clock(self) -> dict[str, Any]:
        clock = self.emulator.clock
        return {"now": clock.now(), "offset_seconds": clock.offset}
