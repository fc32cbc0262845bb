"""The enforcement hook of the local cloud: authorize each AWS request before the emulator and moto.

``IamEnforcer.enforce(environ)`` answers None (go on; the caller's ``Principal`` is then in
``environ["gtlocal.principal"]``) or the error response AWS gives for a refused request.
Root callers (any credentials that moto's STS or IAM did not issue) cost one dictionary look-up.

Mode: ``enforce`` (default) or ``off``, from ``GTLOCAL_IAM`` or ``gtlocal serve --iam``, changed at
run time by ``POST /_localcloud/iam/settings``; a moto reset (``POST /moto-api/reset``, as the test
fixtures do before each test) puts it back to the process default and clears the in-memory record.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.wrappers import Response

from gtlocal.iam import resources
from gtlocal.iam.policy import AuthzRequest, Caller, Decision, evaluate, service_caller
from gtlocal.iam.principals import Principal, Principals, TokenError, signature_of
from gtlocal.iam.record import Recorder
from gtlocal.iam.requests import Call, authorize, identify

LOG = logging.getLogger("gtlocal.iam")

MODES = ("enforce", "off")
ENV_MODE = "GTLOCAL_IAM"
ENV_LOG = "GTLOCAL_IAM_LOG"

_current: IamEnforcer | None = None
_current_lock = threading.Lock()


def current() -> IamEnforcer | None:
    """The enforcer of this process's local cloud (the delivery patches consult it)."""
    return _current


