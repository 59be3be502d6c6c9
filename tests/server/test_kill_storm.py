"""A kill storm: gunicorn workers SIGKILLed at random moments during uploads and quality changes.

The production set-up (gunicorn sync workers, PostgreSQL, one shared tree) serves client
threads that upload new calibration files and change the quality of their own datasets, while
a killer thread sends :data:`KILLS` SIGKILLs to worker processes at random moments (the master
respawns them). Clients tolerate lost connections: an upload is retried with the same bytes
(uploads are idempotent by content), a quality change whose answer was lost is recorded as of
unknown outcome. Afterwards the server is stopped cleanly and:

- ``caldb-server fsck`` finds no inconsistency;
- every upload that was acknowledged (201, or 200 for a retry of a committed one) is listed,
  and its content is byte-identical to what was sent; nothing else is listed;
- the quality history of each dataset is the sequence of its acknowledged changes, plus
  possibly some of unknown outcome, in the order they were sent, and the current quality is
  the last of them (last acknowledged wins: one client touches a dataset).

Served as in production: ``gunicorn 'caldb_server:create_app()'`` with sync workers and no
``--preload``, so every respawned worker runs ``create_app()`` (its clean-up of what dead
processes left in ``.incoming`` included) while the other workers serve uploads.

Bounded: :data:`KILLS` kills, :data:`UPLOADS_PER_CLIENT` uploads and
:data:`MAX_STEPS_PER_CLIENT` steps per client, and :data:`STORM_DEADLINE_S` for the whole
storm; no assertion on time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from astropy.io import fits

from tests.helpers import MXT_GAIN

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

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.slow,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

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


# -- the clients ---------------------------------------------------------------------------


def calibration_file(client: int, number: int, rows: int) -> tuple[str, bytes]:
    """A new MXT GAIN dataset: its own validity date, so no upload duplicates another."""
    start = date(2024, 6, 22) + timedelta(days=client * 1000 + number)
    keywords = MXT_GAIN | {
        "CVSD0001": start.isoformat(),
        "CDES0001": f"kill storm client {client} file {number}",
    }
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="RAWX", format="J", array=np.arange(rows, dtype=np.int32))],
        header=fits.Header(list(keywords.items())),
    )
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buffer)
    return f"storm_c{client}_{number:03d}.fits", buffer.getvalue()


@dataclass
class Upload:
    """One file a client sent, and what it learnt."""

    name: str
    sha256: str
    content: bytes
    statuses: list[int | str] = field(default_factory=list)  # per try: status or error
    file_id: int | None = None
    dataset_id: int | None = None

    @property
    def acknowledged(self) -> bool:
        return self.file_id is not None


@dataclass
class QualityChange:
    """One PATCH of a dataset's quality.

    ``outcome``: "ok" (200), "unknown" (no answer), or what no client should get:
    "unknown-status" (5xx), "refused" (4xx), "wrong-answer" (200 with another quality).
    """

    dataset_id: int
    quality: int
    reason: str
    outcome: str
    status: int | str


@dataclass
class Tally:
    """Everything the clients did, shared between the threads (each appends its own)."""

    uploads: list[Upload] = field(default_factory=list)
    changes: list[QualityChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # answers no client should ever get
    lock: threading.Lock = field(default_factory=threading.Lock)


def _backoff(rng: random.Random, response: requests.Response | None) -> float:
    retry_after = response.headers.get("Retry-After", "") if response is not None else ""
    pause = rng.uniform(0.02, 0.2)
    return min(float(retry_after), 0.5) if retry_after.isdigit() else pause


def send_upload(
    session: requests.Session, url: str, upload: Upload, rng: random.Random, tally: Tally
) -> None:
    """POST one file until an answer says what happened (bounded tries)."""
    for _ in range(UPLOAD_TRIES):
        response = None
        try:
            response = session.post(
                f"{url}/api/v1/files",
                files={"file": (upload.name, upload.content, "application/octet-stream")},
                timeout=(5, 60),
            )
            with response:
                upload.statuses.append(response.status_code)
                if response.status_code in (200, 201):
                    body = response.json()
                    upload.file_id = body["file_id"]
                    upload.dataset_id = body["datasets"][0]["id"]
                    if body["sha256"] != upload.sha256:
                        with tally.lock:
                            tally.errors.append(f"{upload.name}: sha256 {body['sha256']} answered")
                    return
                # Only workers die: a lost answer is a connection error, never a status.
                with tally.lock:
                    tally.errors.append(f"{upload.name}: {response.status_code} {response.text}")
                if response.status_code < 500:
                    return
        except requests.RequestException as error:  # the worker died with the connection
            upload.statuses.append(type(error).__name__)
        time.sleep(_backoff(rng, response))


def send_quality_change(
    session: requests.Session, url: str, dataset_id: int, quality: int, reason: str
) -> QualityChange:
    """PATCH a dataset's quality once; a lost answer is an unknown outcome, not retried."""
    try:
        with session.patch(
            f"{url}/api/v1/datasets/{dataset_id}",
            json={"cal_qual": quality, "reason": reason},
            timeout=(5, 30),
        ) as response:
            status = response.status_code
            if status == 200 and response.json()["cal_qual"] != quality:
                return QualityChange(dataset_id, quality, reason, "wrong-answer", status)
    except requests.RequestException as error:
        return QualityChange(dataset_id, quality, reason, "unknown", type(error).__name__)
    outcome = "ok" if status == 200 else "unknown-status" if status >= 500 else "refused"
    return QualityChange(dataset_id, quality, reason, outcome, status)


