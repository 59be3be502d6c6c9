"""Change numbers grow in commit order: a reader polling ``since=N`` never misses one.

Writers commit events concurrently, each holding its transaction open a little after its
number is given (widening the window in which a number allocated earlier could commit
later, as with a database sequence); a reader polls ``since`` its last number meanwhile.
Each answer must continue the previous one without a gap, and in the end the reader must
have seen every event: a lower number appearing after a higher one had been seen would be
missed by the reader, and show as a gap or a shortfall.
"""

from __future__ import annotations

import random
import threading

from sqlalchemy import event

from caldb_server.changes.service import QUALITY, record_event
from caldb_server.db import utcnow
from caldb_server.web import extension

WRITERS, EVENTS_PER_WRITER = 4, 25


def _write(app, writer: int, failures: list[BaseException]) -> None:
    database = extension(app).database
    pause = random.Random(writer)
    try:
        for number in range(EVENTS_PER_WRITER):
            with database.unit_of_work() as session:
                # After the commit's last flush, i.e. once the number is given: hold on.
                event.listen(session, "after_flush", lambda *_: threading.Event().wait(
                    pause.uniform(0, 0.004)
                ))  # fmt: skip
                record_event(
                    session,
                    QUALITY,
                    actor=f"writer{writer}",
                    now=utcnow(),
                    subjects=[("SVOM", "MXT", "GAIN")],
                    details={"number": number},
                )
    except BaseException as error:  # reported by the test's thread
        failures.append(error)


def _poll_while_alive(client, writers: list[threading.Thread]) -> list[int]:
    """Numbers seen by polling ``since`` the last one while writers write, each answer checked."""
    seen: list[int] = []
    polls = 0
    while any(thread.is_alive() for thread in writers) or polls == 0:
        since = seen[-1] if seen else 0
        body = client.get(f"/api/v1/changes?since={since}&limit=1000").get_json()
        got = [change["seq"] for change in body["changes"]]
        assert got == list(range(since + 1, since + 1 + len(got))), (since, got)
        seen += got
        polls += 1
    return seen


def test_a_poller_never_sees_a_lower_number_after_a_higher_one(app, client):
    failures: list[BaseException] = []
    writers = [
        threading.Thread(target=_write, args=(app, writer, failures)) for writer in range(WRITERS)
    ]
    for thread in writers:
        thread.start()
    try:
        seen = _poll_while_alive(client, writers)
    finally:  # a failed poll must not leave writers behind
        for thread in writers:
            thread.join()
    assert not failures, failures
    since = seen[-1] if seen else 0
    seen += [c["seq"] for c in client.get(f"/api/v1/changes?since={since}").get_json()["changes"]]
    assert seen == list(range(1, WRITERS * EVENTS_PER_WRITER + 1))
