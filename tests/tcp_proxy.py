"""A small TCP proxy for failure tests: forward to a server, then lose it on demand.

The proxy listens on ``127.0.0.1:0`` and forwards every connection to ``target``. One
background thread runs a selector loop over the listening socket and every forwarded pair,
so sockets are only ever touched by that thread; :meth:`TcpProxy.cut`, :meth:`restore` and
:meth:`cut_on` hand it a command and wait until it is done.

- ``cut()``: reset (RST) every forwarded connection, on both sides, and reset each new
  connection as soon as it is accepted, as a database host that went away would.
- ``restore()``: forward new connections again.
- ``cut_on(pattern)``: cut the moment a client sends bytes containing ``pattern`` (those
  bytes are *not* forwarded), e.g. a COMMIT: the database is lost in the middle of a unit
  of work, at a chosen statement. With ``from_server=True`` the pattern is looked for in
  what the server answers: the statement was carried out but its answer is lost.
  :attr:`TcpProxy.tripped` is set when it happens.

Only loopback addresses are used; everything is bounded and closed by :meth:`close`. Writes
to a peer block: the proxy is meant for request/answer protocols such as PostgreSQL's, not
for bulk streams both ways at once.
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType

__all__ = ["TcpProxy"]

_CHUNK = 65536
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, not FIN
_COMMAND_TIMEOUT_S = 10.0


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP reset."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    sock.close()


class _Pair:
    """One forwarded connection: the client's socket and ours to the target."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.tails = {client: b"", upstream: b""}  # last bytes read, to match across reads

    def peer_of(self, sock: socket.socket) -> socket.socket:
        return self.upstream if sock is self.client else self.client


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``target`` until told to lose the connections.

    Use as a context manager (or call :meth:`start` and :meth:`close`).
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.tripped = threading.Event()
        self.accepted = 0  # connections accepted (forwarded or reset)
        self.reset = 0  # connections reset by a cut
        self.tripped_on = b""  # the bytes that tripped :meth:`cut_on` (not forwarded)
        self._cut = False
        self._pattern: bytes | None = None
        self._pattern_from_server = False
        self._pairs: dict[socket.socket, _Pair] = {}
        self._commands: queue.Queue[tuple[Callable[[], None], threading.Event]] = queue.Queue()
        self._selector = selectors.DefaultSelector()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)

    # -- public API --------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the proxy listens on (127.0.0.1)."""
        return self._listener.getsockname()[1]

    @property
    def active(self) -> int:
        """Forwarded connections open now."""
        return len(self._pairs) // 2

    def start(self) -> TcpProxy:
        """Start forwarding."""
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_reader, selectors.EVENT_READ, "wake")
        self._thread.start()
        return self

    def cut(self) -> None:
        """Reset every connection now and every new one until :meth:`restore`."""
        self._call(self._do_cut)

    def restore(self) -> None:
        """Forward new connections again (and disarm :meth:`cut_on`)."""

        def restore() -> None:
            self._cut = False
            self._pattern = None

        self._call(restore)
        self.tripped.clear()

    def cut_on(self, pattern: bytes, *, from_server: bool = False) -> None:
        """Cut when ``pattern`` next goes through (not forwarded); sets :attr:`tripped`.

        Looked for in what clients send, or with ``from_server`` in what the server answers.
        """
        if not pattern:
            raise ValueError("the pattern must not be empty")
        self.tripped.clear()

        def arm() -> None:
            self._pattern = pattern
            self._pattern_from_server = from_server

        self._call(arm)

    def close(self) -> None:
        """Reset every connection, stop the thread and close the listening socket."""
        if not self._thread.is_alive():
            self._close_sockets()
            return

        def stop() -> None:
            self._do_cut()
            self._stopping = True

        self._call(stop)
        self._thread.join(_COMMAND_TIMEOUT_S)
        self._close_sockets()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the loop thread ---------------------------------------------------------------

    def _call(self, command: Callable[[], None]) -> None:
        """Run ``command`` on the loop thread and wait for it."""
        done = threading.Event()
        self._commands.put((command, done))
        self._wake_writer.send(b"x")
        if not done.wait(_COMMAND_TIMEOUT_S):
            raise TimeoutError("the proxy thread did not answer")

    def _run(self) -> None:
        while not self._stopping:
            for key, _mask in self._selector.select(timeout=1.0):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    self._run_commands()
                elif key.fileobj in self._pairs:  # not dropped by an earlier event
                    self._forward(key.fileobj)  # type: ignore[arg-type]

    def _run_commands(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._wake_reader.recv(1024)
        while True:
            try:
                command, done = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command()
            finally:
                done.set()

    def _accept(self) -> None:
        try:
            client, _address = self._listener.accept()
        except BlockingIOError:
            return
        self.accepted += 1
        if self._cut:
            _reset(client)
            self.reset += 1
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)  # the target is down: so is the proxy
            return
        client.setblocking(True)
        upstream.setblocking(True)
        pair = _Pair(client, upstream)
        for sock in (client, upstream):
            self._pairs[sock] = pair
            self._selector.register(sock, selectors.EVENT_READ, "pair")

    def _forward(self, sock: socket.socket) -> None:
        pair = self._pairs[sock]
        try:
            data = sock.recv(_CHUNK)
        except OSError:
            data = b""
        if not data:
            self._drop(pair, reset=False)
            return
        watched = pair.upstream if self._pattern_from_server else pair.client
        if sock is watched and self._pattern is not None:
            window = pair.tails[sock] + data
            pair.tails[sock] = window[-len(self._pattern) :]
            if self._pattern in window:
                self.tripped_on = data
                # Set before the cut: the client may see the reset, and check, right after.
                self.tripped.set()
                self._do_cut()
                return
        try:
            pair.peer_of(sock).sendall(data)
        except OSError:
            self._drop(pair, reset=True)

    def _drop(self, pair: _Pair, *, reset: bool) -> None:
        for sock in (pair.client, pair.upstream):
            if self._pairs.pop(sock, None) is not None:
                self._selector.unregister(sock)
            if reset:
                _reset(sock)
            else:
                sock.close()

    def _do_cut(self) -> None:
        self._cut = True
        self._pattern = None
        for pair in {id(p): p for p in self._pairs.values()}.values():
            self._drop(pair, reset=True)
            self.reset += 1

    def _close_sockets(self) -> None:
        for pair in {id(p): p for p in self._pairs.values()}.values():
            self._drop(pair, reset=True)
        self._selector.close()
        for sock in (self._listener, self._wake_reader, self._wake_writer):
            sock.close()
