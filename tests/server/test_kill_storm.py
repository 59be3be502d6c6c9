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

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.server.storm import (
    BIN,
    CLIENTS,
    GUNICORN,
    KILLS,
    STORM_DEADLINE_S,
    KillLog,
    gunicorn,
    killer_loop,
    run_fsck,
    server_env,
    stop,
    wait_healthy,
)
from tests.server.storm_clients import QualityChange, Tally, client_loop

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.slow,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

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
