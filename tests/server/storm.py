"""The kill storm's harness: a gunicorn server as in production, and a killer of its workers.

Used by :mod:`tests.server.test_kill_storm` (the clients are in :mod:`tests.server.storm_clients`).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

BIN = Path(sys.executable).parent
GUNICORN = BIN / "gunicorn"

WORKERS = 3
CLIENTS = 4
KILLS = 100
UPLOADS_PER_CLIENT = 60
MAX_STEPS_PER_CLIENT = 400
UPLOAD_TRIES = 12
# A bound, not a target: each respawn builds an app (its modules are imported in the master).
STORM_DEADLINE_S = 200.0
SEED = 20260314

# A gunicorn configuration of the test: each worker says when it is ready to serve. No
# control socket (gunicorn >= 27 opens one in ~/.gunicorn, the same for every instance).
GUNICORN_CONFIG = """
from pathlib import Path

# The app's modules (Flask, SQLAlchemy, astropy...) are imported once, in the master: each
# respawned worker forks with them loaded, and still builds its own app (no --preload).
import caldb_server.app

READY = Path({ready!r})
control_socket_disable = True


def post_worker_init(worker):
    (READY / str(worker.pid)).touch()
"""

# -- the server ---------------------------------------------------------------------------


def server_env(app_config: dict[str, Any]) -> dict[str, str]:
    """The process environment of a server with the test app's settings."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("CALDB_")}
    environ.update(
        {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}
    )
    return environ


@dataclass
class Gunicorn:
    """A running gunicorn master, its URL and where its workers announce themselves."""

    process: subprocess.Popen[bytes]
    url: str
    ready_dir: Path
    log_path: Path

    def workers(self) -> list[int]:
        """Pids of the master's children that finished booting."""
        ready = {int(path.name) for path in self.ready_dir.iterdir()}
        return sorted(children_of(self.process.pid) & ready)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log (for failure messages)."""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def children_of(pid: int) -> set[int]:
    """The child processes of ``pid`` (Linux ``/proc``)."""
    tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    if tasks:
        children: set[int] = set()
        for task in tasks:
            with contextlib.suppress(OSError):  # the thread ended meanwhile
                children.update(int(child) for child in task.read_text().split())
        return children
    children = set()  # a kernel without the children files: every process's parent
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # After the command's closing parenthesis: state, then the parent's pid.
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                children.add(int(stat.parent.name))
    return children


def wait_healthy(url: str, process: subprocess.Popen[bytes], deadline_s: float = 60.0) -> None:
    """Poll ``/health`` until it answers 200, the server dies, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    with requests.Session() as session:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {process.returncode}")
            try:
                with session.get(f"{url}/api/v1/health", timeout=5) as response:
                    if response.status_code == 200:
                        return
            except requests.RequestException:  # a worker killed, or still booting
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not become healthy in {deadline_s} s")
            time.sleep(0.05)


@contextlib.contextmanager
def gunicorn(environ: dict[str, str], directory: Path) -> Iterator[Gunicorn]:
    """Run ``gunicorn 'caldb_server:create_app()'`` (sync workers) on a loopback socket.

    The listening socket is bound here and handed over (``fd://``), so no port can be
    taken by someone else between choosing and binding it.
    """
    ready_dir = directory / "ready"
    ready_dir.mkdir()
    config = directory / "gunicorn_conf.py"
    config.write_text(GUNICORN_CONFIG.format(ready=str(ready_dir)))
    log_path = directory / "gunicorn.log"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    command = [
        str(GUNICORN),
        "--config",
        str(config),
        "--workers",
        str(WORKERS),
        "--worker-class",
        "sync",
        "--bind",
        f"fd://{listener.fileno()}",
        "--timeout",
        "30",
        "--graceful-timeout",
        "20",
        "caldb_server:create_app()",
    ]
    with contextlib.ExitStack() as stack:
        stack.callback(listener.close)
        log = stack.enter_context(log_path.open("wb"))
        process = subprocess.Popen(
            command,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(listener.fileno(),),
        )
        listener.close()  # the server holds its own copy
        server = Gunicorn(process, f"http://127.0.0.1:{port}", ready_dir, log_path)
        try:
            wait_healthy(server.url, process)
            yield server
        finally:
            if process.poll() is None:  # a test that failed before stopping it: no leftovers
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def stop(server: Gunicorn) -> int:
    """Stop gunicorn cleanly (SIGTERM: workers finish their requests) and wait for it."""
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=60)


def run_fsck(environ: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """``caldb-server fsck --json`` on the same settings."""
    result = subprocess.run(
        [str(BIN / "caldb-server"), "fsck", "--json"],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    try:
        return result.returncode, json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"fsck printed no JSON: {result.stdout}\n{result.stderr}") from None


# -- the killer ----------------------------------------------------------------------------


@dataclass
class KillLog:
    """The SIGKILLs delivered."""

    pids: list[int] = field(default_factory=list)
    no_worker_ready: int = 0


def killer_loop(
    server: Gunicorn, log: KillLog, stop_event: threading.Event, deadline: float
) -> None:
    """SIGKILL a random ready worker at random moments, :data:`KILLS` times."""
    rng = random.Random(SEED)
    while len(log.pids) < KILLS and time.monotonic() < deadline:
        if stop_event.wait(rng.uniform(0.02, 0.4)):
            return
        workers = server.workers()
        if not workers:
            log.no_worker_ready += 1
            continue
        pid = rng.choice(workers)
        # Not again: until the master reaps it, a killed worker is still its (zombie) child.
        (server.ready_dir / str(pid)).unlink(missing_ok=True)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # it died meanwhile
            continue
        log.pids.append(pid)
