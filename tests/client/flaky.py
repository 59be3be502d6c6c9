"""A real local HTTP server that misbehaves on purpose, for the client's retry tests.

Each test queues the answers the server gives, in order (``Flaky.plan``); an answer is a
status with a body and headers, or one of the failures ``reset`` (close the connection
without answering), ``stall`` (answer nothing for longer than the client waits) and
``truncate`` (announce a length, send half of it, close). Every request is recorded.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    """One planned answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    failure: str | None = None  # "reset", "stall" or "truncate"
    stall_s: float = 2.0

    @classmethod
    def json(cls, document: Any, status: int = 200, **headers: str) -> Answer:
        content_type = "application/problem+json" if status >= 400 else "application/json"
        return cls(status, json.dumps(document).encode(), {"Content-Type": content_type, **headers})


@dataclass
class Flaky:
    """The plan, the requests (and their bodies) seen, and the bytes of bodies sent."""

    url: str = ""
    plan: list[Answer] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)  # the request bodies, in order
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> Answer:
        with self.lock:
            return self.plan.pop(0) if self.plan else Answer(500, b"no answer planned")


def _handler(flaky: Flaky) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:  # keep test output quiet
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received = self.rfile.read(length) if length else b""
            with flaky.lock:
                flaky.requests.append((self.command, self.path, dict(self.headers)))
                flaky.bodies.append(received)
            answer = flaky.next_answer()
            if answer.failure == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.close_connection = True
                return
            if answer.failure == "stall":
                time.sleep(answer.stall_s)
                self.close_connection = True
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            body = (
                answer.body[: len(answer.body) // 2]
                if answer.failure == "truncate"
                else answer.body
            )
            self.wfile.write(body)
            with flaky.lock:
                flaky.bytes_sent += len(body)
            if answer.failure == "truncate":
                self.close_connection = True

        do_GET = do_POST = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server's names

    return Handler


@contextmanager
def flaky_server() -> Iterator[Flaky]:
    """Run a :class:`Flaky` server on a free local port."""
    flaky = Flaky()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(flaky))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    flaky.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield flaky
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