def client_loop(
    number: int, url: str, token: str, tally: Tally, stop_event: threading.Event, deadline: float
) -> None:
    """Upload new files and change the quality of this client's own datasets, in turn.

    Once its uploads are all sent, a client goes on with quality changes only, so that the
    workers are busy for as long as they are being killed.
    """
    rng = random.Random(SEED + number)
    mine: list[Upload] = []
    changes_of: dict[int, int] = {}  # dataset id -> quality changes sent so far
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for step in range(MAX_STEPS_PER_CLIENT):
            if stop_event.is_set() or time.monotonic() > deadline:
                return
            if step < UPLOADS_PER_CLIENT:
                rows = rng.choice((4, 1000, 20_000, 100_000))
                name, content = calibration_file(number, step, rows)
                upload = Upload(name, hashlib.sha256(content).hexdigest(), content)
                with tally.lock:
                    tally.uploads.append(upload)
                send_upload(session, url, upload, rng, tally)
                if upload.acknowledged:
                    mine.append(upload)
            for _ in range(rng.randint(0, 2) if step < UPLOADS_PER_CLIENT else 1):
                if not mine or stop_event.is_set():
                    break
                dataset_id = rng.choice(mine).dataset_id
                assert dataset_id is not None
                sent = changes_of.get(dataset_id, 0)
                changes_of[dataset_id] = sent + 1
                quality = sent % 9 + 1  # 1..9 in turn: never 0 (no duplicate check to pass)
                reason = f"kill storm: client {number}, change {sent} of dataset {dataset_id}"
                change = send_quality_change(session, url, dataset_id, quality, reason)
                with tally.lock:
                    tally.changes.append(change)
                    if change.outcome not in ("ok", "unknown"):
                        tally.errors.append(f"{reason}: {change.outcome} ({change.status})")


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


# -- checks --------------------------------------------------------------------------------


def listed_datasets(session: requests.Session, url: str) -> list[dict[str, Any]]:
    """Every MXT dataset, through the paged listing."""
    datasets: list[dict[str, Any]] = []
    after = 0
    while True:
        with session.get(
            f"{url}/api/v1/datasets",
            params={"instrument": "MXT", "after": after},
            timeout=30,
        ) as response:
            assert response.status_code == 200, response.text
            page = response.json()
        datasets += page["datasets"]
        if page["next"] is None:
            return datasets
        after = page["next"]


def check_quality_history(
    changes: list[QualityChange], history: list[dict[str, Any]], current: int
) -> str | None:
    """Whether a dataset's history is its changes as sent, with every acknowledged one."""
    applied = 0  # the quality after the history entries matched so far
    position = 0
    for change in changes:
        entry = history[position] if position < len(history) else None
        if entry is not None and entry["reason"] == change.reason:
            if change.outcome == "refused":
                return f"refused change applied: {change.reason}"
            if (entry["old_qual"], entry["new_qual"]) != (applied, change.quality):
                return f"history entry {entry} does not follow {applied}"
            applied, position = change.quality, position + 1
        elif change.outcome == "ok" and change.quality != applied:
            return f"acknowledged change missing from the history: {change.reason}"
    if position != len(history):
        return f"history entries that no client sent, or out of order: {history[position:]}"
    if current != applied:
        return f"cal_qual is {current}, the history ends at {applied}"
    return None


# -- the test ------------------------------------------------------------------------------


