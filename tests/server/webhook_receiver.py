"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that checks signatures.

Each hook path (``/hooks/<name>``) has its secret; every request is checked with the
public :func:`caldb_common.webhooks.verify_signature` against the test's clock, refused
with 400 if the check fails (and counted in ``refused``), and otherwise answered as the
test says: 204, 500, or after waiting on an event (a slow receiver). The server can be
stopped (the port refuses connections) and started again on the same port.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from caldb_common.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, verify_signature

__all__ = ["Received", "Receiver"]


@dataclass(frozen=True)
class Received:
    """A delivery that passed the signature check."""

    hook: str
    delivery_id: str
    seq: int
    body: bytes
    signature: str


@dataclass
class Receiver:
    """The receiver's state: secrets, what to answer, what it got."""

    clock: Callable[[], datetime]
    secrets: dict[str, str] = field(default_factory=dict)
    answer: int = 204
    # hook -> condition: wait (up to 5 s) until it holds before answering (a slow receiver)
    holds: dict[str, Callable[[], bool]] = field(default_factory=dict)
    held: list[bool] = field(default_factory=list)  # whether each wait saw its condition
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    port: int = 0

    def url(self, hook: str) -> str:
        """The URL of a hook."""
        return f"http://127.0.0.1:{self.port}/hooks/{hook}"

    def seqs(self, hook: str) -> list[int]:
        """The change numbers a hook accepted, in arrival order."""
        with self.lock:
            return [r.seq for r in self.received if r.hook == hook]

    def start(self) -> Receiver:
        """Listen (on the same port as before, after a stop)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def check(self, hook: str, body: bytes, signature: str | None) -> None:
        """The receiver's check (raises WebhookSignatureError)."""
        verify_signature(self.secrets[hook], body, signature, now=self.clock().timestamp())


def _wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    pause = threading.Event()
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return True
        pause.wait(0.01)
    return condition()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook = self.path.rsplit("/", 1)[-1]
            signature = self.headers.get(SIGNATURE_HEADER)
            try:
                receiver.check(hook, body, signature)
            except (KeyError, ValueError) as error:
                with receiver.lock:
                    receiver.refused.append(f"{hook}: {error}")
                self._answer(400)
                return
            if hook in receiver.holds:
                receiver.held.append(_wait_for(receiver.holds[hook]))
            status = receiver.answer
            if 200 <= status < 300:
                document: dict[str, Any] = json.loads(body)
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            hook,
                            str(self.headers.get(DELIVERY_HEADER)),
                            document["change"]["seq"],
                            body,
                            str(signature),
                        )
                    )
            self._answer(status)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            if 300 <= status < 400:  # a redirect to another hook, which must not be followed
                self.send_header("Location", receiver.url("redirected"))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
