"""``caldb-server serve``: gunicorn by default (workers, SIGHUP, SIGTERM, logs), ``--dev``.

Each server is a real process tree on a loopback port, on one SQLite instance made by
``caldb-server init``; every wait is bounded by a deadline.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import SECRET
from tests.server.storm import children_of
from tests.server.test_processes import free_port

PROGRAM = Path(sys.executable).with_name("caldb-server")
STARTUP_S = 60
SEARCH = {"instrument": "MXT", "codename": "GAIN", "date": "-"}
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers through /proc"),
]


@dataclass
class Server:
    """A running ``caldb-server serve``: its process, URL and output files."""

    process: subprocess.Popen[bytes]
    url: str
    stdout: Path
    stderr: Path

    def workers(self) -> set[int]:
        """The processes the command started (gunicorn's workers, the reloader's child)."""
        return children_of(self.process.pid)

    def stop(self) -> int:
        """SIGTERM to the command only (as an operator or systemd does); its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STARTUP_S)


def environ_of(instance: Path, **more: str) -> dict[str, str]:
    """The caller's environment without CalDB settings, plus those of ``instance``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CALDB_")}
    return environ | {
        "CALDB_INSTANCE_PATH": str(instance),
        "CALDB_DATABASE_URL": f"sqlite:///{instance / 'caldb.sqlite'}",
        "CALDB_SECRET_KEY": SECRET,
        **more,
    }


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised, empty SQLite instance shared by the servers of this module."""
    if not PROGRAM.is_file():
        pytest.skip(f"{PROGRAM} is not installed (pip install -e .[server])")
    path = tmp_path_factory.mktemp("serve") / "instance"
    path.mkdir()
    subprocess.run([PROGRAM, "init"], env=environ_of(path), check=True, capture_output=True)
    return path


@contextmanager
def serving(instance: Path, tmp_path: Path, *options: str, **settings: str) -> Iterator[Server]:
    """``caldb-server serve OPTIONS`` started and healthy on a free port; stopped after."""
    port = free_port()
    stdout, stderr = tmp_path / f"{port}.out", tmp_path / f"{port}.err"
    command = [PROGRAM, "serve", "--port", str(port), *options]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            command, env=environ_of(instance, **settings), stdout=out, stderr=err
        )
    server = Server(process, f"http://127.0.0.1:{port}", stdout, stderr)
    try:
        _wait_healthy(server)
        yield server
    finally:
        if process.poll() is None:
            process.kill()  # a test that failed before stopping it
            process.wait(timeout=STARTUP_S)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"serve exited with {server.process.returncode}: {_read(server.stderr)}")
        try:
            if requests.get(f"{server.url}/api/v1/health", timeout=5).ok:
                return
        except requests.ConnectionError:  # refused: still starting
            time.sleep(0.1)
    pytest.fail(f"serve did not answer within {STARTUP_S} s: {_read(server.stderr)}")


def _read(path: Path) -> str:
    return path.read_text(errors="replace")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (exited, not yet reaped by its new parent) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _search(url: str) -> requests.Response:
    response = requests.get(f"{url}/api/v1/search", params=SEARCH, timeout=10)
    assert response.status_code == 200, response.text
    return response


def test_serve_runs_gunicorn_with_the_workers_asked_for_and_logs_each_request(instance, tmp_path):
    with serving(instance, tmp_path, "--workers", "2", "--graceful-timeout", "5") as server:
        health = requests.get(f"{server.url}/api/v1/health", timeout=10)
        assert health.headers["Server"] == "gunicorn"
        assert _search(server.url).json()["nfound"] == 0
        # The first worker may answer while the master still forks the second (busy machine).
        deadline = time.monotonic() + STARTUP_S
        while len(workers := server.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(workers) == 2
        assert server.stop() == 0
    assert not any(_alive(pid) for pid in workers)
    access = _read(server.stdout).splitlines()
    searches = [line for line in access if '"GET /api/v1/search?' in line]
    assert len(searches) == 1
    assert re.search(r'" 200 \d+ \d+\.\d{6}s "', searches[0])  # status, bytes, time taken
    assert "Booting worker" in _read(server.stderr)


def test_sighup_replaces_every_worker_without_refusing_a_request(instance, tmp_path):
    with serving(instance, tmp_path, "--workers", "2", "--graceful-timeout", "5") as server:
        before = server.workers()
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + STARTUP_S
        while not (after := server.workers()) or after & before or len(after) != 2:
            assert time.monotonic() < deadline, f"workers {before} still there: {after}"
            _search(server.url)  # a refused connection raises here
        for _ in range(5):
            _search(server.url)
        assert not any(_alive(pid) for pid in before)
        assert server.stop() == 0
    assert not any(_alive(pid) for pid in after)


def test_json_logs_are_one_object_per_line_with_the_request_path(instance, tmp_path):
    settings = {"CALDB_LOG_FORMAT": "json"}
    with serving(instance, tmp_path, "--workers", "1", **settings) as server:
        _search(server.url)
        login = requests.post(
            f"{server.url}/api/v1/auth/token",
            json={"username": "nobody", "password": "wrong"},
            timeout=30,
        )
        assert login.status_code == 401
        assert server.stop() == 0
    access = [json.loads(line) for line in _read(server.stdout).splitlines()]
    errors = [json.loads(line) for line in _read(server.stderr).splitlines()]
    search = next(record for record in access if record["path"] == "/api/v1/search")
    assert search["status"] == 200
    assert search["method"] == "GET"
    assert "codename=GAIN" in search["query"]
    assert isinstance(search["duration_ms"], float)
    assert any(record["path"] == "/api/v1/auth/token" for record in access)
    app_records = [r for r in errors if r["logger"].startswith("caldb_server")]
    assert any("login refused" in r["message"] for r in app_records)  # the app's own log
    assert {"time", "level", "pid"} <= set(errors[0])


def test_dev_runs_the_reloading_development_server(instance, tmp_path):
    with serving(instance, tmp_path, "--dev") as server:
        health = requests.get(f"{server.url}/api/v1/health", timeout=10)
        assert health.headers["Server"].startswith("Werkzeug/")
        assert _search(server.url).json()["nfound"] == 0
        reloaded = server.workers()  # the reloader's child serves
        assert len(reloaded) == 1
        assert server.stop() == 0
    assert not any(_alive(pid) for pid in reloaded)


def _run(instance: Path, *options: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROGRAM, "serve", *options],
        env=environ_of(instance, **settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=STARTUP_S,
    )


def test_serve_refuses_an_uninitialised_instance_before_starting(tmp_path):
    result = _run(tmp_path / "never", "--port", str(free_port()))
    assert result.returncode == 6
    assert result.stderr.count("\n") == 1
    assert "caldb-server init" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    ("options", "settings", "expected"),
    [
        (["--workers", "0"], {}, "--workers"),
        (["--workers", "many"], {}, "--workers"),
        (["--graceful-timeout", "-1"], {}, "--graceful-timeout"),
        (["--log-format", "xml"], {}, "--log-format"),
        ([], {"CALDB_LOG_FORMAT": "xml"}, "CALDB_LOG_FORMAT"),
        (["--dev", "--workers", "2"], {}, "--workers"),
    ],
)
def test_serve_refuses_bad_options(instance, options, settings, expected):
    result = _run(instance, "--port", str(free_port()), *options, **settings)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "no-such-host.invalid"])
def test_serve_refuses_an_address_it_cannot_listen_on_in_one_line(instance, host):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(instance, "--host", host, "--port", str(port))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: cannot listen on {host}:{port}: ")
    assert result.stderr.count("\n") == 1
