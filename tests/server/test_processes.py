"""Real server processes: concurrent uploads under gunicorn, and a server killed mid-upload."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.helpers import MXT_GAIN, calfile_bytes, tree_files

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(app_config):
    environ = {key: value for key, value in os.environ.items() if not key.startswith("CALDB_")}
    environ.update(
        {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}
    )
    return environ


@contextmanager
def running(command, environ, port, log=subprocess.DEVNULL):
    """The server ``command`` started and healthy on ``port``; its output goes to ``log``."""
    process = subprocess.Popen(command, env=environ, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited with {process.returncode}")
            try:
                if requests.get(f"{url}/api/v1/health", timeout=5).ok:
                    break
            except requests.RequestException:  # refused, or workers still booting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield process, url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def fsck(environ):
    result = subprocess.run(
        [BIN / "caldb-server", "fsck", "--json"],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, json.loads(result.stdout)


def test_eight_concurrent_uploads_of_one_file(app, app_config, uploader):
    environ = server_env(app_config)
    port = free_port()
    command = [BIN / "gunicorn", "-w", "4", "--no-control-socket", "-b", f"127.0.0.1:{port}"]
    command.append("caldb_server:create_app()")
    content = calfile_bytes(MXT_GAIN)
    statuses, barrier = [], threading.Barrier(8)

    def send(url):
        barrier.wait()
        response = requests.post(
            f"{url}/api/v1/files",
            headers=uploader,
            timeout=60,
            files={"file": ("mxt_gain_v1.fits", content)},
        )
        statuses.append((response.status_code, response.json()["file_id"]))

    with running(command, environ, port) as (_process, url):
        threads = [threading.Thread(target=send, args=(url,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        search = requests.get(
            f"{url}/api/v1/search",
            params={"instrument": "MXT", "codename": "GAIN", "date": "-"},
            timeout=10,
        ).json()
    assert sorted(status for status, _ in statuses) == [200] * 7 + [201]
    assert len({file_id for _, file_id in statuses}) == 1
    assert search["nfound"] == 1
    assert tree_files(app_config["ROOT"]) == ["data/svom/mxt/bcf/gain/mxt_gain_v1.fits"]
    assert fsck(environ)[0] == 0


def _start_upload_and_stall(url, token, content):
    """Send the headers and half of a multipart body, then stop sending."""
    boundary = "caldbboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="stalled.fits"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + content + f"\r\n--{boundary}--\r\n".encode()
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    request = (
        f"POST /api/v1/files HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    connection.sendall(request + body[: len(body) // 2])
    return connection


def test_server_killed_mid_upload_leaves_a_consistent_state(app, app_config, uploader):
    environ = server_env(app_config)
    port = free_port()
    command = [BIN / "caldb-server", "serve", "--port", str(port), "--workers", "2"]
    token = uploader["Authorization"].split()[1]
    content = calfile_bytes(MXT_GAIN) * 20  # several FITS blocks, sent half-way
    with running(command, environ, port) as (process, url):
        stalled = _start_upload_and_stall(url, token, content)
        assert requests.get(f"{url}/api/v1/health", timeout=5).ok  # the server is busy, not stuck
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        stalled.close()

    code, report = fsck(environ)
    assert code == 0, report
    assert report["consistent"]
    assert [f for f in report["findings"] if f["severe"]] == []
    assert tree_files(app_config["ROOT"]) == []

    with running(command, environ, port) as (_process, url):  # restarted: works, nothing visible
        search = {"instrument": "MXT", "codename": "GAIN", "date": "-"}
        assert requests.get(f"{url}/api/v1/search", params=search, timeout=10).json()["nfound"] == 0
        response = requests.post(
            f"{url}/api/v1/files",
            headers=uploader,
            timeout=30,
            files={"file": ("after_restart.fits", calfile_bytes(MXT_GAIN))},
        )
        assert response.status_code == 201
    assert fsck(environ)[0] == 0
