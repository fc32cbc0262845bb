"""Control routes of IAM enforcement, under ``/_localcloud/iam/``: ``settings`` (GET/POST),
``service-credentials`` (POST), ``calls`` and ``denials`` (GET). The table of routes, bodies and
answers is in src/gtlocal/README.md ("IAM enforcement")."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from gtlocal.iam.enforce import IamEnforcer
from gtlocal.iam.principals import AssumeRoleError, assume_role_as_service

PREFIX = "/_localcloud/iam"
_CREDENTIAL_FIELDS = {
    "role_arn",
    "service",
    "source_account",
    "source_arn",
    "session_name",
    "region",
    "duration_seconds",
}


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _body(request: Request) -> dict[str, Any]:
    raw = request.get_data(as_text=True) or "{}"
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def handle(enforcer: IamEnforcer, request: Request) -> Response:
    route = request.path[len(PREFIX) :].strip("/")
    try:
        if route == "settings":
            if request.method == "POST":
                body = _body(request)
                unknown = set(body) - {"mode", "kms_source_context", "log_group_keys", "log"}
                if unknown:
                    known = "mode, kms_source_context, log_group_keys, log"
                    return _error(400, f"unknown settings: {', '.join(sorted(unknown))} (known: {known})")
                if "log" in body:
                    if body["log"] is not None and not isinstance(body["log"], str):
                        return _error(400, "log must be a file path or null")
                    enforcer.recorder.set_path(body["log"])
                for flag in ("kms_source_context", "log_group_keys"):
                    if flag in body:
                        if not isinstance(body[flag], bool):
                            return _error(400, f"{flag} must be true or false")
                        setattr(enforcer, flag, body[flag])
                if "mode" in body:
                    enforcer.set_mode(str(body["mode"]))
            elif request.method != "GET":
                return _error(405, "use GET or POST")
            return _json(
                {
                    "mode": enforcer.mode,
                    "default_mode": enforcer.default_mode,
                    "kms_source_context": enforcer.kms_source_context,
                    "log_group_keys": enforcer.log_group_keys,
                    "log": enforcer.recorder.path,
                }
            )
        if route == "service-credentials":
            if request.method != "POST":
                return _error(405, "use POST")
            body = _body(request)
            unknown = set(body) - _CREDENTIAL_FIELDS
            if unknown:
                return _error(400, f"unknown fields: {', '.join(sorted(unknown))}")
            for name in ("role_arn", "service"):
                if not isinstance(body.get(name), str) or not body[name]:
                    return _error(400, f"{name} is required (a string)")
            duration = body.get("duration_seconds", 3600)
            if not isinstance(duration, int) or not 900 <= duration <= 43200:
                return _error(400, "duration_seconds must be an integer from 900 to 43200")
            credentials = assume_role_as_service(
                body["role_arn"],
                body["service"],
                source_account=body.get("source_account"),
                source_arn=body.get("source_arn"),
                session_name=body.get("session_name"),
                region=body.get("region") or "us-east-1",
                duration_seconds=duration,
            )
            return _json(credentials)
        if route in ("calls", "denials"):
            if request.method != "GET":
                return _error(405, "use GET")
            role = request.args.get("role") or None
            limit_text = request.args.get("limit")
            limit = int(limit_text) if limit_text else None
            if limit is not None and limit < 1:
                return _error(400, "limit must be a positive integer")
            entries = enforcer.recorder.entries(role=role, denied_only=route == "denials", limit=limit)
            return _json({route: entries})
        return _error(404, f"no such route: {request.path}")
    except AssumeRoleError as err:
        return _json({"error": err.message, "code": err.code}, err.status)
    except ValueError as err:
        return _error(400, str(err))
