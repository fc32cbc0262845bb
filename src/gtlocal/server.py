"""One threaded WSGI server: control API, Ground Truth emulator, and moto for everything else.

Dispatch, in this order:
- path ``/_groundtruth/...``                     -> control API (``gtlocal.control``)
- path ``/_localcloud/iam/...``                  -> IAM enforcement settings and records (``gtlocal.iam``)
- every AWS request is first authorized by ``gtlocal.iam`` (restricted principals only)
- header ``X-Amz-Target: SageMaker.<emulated op>`` -> Ground Truth emulator
- anything else                                   -> moto in server mode (incl. ``/moto-api/reset``)
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from gtlocal.control import ControlApi
from gtlocal.groundtruth.models import GroundTruthBackend
from gtlocal.groundtruth.responses import EMULATED_OPERATIONS, GroundTruthResponse
from gtlocal.iam import IamEnforcer

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
        self, emulator: GroundTruthBackend, moto_app: WSGIApp, iam: IamEnforcer | None = None
    ) -> None:
        self.emulator = emulator
        self.iam = iam or IamEnforcer()
        self.control = ControlApi(emulator)
        self.sagemaker = GroundTruthResponse(emulator)
        self.moto_app = moto_app
        # moto's DynamoDB checks a ConditionExpression and then applies the write without a lock,
        # so two concurrent conditional writes could both succeed. Real DynamoDB makes each item
        # write atomic; serialising DynamoDB requests restores that. (Only DynamoDB: a global lock
        # would stall every request behind an SQS long poll.)
        self._dynamodb_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_groundtruth/") or path == "/_groundtruth":
            response = self.control.handle(Request(environ))
            return response(environ, start_response)
        if path.startswith("/_localcloud/iam"):
            return self.iam.control(Request(environ))(environ, start_response)
        denied = self.iam.enforce(environ)
        if denied is not None:
            return denied(environ, start_response)
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

    def _sagemaker(self, request: Request) -> Response:
        operation = request.headers["X-Amz-Target"].partition(".")[2]
        status, headers, body = self.sagemaker.dispatch(operation, request.get_data(), region_of(request))
        return Response(body, status=status, headers=headers)


class LocalCloud:
    """A bound, not yet serving, local cloud (``serve_forever`` runs it).

    Installs ``gtlocal.shims`` (moto patches for what our Terraform modules and CloudFormation
    stacks create) in this process first; they are process-wide, so two local clouds in one
    process share them (the CloudFormation models call the last one's endpoint)."""

    def __init__(
        self, host: str, port: int, aws_endpoint: str | None = None, iam_mode: str | None = None
    ) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        from gtlocal import shims

        moto_app = DomainDispatcherApplication(create_backend_app)
        self.emulator = GroundTruthBackend()
        self.iam = IamEnforcer(iam_mode)
        self.server: BaseWSGIServer = make_server(
            host,
            port,
            LocalCloudApp(self.emulator, moto_app, self.iam),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}"
        # The CloudFormation models call this process's moto (not a LocalStack given as
        # aws_endpoint); a wildcard bind address is reached through the loopback.
        own_host = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104
        shims.apply(f"http://{own_host}:{self.port}")
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
        self.server.shutdown()
        self.server.server_close()
