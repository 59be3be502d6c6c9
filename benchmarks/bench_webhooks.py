"""Webhook fan-out: one change delivered to 100 subscribers (issue 19 target: <= 2 s).

Starts a local receiver (a threaded HTTP server on 127.0.0.1 that checks every signature
with ``caldb_common.webhooks.verify_signature``), makes N subscriptions on a fresh database
(SQLite by default; ``--database-url`` for PostgreSQL, whose schema is DROPPED), records
one change and times ``caldb-server deliver --once``'s work (``run_once``) until every
subscriber acknowledged it. Baseline, in the same run: the same N signed POSTs sent one
after the other from one thread, without the database (the cost of the HTTP alone).

Run: ``.venv/bin/python benchmarks/bench_webhooks.py [--subscribers 100] [--threads 8]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness import reset_postgresql

from caldb_common.webhooks import SIGNATURE_HEADER, verify_signature
from caldb_server.changes.service import QUALITY, record_event
from caldb_server.db import Database, make_engine, utcnow
from caldb_server.migrate import upgrade
from caldb_server.webhooks.delivery import WorkerOptions
from caldb_server.webhooks.models import Subscription
from caldb_server.webhooks.secrets import new_secret, seal, secret_prefix
from caldb_server.webhooks.sender import post_delivery
from caldb_server.webhooks.targets import parse_target
from caldb_server.webhooks.worker import run_once

KEY = "bench-server-key-long-enough-0123456789abcdef"


class Receiver(ThreadingHTTPServer):
    """Checks each signature; counts the good ones and the bad ones."""

    daemon_threads = True

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.secrets = secrets
        self.good = self.bad = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            verify_signature(self.server.secrets[self.path], body, self.headers[SIGNATURE_HEADER])
            good = True
        except (KeyError, ValueError):
            good = False
        with self.server.lock:
            self.server.good += good
            self.server.bad += not good
        self.send_response(204 if good else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _database(url: str | None, directory: Path) -> Database:
    url = reset_postgresql(url) if url else f"sqlite:///{directory / 'bench.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return Database(url)


def _subscribe(database: Database, port: int, count: int) -> dict[str, str]:
    secrets = {}
    with database.unit_of_work() as session:
        for number in range(count):
            secret = new_secret()
            secrets[f"/hooks/{number}"] = secret
            session.add(
                Subscription(
                    owner="bench",
                    url=f"http://127.0.0.1:{port}/hooks/{number}",
                    codenames=[],
                    secret_sealed=seal(KEY, secret),
                    secret_prefix=secret_prefix(secret),
                    active=True,
                    delivered_seq=0,
                    next_attempt_at=utcnow(),
                    attempts=0,
                )
            )
    return secrets


def _record_change(database: Database) -> None:
    with database.unit_of_work() as session:
        record_event(
            session, QUALITY, actor="bench", now=utcnow(), subjects=[("SVOM", "MXT", "GAIN")]
        )


def _baseline(receiver: Receiver, secrets: dict[str, str]) -> float:
    """The same number of signed POSTs, one after the other, without the database."""
    body = json.dumps({"change": {"seq": 1}}).encode()
    started = time.perf_counter()
    for path, secret in secrets.items():
        target = parse_target(f"http://127.0.0.1:{receiver.server_address[1]}{path}")
        outcome = post_delivery(
            target,
            "127.0.0.1",
            body,
            secret=secret,
            delivery_id="baseline",
            event="quality",
            timestamp=int(time.time()),
            connect_timeout_s=5,
            read_timeout_s=10,
        )
        assert outcome.ok, outcome
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="PostgreSQL (its schema is DROPPED)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database = _database(args.database_url, Path(directory))
        receiver = Receiver({})
        threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True).start()
        try:
            receiver.secrets = _subscribe(database, receiver.server_address[1], args.subscribers)
            _record_change(database)
            options = WorkerOptions(secret_key=KEY, allow_private=True, threads=args.threads)
            started = time.perf_counter()
            result = run_once(database, options)
            fan_out = time.perf_counter() - started
            good = receiver.good
            baseline = _baseline(receiver, receiver.secrets)
        finally:
            receiver.shutdown()
            receiver.server_close()
            database.dispose()
    backend = "postgresql" if args.database_url else "sqlite"
    print(f"backend {backend}, {args.subscribers} subscribers, {args.threads} threads")
    print(
        f"fan-out of one change (run_once): {fan_out:.3f} s, {result.delivered} delivered, "
        f"{good} signatures verified, {receiver.bad} refused"
    )
    print(f"baseline: {args.subscribers} signed POSTs in sequence, no database: {baseline:.3f} s")
    print(f"target <= 2 s: {'met' if fan_out <= 2 and good == args.subscribers else 'MISSED'}")


if __name__ == "__main__":
    main()
