"""``gtlocal serve | up | down | status``: run the local cloud in the foreground or the background."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gtlocal.client import ControlApiError, GroundTruthControl

RUN_DIR = Path(".localcloud")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def default_port() -> int:
    return int(os.environ.get("GTLOCAL_PORT", "4566"))


def add_parser(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="run the local cloud in the foreground")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port())
    serve.add_argument(
        "--aws-endpoint",
        default=os.environ.get("GTLOCAL_AWS_ENDPOINT"),
        help="endpoint the emulator uses for S3/SNS/SQS/EventBridge (default: its own URL)",
    )
    serve.add_argument(
        "--iam",
        choices=("enforce", "off"),
        default=None,
        help="IAM enforcement (default: $GTLOCAL_IAM, else enforce); see src/gtlocal/README.md",
    )
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.set_defaults(func=cmd_serve)

    for name, func, text in (
        ("up", cmd_up, "start the local cloud in the background and wait until it answers"),
        ("down", cmd_down, "stop the background local cloud started by 'up' (only that process)"),
        ("status", cmd_status, "say whether the local cloud answers on the port"),
    ):
        sub = subparsers.add_parser(name, help=text)
        sub.add_argument("--port", type=int, default=default_port())
        if name == "up":
            sub.add_argument("--aws-endpoint", default=os.environ.get("GTLOCAL_AWS_ENDPOINT"))
            sub.add_argument("--iam", choices=("enforce", "off"), default=None, help="IAM enforcement")
        sub.set_defaults(func=func)


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from gtlocal.server import LocalCloud

    try:
        cloud = LocalCloud(args.host, args.port, args.aws_endpoint, iam_mode=args.iam)
    except ValueError as err:  # a bad GTLOCAL_IAM
        print(f"gtlocal: {err}", file=sys.stderr)
        return 2

    def _terminate(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    print(
        f"gtlocal: local cloud on {cloud.url} (emulator AWS calls go to {cloud.emulator.aws_endpoint}; "
        f"IAM {cloud.iam.mode})",
        flush=True,
    )
    try:
        cloud.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        cloud.server.server_close()
    return 0


def _pid_file(port: int) -> Path:
    return RUN_DIR / f"gtlocal-{port}.pid"


def _answers(port: int) -> bool:
    try:
        GroundTruthControl(f"http://127.0.0.1:{port}", timeout=2).health()
        return True
    except (OSError, ControlApiError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is gone for our purposes
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _is_gtlocal(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return "gtlocal" in cmdline and "serve" in cmdline


def cmd_up(args: argparse.Namespace) -> int:
    url = f"http://127.0.0.1:{args.port}"
    pid_file = _pid_file(args.port)
    if _answers(args.port):
        print(f"gtlocal: already answering on {url}")
        return 0
    RUN_DIR.mkdir(exist_ok=True)
    log = (RUN_DIR / f"gtlocal-{args.port}.log").open("ab")
    command = [sys.executable, "-m", "gtlocal", "serve", "--port", str(args.port)]
    if args.aws_endpoint:
        command += ["--aws-endpoint", args.aws_endpoint]
    if args.iam:
        command += ["--iam", args.iam]
    proc = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pid_file.unlink(missing_ok=True)
            print(f"gtlocal: the server exited with code {proc.returncode}; see {log.name}", file=sys.stderr)
            return 1
        if _answers(args.port):
            print(url)
            return 0
        time.sleep(0.1)
    proc.terminate()
    proc.wait(timeout=STOP_TIMEOUT)
    pid_file.unlink(missing_ok=True)
    print(f"gtlocal: no answer on {url} after {START_TIMEOUT:.0f} s; see {log.name}", file=sys.stderr)
    return 1


def cmd_down(args: argparse.Namespace) -> int:
    pid_file = _pid_file(args.port)
    if not pid_file.exists():
        print(f"gtlocal: nothing to stop on port {args.port} (no {pid_file})")
        return 0
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        print(f"gtlocal: {pid_file} does not hold a pid; removing it", file=sys.stderr)
        pid_file.unlink()
        return 1
    if not _alive(pid):
        pid_file.unlink()
        print(f"gtlocal: process {pid} was already gone")
        return 0
    if not _is_gtlocal(pid):
        print(
            f"gtlocal: pid {pid} is not a gtlocal server; not touching it (removing {pid_file})",
            file=sys.stderr,
        )
        pid_file.unlink()
        return 1
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
    pid_file.unlink(missing_ok=True)
    print(f"gtlocal: stopped process {pid}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if _answers(args.port):
        print(f"gtlocal: answering on http://127.0.0.1:{args.port}")
        return 0
    print(f"gtlocal: nothing answers on port {args.port}")
    return 1
