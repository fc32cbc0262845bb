"""One threaded WSGI server: control API, Ground Truth emulator, and moto for everything else.

Dispatch, in this order:
- path ``/_groundtruth/...``                     -> control API (``gtlocal.control``)
- path ``/_localcloud/iam/...``                  -> IAM enforcement settings and records (``gtlocal.iam``)
- path ``/_localcloud/pipelines/...``            -> pipeline service control (``gtlocal.pipelines``)
- path ``/v1/repos/<name>/...``                  -> CodeCommit over git's smart HTTP (``gtlocal.pipelines``;
                                                    its own authentication and IAM check)
- path ``/_localcloud/faults...``               -> fault injection (``gtlocal.faults``)
- every AWS request is first authorized by ``gtlocal.iam`` (restricted principals only), then
  meets the pending call faults (``gtlocal.faults``: throttled, failed, delayed, answer lost)
- header ``X-Amz-Target: SageMaker.<emulated op>`` -> Ground Truth emulator
- anything else                                   -> moto in server mode (incl. ``/moto-api/reset``)

The server speaks HTTP/1.1 with persistent connections (``KeepAliveRequestHandler``): botocore
keeps its connections open, so a client pays one TCP connection and one server thread per pooled
connection instead of one per request.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from gtlocal import faults
from gtlocal.control import ControlApi
from gtlocal.groundtruth.models import GroundTruthBackend
from gtlocal.groundtruth.responses import EMULATED_OPERATIONS, GroundTruthResponse
from gtlocal.iam import IamEnforcer

if TYPE_CHECKING:
    from gtlocal.pipelines import PipelineService

LOG = logging.getLogger("gtlocal")

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
DEFAULT_REGION = "us-east-1"

StartResponse = Any
WSGIApp = Any


def region_of(request: Request) -> str:
    """Region from the SigV4 credential scope of the request (default us-east-1)."""
    match = _SCOPE.search(request.headers.get("Authorization", ""))
    return match.group(1) if match else DEFAULT_REGION


class LocalCloudApp:
    """The WSGI application of the local cloud."""

    def __init__(
        self,
        emulator: GroundTruthBackend,
        moto_app: WSGIApp,
        iam: IamEnforcer | None = None,
        pipelines: PipelineService | None = None,
    ) -> None:
        self.emulator = emulator
        self.pipelines = pipelines
        self.iam = iam or IamEnforcer()
        self.control = ControlApi(emulator)
        self.sagemaker = GroundTruthResponse(emulator)
        self.moto_app = moto_app
        self.faults = faults.CallFaults()
        # moto's DynamoDB checks a ConditionExpression and then applies the write without a lock,
        # so two concurrent conditional writes could both succeed. Real DynamoDB makes each item
        # write atomic; serialising DynamoDB requests restores that. (Only DynamoDB: a global lock
        # would stall every request behind an SQS long poll.)
        self._dynamodb_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_groundtruth/") or path == "/_groundtruth":
            if path.rstrip("/") == "/_groundtruth/reset":
                self.faults.clear()
            response = self.control.handle(Request(environ))
            return response(environ, start_response)
        if path.startswith("/_localcloud/iam"):
            return self.iam.control(Request(environ))(environ, start_response)
        if self.pipelines is not None:
            if path.startswith("/_localcloud/pipelines"):
                return self.pipelines.control(Request(environ))(environ, start_response)
            if self.pipelines.git.handles(path):
                return self.pipelines.git(environ, start_response)
            if path.startswith("/moto-api/reset"):
                self.pipelines.reset()
        if path.startswith(faults.PREFIX):
            answer = faults.control(self.faults, self.emulator.event_faults, Request(environ))
            return answer(environ, start_response)
        if path.startswith("/moto-api/reset"):
            self.faults.clear()
            self.emulator.event_faults.clear()
        denied = self.iam.enforce(environ)
        if denied is not None:
            return denied(environ, start_response)
        if self.faults.active:
            injected = self._inject(environ)
            if injected is not None:
                return injected(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, operation = target.partition(".")
        if service == "SageMaker" and operation in EMULATED_OPERATIONS:
            return self._sagemaker(Request(environ))(environ, start_response)
        if target.startswith("DynamoDB_"):
            with self._dynamodb_lock:
                # moto builds the whole response inside the call; materialise it under the lock.
                return list(self.moto_app(environ, start_response))
        result: Iterable[bytes] = self.moto_app(environ, start_response)
        return result

    def _inject(self, environ: dict[str, Any]) -> Response | None:
        """The answer of a pending call fault for this request (None: serve it, perhaps after a
        delay, or marked for its answer to be lost)."""
        from gtlocal.iam.enforce import IamEnforcer, _protocol
        from gtlocal.iam.principals import signature_of
        from gtlocal.iam.requests import identify

        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return None
        query = faults.parse_query(environ)
        signature = signature_of(environ, query)
        body = IamEnforcer._body(environ, signature.service)
        call = identify(environ, body, query, signature.service, signature.region, "")
        if call is None:
            return None
        fault = self.faults.take(call.service, call.operation)
        if fault is None:
            return None
        LOG.info("fault %s: %s %s", fault.id, fault.kind, call.name)
        if fault.kind == "delay":
            faults.apply_delay(fault)
            return None
        if fault.kind == "lose-response":
            environ[LOSE_RESPONSE] = True
            return None
        return faults.fault_response(call.service, _protocol(call, environ), fault)

    def _sagemaker(self, request: Request) -> Response:
        operation = request.headers["X-Amz-Target"].partition(".")[2]
        status, headers, body = self.sagemaker.dispatch(operation, request.get_data(), region_of(request))
        return Response(body, status=status, headers=headers)


# Set in a request's environ by a "lose-response" fault: the request is served, its answer never sent.
LOSE_RESPONSE = "gtlocal.lose_response"
# An idle persistent connection is closed after this many seconds (the client's pool reconnects).
IDLE_CONNECTION_SECONDS = 30
_NO_BODY_STATUSES = frozenset({204, 304})
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


def _read_body(handler: KeepAliveRequestHandler, environ: dict[str, Any]) -> bytes:
    """The whole request body: chunked (werkzeug's dechunking stream) or exactly Content-Length bytes.

    Reading it completely before the application runs is what makes keep-alive safe: the next
    request on the connection starts right after it, whatever the application read."""
    if environ.get("wsgi.input_terminated"):
        data: bytes = environ["wsgi.input"].read()
        return data
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return handler.rfile.read(length) if length > 0 else b""


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler (header names kept as sent) with HTTP/1.1 persistent connections.

    werkzeug's development server answers every request with ``Connection: close``: it cannot
    tell where an unread request body ends. This handler reads the body completely first, buffers
    the application's answer and sends it with its ``Content-Length``, so the connection stays
    open for the client's next request unless the client asks to close it (``Connection: close``,
    or HTTP/1.0 without ``keep-alive``), the application fails, or the connection idles for
    ``IDLE_CONNECTION_SECONDS``."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_SECONDS

    def setup(self) -> None:
        super().setup()
        # Headers and body are two writes: without TCP_NODELAY the body of a small answer can wait
        # for the client's delayed ACK (~40 ms on Linux) once the connection is kept open.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connections = getattr(self.server, "gtlocal_connections", None)
        if connections is not None:
            connections.add(self.connection)

    def finish(self) -> None:
        connections = getattr(self.server, "gtlocal_connections", None)
        if connections is not None:
            connections.discard(self.connection)
        super().finish()

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("Request timed out"):
            return  # an idle persistent connection reached IDLE_CONNECTION_SECONDS: normal
        super().log_error(format, *args)

    def run_wsgi(self) -> None:
        # ``Expect: 100-continue`` was answered by http.server's parse_request (HTTP/1.1).
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(_read_body(self, environ))
        status, headers, body = self._call_application(environ)
        if environ.get(LOSE_RESPONSE):
            self.close_connection = True  # served, and the answer lost (gtlocal.faults)
            return
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        for key, value in headers:
            lowered = key.lower()
            if lowered == "connection" and value.lower() == "close":
                self.close_connection = True
            if lowered in _HOP_BY_HOP and not (lowered == "content-length" and self.command == "HEAD"):
                continue
            self.send_header(key, value)
        has_body = not (100 <= code < 200 or code in _NO_BODY_STATUSES)
        if has_body and self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        elif self.command == "HEAD" and not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", "0")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if has_body and self.command != "HEAD" and body:
            self.wfile.write(body)

    def _call_application(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """Run the WSGI application to completion: (status, headers, body)."""
        started: list[tuple[str, list[tuple[str, str]]]] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [(status, list(headers))]
            return chunks.append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if not started:
                raise AssertionError("the application returned without calling start_response")
        except Exception as exc:
            from werkzeug.debug.tbtools import DebugTraceback

            self.server.log("error", f"Error on request:\n{DebugTraceback(exc).render_traceback_text()}")
            self.close_connection = True
            body = b"Internal Server Error"
            return "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain; charset=utf-8")], body
        status, headers = started[0]
        return status, headers, b"".join(chunks)


def serve_wsgi(host: str, port: int, app: WSGIApp) -> BaseWSGIServer:
    """A bound threaded server for ``app`` with persistent connections (``KeepAliveRequestHandler``)."""
    server = make_server(host, port, app, threaded=True, request_handler=KeepAliveRequestHandler)
    server.gtlocal_connections = set()  # type: ignore[attr-defined]
    return server


def close_connections(server: BaseWSGIServer) -> None:
    """Close the connections ``server`` still holds open (after ``shutdown``, so none are new)."""
    for connection in list(getattr(server, "gtlocal_connections", ())):
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


class LocalCloud:
    """A bound, not yet serving, local cloud (``serve_forever`` runs it).

    Installs ``gtlocal.shims`` (moto patches for what our Terraform modules and CloudFormation
    stacks create) in this process first; they are process-wide, so two local clouds in one
    process share them (the CloudFormation models call the last one's endpoint)."""

    def __init__(
        self,
        host: str,
        port: int,
        aws_endpoint: str | None = None,
        iam_mode: str | None = None,
        data_dir: Path | None = None,
    ) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from gtlocal import pipelines, shims

        def create_app(service: str) -> Any:
            if service == "cloudformation":  # moto's CloudFormation: our models first (shims.py)
                shims.install_cloudformation_models()
            return create_backend_app(service)  # type: ignore[arg-type]

        moto_app = DomainDispatcherApplication(create_app)
        self.emulator = GroundTruthBackend()
        self.iam = IamEnforcer(iam_mode)
        app = LocalCloudApp(self.emulator, moto_app, self.iam)
        self.server: BaseWSGIServer = serve_wsgi(host, port, app)
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}"
        # The CloudFormation models call this process's moto (not a LocalStack given as
        # aws_endpoint); a wildcard bind address is reached through the loopback.
        own_host = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104
        shims.apply(f"http://{own_host}:{self.port}")
        # CodeCommit git server, pipeline executions and builds (clone URLs name this endpoint).
        app.pipelines = pipelines.install(f"http://{own_host}:{self.port}", data_dir)
        shims.follow_clock(self.emulator.clock.now)  # moto's SQS timers run on the emulated clock
        self.emulator.configure(aws_endpoint or self.url, own_cloud=aws_endpoint is None)

    def serve_forever(self) -> None:
        self.emulator.start_ticker()
        try:
            self.server.serve_forever()
        finally:
            self.emulator.stop_ticker()

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="gtlocal-server", daemon=True)
        thread.start()
        return thread

    def shutdown(self) -> None:
        """Stop serving and close the open persistent connections (their clients see the close)."""
        self.server.shutdown()
        self.server.server_close()
        close_connections(self.server)
