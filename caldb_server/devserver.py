"""The development server (``caldb-server serve --dev``), made safe for dropped connections.

Werkzeug's server skips ``close()`` on the response when the client resets the connection
while it drains the request (its ``finally`` block reads the socket before closing). CFITSIO
does exactly that: it drops its first connection to a file after the headers. The open file
of the download is then left to the garbage collector, with a ``ResourceWarning``, instead of
being closed. Production (gunicorn) is not affected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask

__all__ = ["closing_responses", "serve"]


class _ClosingIterable:
    """A response body that is closed at the latest when the server lets go of it."""

    def __init__(self, body: Iterable[bytes]) -> None:
        self._body = body
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        # A generator keeps this wrapper alive while the body is read: a caller holding only
        # the iterator must not see the body closed under it by __del__.
        yield from self._body

    def close(self) -> None:
        """Close the wrapped body once."""
        if not self._closed:
            self._closed = True
            if hasattr(self._body, "close"):
                self._body.close()

    def __del__(self) -> None:
        self.close()


def closing_responses(wsgi_app: Any) -> Any:
    """Wrap a WSGI app so that every response body is eventually closed."""

    def application(environ: dict[str, Any], start_response: Any) -> _ClosingIterable:
        return _ClosingIterable(wsgi_app(environ, start_response))

    return application


def serve(app: Flask, host: str, port: int, *, reload: bool = False) -> None:
    """Run the threaded development server; with ``reload``, restarted when code changes.

    The reloader runs the command again in a child process, which serves; SIGTERM to the
    parent ends both.
    """
    app.wsgi_app = closing_responses(app.wsgi_app)  # type: ignore[method-assign]
    app.run(host=host, port=port, threaded=True, use_reloader=reload)