@pytest.fixture
def storm_env(app_config: dict[str, Any]) -> dict[str, str]:
    """The settings of the gunicorn server and of fsck (PostgreSQL, a fresh tree)."""
    if not GUNICORN.is_file():
        pytest.skip(f"gunicorn is not installed in {BIN} (pip install gunicorn)")
    if not sys.platform.startswith("linux"):
        pytest.skip("finds gunicorn's workers through /proc (Linux)")
    environ = server_env(app_config)
    # As an operator deploys: the schema is there (migrated); init makes the tree.
    subprocess.run(
        [str(BIN / "caldb-server"), "init"],
        env=environ,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return environ


def test_kill_storm(
    storm_env: dict[str, str],
    app_config: dict[str, Any],
    make_token: Callable[..., str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    token = make_token("uploader", subject="storm")
    tally, kills = Tally(), KillLog()
    with gunicorn(storm_env, tmp_path) as server:
        deadline = time.monotonic() + STORM_DEADLINE_S
        stop_clients, stop_killer = threading.Event(), threading.Event()
        clients = [
            threading.Thread(
                target=client_loop,
                args=(n, server.url, token, tally, stop_clients, deadline),
                name=f"client-{n}",
            )
            for n in range(CLIENTS)
        ]
        killer = threading.Thread(
            target=killer_loop, args=(server, kills, stop_killer, deadline), name="killer"
        )
        for thread in [*clients, killer]:
            thread.start()
        try:
            killer.join()
        finally:
            stop_clients.set()
            stop_killer.set()
            for thread in [*clients, killer]:
                thread.join()
        storm_s = time.monotonic() - started

        # The master respawned every worker; nothing is being killed any more.
        wait_healthy(server.url, server.process)
        acknowledged = [u for u in tally.uploads if u.acknowledged]
        with requests.Session() as session:
            listed = listed_datasets(session, server.url)
            contents = {}
            for upload in acknowledged:
                with session.get(
                    f"{server.url}/api/v1/files/{upload.file_id}/content", timeout=30
                ) as response:
                    assert response.status_code == 200, (upload.name, response.text)
                    contents[upload.name] = response.content
            histories = {}
            for dataset_id in {c.dataset_id for c in tally.changes}:
                with session.get(
                    f"{server.url}/api/v1/datasets/{dataset_id}", timeout=30
                ) as response:
                    assert response.status_code == 200, response.text
                    histories[dataset_id] = response.json()
        stopped = stop(server)
        log_tail = server.log_tail()
        log_text = server.log_path.read_text(errors="replace")
    incoming = Path(app_config["ROOT"]) / ".incoming"
    parts_left = len(list(incoming.iterdir())) if incoming.is_dir() else 0
    fsck_status, report = run_fsck(storm_env)
    duration_s = time.monotonic() - started

    notices: dict[str, int] = {}
    for finding in report["findings"]:
        notices[finding["kind"]] = notices.get(finding["kind"], 0) + 1
    changes_ok = sum(c.outcome == "ok" for c in tally.changes)
    changes_unknown = sum(c.outcome == "unknown" for c in tally.changes)
    lost_answers = sum(isinstance(s, str) for u in tally.uploads for s in u.statuses) + sum(
        isinstance(c.status, str) for c in tally.changes
    )
    figures = {
        "kills delivered": len(kills.pids),
        "uploads attempted": len(tally.uploads),
        "upload requests sent": sum(len(u.statuses) for u in tally.uploads),
        "uploads answered 201": sum(201 in u.statuses for u in tally.uploads),
        "uploads acknowledged (201, or 200 on a retry)": len(acknowledged),
        "uploads given up": sum(not u.acknowledged for u in tally.uploads),
        "quality changes attempted": len(tally.changes),
        "quality changes answered 200": changes_ok,
        "quality changes of unknown outcome": changes_unknown,
        "answers lost with a killed worker": lost_answers,
        "leftover parts removed at worker start": sum(
            int(n) for n in re.findall(r"removed (\d+) file\(s\) left in \.incoming", log_text)
        ),
        "parts in .incoming after the storm, before fsck": parts_left,
        "fsck": f"exit {fsck_status}, consistent={report['consistent']}, "
        f"{report['files_checked']} files verified, notices {notices or 'none'}",
        "storm duration s": round(storm_s, 1),
        "test duration s": round(duration_s, 1),
    }
    with capsys.disabled():
        print("\nkill storm figures:")
        for name, value in figures.items():
            print(f"  {name}: {value}")

    assert tally.errors == [], tally.errors
    assert len(kills.pids) == KILLS, f"only {len(kills.pids)} kills before the deadline"
    assert stopped == 0, log_tail
    # No request failed inside a worker (the app logs those with a traceback).
    assert "Traceback" not in log_text, log_text
    assert "unhandled error" not in log_text, log_text
    assert acknowledged, "no upload got through the storm"
    assert changes_ok, "no quality change got through the storm"

    # fsck: no inconsistency (notices: parts of killed uploads, recent strays).
    assert fsck_status == 0, report
    assert report["consistent"], report
    assert [f for f in report["findings"] if f["severe"]] == []
    assert report["files_checked"] == len(listed)

    # Every acknowledged upload is there, byte for byte; nothing else is listed.
    sent = {u.name: u for u in tally.uploads}
    by_name = {d["cal_file"]: d for d in listed}
    assert len(by_name) == len(listed), "one file listed twice"
    for upload in acknowledged:
        dataset = by_name.get(upload.name)
        assert dataset is not None, f"{upload.name} was acknowledged but is not listed"
        assert dataset["id"] == upload.dataset_id
        assert dataset["sha256"] == upload.sha256
        assert contents[upload.name] == upload.content, f"{upload.name} differs"
    for name, dataset in by_name.items():
        assert name in sent, f"{name} is listed but was never sent"
        assert dataset["sha256"] == sent[name].sha256, f"{name} listed with other bytes"

    # Quality: each dataset's history is what its one client sent, the last acknowledged wins.
    for dataset_id, document in histories.items():
        changes = [c for c in tally.changes if c.dataset_id == dataset_id]
        problem = check_quality_history(changes, document["quality_history"], document["cal_qual"])
        assert problem is None, f"dataset {dataset_id}: {problem}"