def default_mode() -> str:
    mode = os.environ.get(ENV_MODE, "enforce").strip().lower() or "enforce"
    if mode not in MODES:
        raise ValueError(f"{ENV_MODE} must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


# --- deciding -------------------------------------------------------------------------------------


def caller_context(caller: Caller, region: str) -> dict[str, tuple[str, ...]]:
    """Global condition keys every request carries (reference_policies_condition-keys.html).

    ``aws:SecureTransport`` is true: the local endpoint stands in for AWS's HTTPS endpoints."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    context: dict[str, tuple[str, ...]] = {
        "aws:securetransport": ("true",),
        "aws:requestedregion": (region,),
        "aws:currenttime": (now.strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "aws:epochtime": (str(int(now.timestamp())),),
    }
    if caller.kind in ("role", "user", "root"):
        context["aws:principalaccount"] = (caller.account,)
        context["aws:principalarn"] = (caller.role_arn or caller.arn,)
        context["aws:principaltype"] = (
            {"role": "AssumedRole", "user": "User", "root": "Account"}[caller.kind],
        )
        if caller.kind == "user":
            context["aws:username"] = (caller.arn.rsplit("/", 1)[-1],)
    elif caller.kind == "service":
        context["aws:principalservicename"] = (caller.service,)
    return context


def _resource_policy(request: AuthzRequest, region: str, account: str) -> tuple[Any, bool, str | None]:
    """(resource policy, must it allow, resource account) for the request's resource."""
    resource, action = request.resource, request.action
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return None, False, None
    service, res_region, res_account, name = parts[2], parts[3] or region, parts[4], parts[5]
    if service == "kms" and name.startswith("key/"):
        key = resources.kms_key(res_account or account, res_region, resource)
        return (key.policy if key else None), True, res_account or None
    if service == "iam" and name.startswith("role/") and action.lower() == "sts:assumerole":
        role = resources.role_by_arn(res_account or account, resource)
        return (resources.trust_policy(role) if role is not None else None), True, res_account or None
    if service == "s3":
        bucket = name.split("/", 1)[0]
        return resources.bucket_policy(account, bucket), False, None
    if service == "sqs":
        return resources.queue_policy(res_account, res_region, name), False, res_account or None
    if service == "sns":
        return resources.topic_policy(res_account, res_region, resource), False, res_account or None
    return None, False, res_account or None


def decide(
    principal: Principal,
    request: AuthzRequest,
    principals: Principals,
    region: str,
) -> Decision:
    caller = principal.caller
    if not caller.restricted:
        return Decision(True, "allowed", request.action, request.resource)
    policy, required, resource_account = _resource_policy(request, region, caller.account)
    identity = principals.identity_policies(principal) if caller.kind in ("role", "user") else []
    return evaluate(
        request,
        caller,
        identity,
        policy,
        required_resource_policy=required,
        resource_account=resource_account,
        boundary=principals.boundary(principal) if identity else None,
        session_policies=principals.session_policies(principal),
    )


def with_context(request: AuthzRequest, extra: Mapping[str, Sequence[str]]) -> AuthzRequest:
    merged = {k: tuple(v) for k, v in extra.items()}
    merged.update(request.context)
    return AuthzRequest(request.action, request.resource, merged)


# --- error responses ------------------------------------------------------------------------------

_JSON_CODES = {"sqs": None, "cloudwatch": None}
_PREFIX_OF = {"monitoring": "cloudwatch"}
_LOG_GROUP_KEY_TARGETS = {
    "Logs_20140328.CreateLogGroup",
    "Logs_20140328.AssociateKmsKey",
}  # query-compatible JSON: code in x-amzn-query-error


def _xml_escape(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text, {'"': "&quot;"})


def error_response(service: str, protocol: str, code: str, message: str, status: int) -> Response:
    request_id = str(uuid.uuid4())
    if protocol == "json":
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}
        if service in _JSON_CODES:
            headers["x-amzn-query-error"] = f"{code};Sender"
        body = json.dumps({"__type": code, "message": message})
        return Response(body, status=status, headers=headers, content_type="application/x-amz-json-1.0")
    if protocol == "rest-json":
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}
        return Response(
            json.dumps({"Type": "User", "Message": message}),
            status=status,
            headers=headers,
            content_type="application/json",
        )
    if protocol == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{_xml_escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>gtlocal</HostId></Error>"
        )
        return Response(
            body, status=status, headers={"x-amz-request-id": request_id}, content_type="application/xml"
        )
    body = (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{_xml_escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return Response(body, status=status, headers={"x-amzn-RequestId": request_id}, content_type="text/xml")


def _protocol(call: Call | None, environ: Mapping[str, Any]) -> str:
    if environ.get("HTTP_X_AMZ_TARGET") or str(environ.get("PATH_INFO", "")).startswith("/service/"):
        return "json"
    if call is not None and call.service == "s3":
        return "s3"
    if call is not None and call.service == "lambda":
        return "rest-json"
    return "query"


def denial(call: Call | None, protocol: str, decision: Decision, caller: Caller) -> Response:
    """The error AWS answers for a refused request, in the service's protocol.

    - JSON services: ``AccessDeniedException`` (HTTP 400); SQS and CloudWatch (query-compatible
      JSON): ``AccessDenied`` (403, also in ``x-amzn-query-error``);
    - query services: ``AccessDenied`` (403); SNS ``AuthorizationError`` (403);
    - S3: ``AccessDenied`` (403); Lambda: ``AccessDeniedException`` (403);
    - an implicit KMS permission refused: SQS ``KmsAccessDenied`` (400), SNS ``KMSAccessDenied``
      (400) — the error lists of SendMessage/ReceiveMessage and Publish — S3 ``AccessDenied``.
    """
    message = decision.message(caller)
    service = call.service if call is not None else ""
    implicit_kms = decision.action.startswith("kms:") and service in ("sqs", "sns")
    if implicit_kms:
        code = "KmsAccessDenied" if service == "sqs" else "KMSAccessDenied"
        return error_response(service, protocol, code, message, 400)
    if protocol == "json":
        if service in _JSON_CODES:
            return error_response(service, protocol, "AccessDenied", message, 403)
        return error_response(service, protocol, "AccessDeniedException", message, 400)
    if protocol == "rest-json":
        return error_response(service, protocol, "AccessDeniedException", message, 403)
    if protocol == "s3":
        return error_response(service, protocol, "AccessDenied", message, 403)
    code = "AuthorizationError" if service == "sns" else "AccessDenied"
    return error_response(service, protocol, code, message, 403)


def _token_error(service: str, protocol: str, err: TokenError) -> Response:
    if protocol == "s3":
        code = "ExpiredToken" if err.code == "ExpiredToken" else "InvalidToken"
        return error_response(service, protocol, code, err.message, 400)
    if protocol == "json" and service not in _JSON_CODES:
        code = "ExpiredTokenException" if err.code == "ExpiredToken" else "UnrecognizedClientException"
        return error_response(service, protocol, code, err.message, 400)
    return error_response(
        service, protocol, err.code, err.message, 400 if err.code == "ExpiredToken" else 403
    )


# --- the enforcer ---------------------------------------------------------------------------------


class IamEnforcer:
    def __init__(self, mode: str | None = None, log_path: str | None = None) -> None:
        global _current
        self.default_mode = mode or default_mode()
        if self.default_mode not in MODES:
            raise ValueError(f"IAM mode must be one of {', '.join(MODES)}, got {self.default_mode!r}")
        self.mode = self.default_mode
        self.kms_source_context = True  # see gtlocal.iam.deliveries
        # CloudWatch Logs checks a log group's KMS key policy for every caller (_log_group_key).
        self.log_group_keys = True
        self.principals = Principals()
        self.default_log = log_path if log_path is not None else os.environ.get(ENV_LOG)
        self.recorder = Recorder(self.default_log)
        with _current_lock:
            _current = self

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce"

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode

    def control(self, request: Any) -> Response:
        """Answer a ``/_localcloud/iam/...`` request (``gtlocal.iam.control``)."""
        from gtlocal.iam import control

        return control.handle(self, request)

    def reset(self) -> None:
        """After a moto reset: forget resolved keys and recorded calls; default settings again."""
        self.principals.reset()
        self.recorder.clear()
        if self.recorder.path != self.default_log:
            self.recorder.set_path(self.default_log)
        self.mode = self.default_mode
        self.kms_source_context = True
        self.log_group_keys = True

    def enforce(self, environ: dict[str, Any]) -> Response | None:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api/reset"):
            self.reset()
            return None
        if not self.enforcing or path.startswith("/moto-api"):
            return None
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        signature = signature_of(environ, query)
        try:
            principal = self.principals.resolve(signature)
        except TokenError as err:
            service = (
                "s3"
                if not environ.get("HTTP_X_AMZ_TARGET") and signature.service == "s3"
                else signature.service
            )
            protocol = "s3" if service == "s3" else _protocol(None, environ)
            return _token_error(_PREFIX_OF.get(service, service), protocol, err)
        environ["gtlocal.principal"] = principal
        caller = principal.caller
        if self.log_group_keys and environ.get("HTTP_X_AMZ_TARGET") in _LOG_GROUP_KEY_TARGETS:
            refused = self._log_group_key(environ, signature.region, caller.account)
            if refused is not None:
                return refused
        if not caller.restricted:
            return None
        if caller.kind == "anonymous" and (
            environ.get("HTTP_X_AMZ_TARGET") or "Action=" in environ.get("QUERY_STRING", "")
        ):
            return None  # only S3 serves unsigned requests; other services refuse them themselves
        body = self._body(environ, signature.service)
        call = identify(environ, body, query, signature.service, signature.region, caller.account)
        if call is None:
            return None
        return self.authorize_call(call, principal, _protocol(call, environ))

    def authorize_call(self, call: Call, principal: Principal, protocol: str) -> Response | None:
        caller = principal.caller
        mapped = authorize(call)
        call_id = str(uuid.uuid4())
        common = caller_context(caller, call.region)
        if mapped.unknown:
            action = call.name if call.operation else f"{call.service}:<unrecognised request>"
            decision = Decision(
                False,
                "unknown-operation",
                action,
                "*",
                detail=(
                    "the local cloud does not model the IAM authorization of this operation, so it "
                    "refuses it for a restricted principal (add it to gtlocal/iam/requests.py)"
                ),
            )
            self.recorder.record("call", call_id, call.name, caller, decision, common)
            LOG.warning("IAM: %s", decision.message(caller))
            return denial(call, protocol, decision, caller)
        for check in mapped.checks:
            request = with_context(check, common)
            decision = decide(principal, request, self.principals, call.region)
            self.recorder.record("call", call_id, call.name, caller, decision, request.context)
            if not decision.allowed:
                LOG.info("IAM denied: %s", decision.message(caller))
                return denial(call, protocol, decision, caller)
        return None

    def _log_group_key(self, environ: dict[str, Any], region: str, account: str) -> Response | None:
        """CloudWatch Logs uses a log group's KMS key as the service principal
        ``logs.<region>.amazonaws.com`` with the encryption context ``aws:logs:arn`` = the log
        group ARN; CreateLogGroup / AssociateKmsKey fail (for every caller, root included) when the
        key policy does not allow it: "The specified KMS key does not exist or is not allowed to be
        used with Arn ..." (AccessDeniedException, HTTP 400) —
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"""
        try:
            params = json.loads(self._body(environ, "logs") or b"{}")
        except ValueError:
            return None
        key_id, group = params.get("kmsKeyId"), params.get("logGroupName")
        if not isinstance(key_id, str) or not key_id or not isinstance(group, str):
            return None
        group_arn = f"arn:{resources._partition(region)}:logs:{region}:{account}:log-group:{group}"
        key = resources.kms_key(account, region, key_id)
        service = f"logs.{region}.amazonaws.com"
        caller = service_caller(service, account)
        allowed = key is not None
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            if not allowed or key is None:
                break
            context = {
                "aws:principalservicename": (service,),
                "kms:encryptioncontext:aws:logs:arn": (group_arn,),
                "kms:encryptioncontextkeys": ("aws:logs:arn",),
            }
            request = AuthzRequest(action, key.arn, context)
            decision = evaluate(request, caller, (), key.policy, required_resource_policy=True)
            operation = "logs:" + str(environ.get("HTTP_X_AMZ_TARGET", "")).partition(".")[2]
            self.recorder.record("delivery", str(uuid.uuid4()), operation, caller, decision, context)
            allowed = decision.allowed
        if allowed:
            return None
        message = f"The specified KMS key does not exist or is not allowed to be used with Arn '{group_arn}'"
        LOG.info("IAM: %s", message)
        return error_response("logs", "json", "AccessDeniedException", message, 400)

    @staticmethod
    def _body(environ: dict[str, Any], service: str) -> bytes:
        """Read the body for the parameters, and give moto an identical stream. S3 bodies (objects)
        are not read, except the small XML of DeleteObjects."""
        if service == "s3" and "delete" not in environ.get("QUERY_STRING", ""):
            return b""
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        length = environ.get("CONTENT_LENGTH")
        if length:
            body = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):
            body = stream.read()
        else:
            return b""
        environ["wsgi.input"] = io.BytesIO(body)
        return bytes(body)

    # --- for the emulator (in-process) ------------------------------------------------------------

    def check(
        self,
        principal: Principal,
        action: str,
        resource: str,
        context: Mapping[str, Sequence[str]] | None = None,
        region: str = "us-east-1",
        operation: str = "",
    ) -> Decision:
        """Decide one permission for ``principal`` (recorded like a call)."""
        caller = principal.caller
        request = with_context(
            AuthzRequest(action, resource, {k.lower(): tuple(v) for k, v in (context or {}).items()}),
            caller_context(caller, region),
        )
        if not self.enforcing:
            return Decision(True, "allowed", action, resource)
        decision = decide(principal, request, self.principals, region)
        if caller.restricted:
            self.recorder.record(
                "call", str(uuid.uuid4()), operation or action, caller, decision, request.context
            )
        return decision


def check(
    principal: Principal,
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]] | None = None,
    region: str = "us-east-1",
) -> Decision:
    """``iam.check``: decide one permission with this process's enforcer (allowed when none runs)."""
    enforcer = current()
    if enforcer is None:
        return Decision(True, "allowed", action, resource)
    return enforcer.check(principal, action, resource, context, region)
