"""A real CalDB server for client tests, with a meter of the file bytes it sends.

The server is the app of ``tests/conftest.py`` (both backends) served over HTTP by a
threaded WSGI server; a middleware counts the bytes of every ``/content`` answer, so a
test can prove that a cached download moved none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from caldb_server.devserver import closing_responses
from caldbio import CaDBIO
from tests.helpers import MXT_GAIN, calfile_bytes


@dataclass
class Meter:
    """Bytes of file content served, and the paths asked for."""

    content_bytes: int = 0
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def metered(app: Any, meter: Meter) -> Any:
    def application(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        path = environ.get("PATH_INFO", "")
        with meter.lock:
            meter.paths.append(path)
        body = app(environ, start_response)
        try:
            for chunk in body:
                if path.endswith("/content"):
                    with meter.lock:
                        meter.content_bytes += len(chunk)
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()  # PEP 3333: whoever iterates a body closes it

    return application


@dataclass
class Server:
    url: str
    meter: Meter
    app: Flask


@pytest.fixture
def server(app: Flask) -> Iterator[Server]:
    """The CalDB over real HTTP on a free port, metered."""
    meter = Meter()
    http = make_server("127.0.0.1", 0, metered(closing_responses(app), meter), threaded=True)
    thread = threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield Server(f"http://127.0.0.1:{http.server_port}", meter, app)
    http.shutdown()
    thread.join()


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CALDB_*/CALDBIO_*/RUNTIME_DATA from the developer's shell; a private config dir."""
    for name in ("CALDB_URL", "CALDB_TOKEN", "CALDB_USERNAME", "CALDB_PASSWORD", "RUNTIME_DATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CALDBIO_OFFLINE", raising=False)
    monkeypatch.setenv("CALDBIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CALDBIO_CACHE", str(tmp_path / "default-cache"))


@pytest.fixture
def make_client(
    server: Server, tmp_path: Path, clean_environment: None
) -> Iterator[Callable[..., CaDBIO]]:
    """``make_client(token=..., **options)``: a CaDBIO of the test server, private cache."""
    clients: list[CaDBIO] = []

    def make(**options: Any) -> CaDBIO:
        options = {"cache_dir": tmp_path / "cache", "max_tries": 2, "backoff_s": 0.01} | options
        client = CaDBIO(options.pop("url", server.url), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def env(
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_environment: None,
    make_token: Callable[..., str],
) -> Path:
    """CALDB_URL of the test server, an uploader token, and two GAIN epochs uploaded."""
    monkeypatch.setenv("CALDB_URL", server.url)
    monkeypatch.setenv("CALDBIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CALDB_TOKEN", make_token("uploader"))
    for name, valid_from in [("gain_v1.fits", "2024-06-22"), ("gain_v2.fits", "2025-06-01")]:
        (tmp_path / name).write_bytes(calfile_bytes(MXT_GAIN | {"CVSD0001": valid_from}))
    return tmp_path
