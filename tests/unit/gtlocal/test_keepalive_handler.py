"""The local cloud's HTTP/1.1 handler keeps connections open without mixing up requests.

A plain WSGI application behind ``gtlocal.server.serve_wsgi`` (no moto), driven over raw sockets
so that what is on the wire is what is checked: several requests on one connection, bodies the
application never reads, chunked bodies, HEAD and 204 answers, and every way a connection ends.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from gtlocal.server import close_connections, serve_wsgi


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("application bug")
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/head":  # what S3 HeadObject answers: the object's length, no body
        start_response("200 OK", [("Content-Length", "1234"), ("ETag", '"x"')])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"x" * 1234]
    if path == "/ignore":  # answers without reading the request body
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ignored"]
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{environ['REQUEST_METHOD']} {path} {len(body)} ".encode(), body[:20]]


@pytest.fixture
def server() -> Iterator[tuple[str, int, Any]]:
    served = serve_wsgi("127.0.0.1", 0, app)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", served.server_port, served
    served.shutdown()
    served.server_close()
    close_connections(served)
    thread.join(timeout=10)


class Wire:
    """One client connection; reads answers by their Content-Length, as an HTTP/1.1 client does."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def answer(self, head: bool = False) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("closed before an answer")
        raw, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = raw.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = 0 if head else int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if not self._fill():
                raise ConnectionError("closed inside a body")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body

    def closed_by_server(self) -> bool:
        return self.buffer == b"" and not self._fill()


def request(method: str, path: str, body: bytes = b"", headers: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body
    )


def test_many_requests_share_one_connection_even_when_sent_back_to_back(server: tuple[str, int, Any]) -> None:
    host, port, served = server
    wire = Wire(host, port)
    # Pipelined: the second and third requests are on the wire before the first is answered;
    # the first has a body the application never reads.
    wire.send(
        request("POST", "/ignore", b"a" * 5000) + request("PUT", "/echo", b"hello") + request("GET", "/x")
    )
    answers = [wire.answer() for _ in range(3)]

    assert [(status, body) for status, _, body in answers] == [
        (200, b"ignored"),
        (200, b"PUT /echo 5 hello"),
        (200, b"GET /x 0 "),
    ]
    assert all("connection" not in headers for _, headers, _ in answers)
    assert len(served.gtlocal_connections) == 1


def test_a_chunked_body_is_read_whole_and_the_next_request_follows(server: tuple[str, int, Any]) -> None:
    host, port, _ = server
    wire = Wire(host, port)
    chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    wire.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    wire.send(request("GET", "/after"))

    assert wire.answer()[2] == b"POST /echo 11 hello world"
    assert wire.answer()[2] == b"GET /after 0 "


def test_head_keeps_the_applications_length_and_sends_no_body(server: tuple[str, int, Any]) -> None:
    host, port, _ = server
    wire = Wire(host, port)
    wire.send(
        request("HEAD", "/head") + request("GET", "/head") + request("GET", "/empty") + request("GET", "/x")
    )

    status, headers, body = wire.answer(head=True)
    assert (status, headers["content-length"], body) == (200, "1234", b"")
    assert wire.answer()[2] == b"x" * 1234
    status, headers, body = wire.answer(head=True)  # 204: no body, no length
    assert (status, "content-length" in headers, body) == (204, False, b"")
    assert wire.answer()[2] == b"GET /x 0 "


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        (request("GET", "/x", headers="Connection: close\r\n"), "client asked to close"),
        (b"GET /x HTTP/1.0\r\nHost: x\r\n\r\n", "HTTP/1.0 without keep-alive"),
        (request("GET", "/fail"), "the application failed"),
    ],
)
def test_the_server_closes_when_it_must(server: tuple[str, int, Any], first: bytes, reason: str) -> None:
    host, port, _ = server
    wire = Wire(host, port)
    wire.send(first)
    status, headers, _ = wire.answer()

    assert status == (500 if "failed" in reason else 200), reason
    assert wire.closed_by_server(), reason
    if first.startswith(b"GET /x HTTP/1.1"):
        assert headers["connection"] == "close"


def test_shutdown_closes_the_connections_still_open(server: tuple[str, int, Any]) -> None:
    host, port, served = server
    wire = Wire(host, port)
    wire.send(request("GET", "/x"))
    assert wire.answer()[0] == 200

    served.shutdown()
    close_connections(served)

    assert wire.closed_by_server()
