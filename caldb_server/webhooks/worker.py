"""``caldb-server deliver``'s loop: claims handed to a thread pool, one per subscription.

Each claimed subscription is delivered in its own thread, with short connect and read
timeouts: a slow or hostile receiver holds one thread for at most those timeouts per
attempt, then backs off, while the other threads deliver to everyone else. The loop only
claims as many subscriptions as it has free threads, so what it claims it starts at once
(a claim is never left waiting behind a slow receiver until its lease runs out).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from caldb_server.db import Database, utcnow
from caldb_server.webhooks.delivery import (
    Clock,
    WorkerOptions,
    claim_due,
    deliver_claimed,
    prune_log,
)

__all__ = ["RoundResult", "run_forever", "run_once"]

log = logging.getLogger(__name__)
PRUNE_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class RoundResult:
    """What one pass did: subscriptions claimed, changes delivered."""

    claimed: int
    delivered: int


def _deliver(
    database: Database, options: WorkerOptions, claim: tuple[int, str], clock: Clock
) -> int:
    try:
        return deliver_claimed(database, options, claim[0], claim[1], clock)
    except Exception:  # a database hiccup: the lease expires and the work is taken up again
        log.exception("delivery to subscription %s failed", claim[0])
        return 0


def run_once(database: Database, options: WorkerOptions, *, clock: Clock = utcnow) -> RoundResult:
    """Deliver what is due now, until nothing more is due (``caldb-server deliver --once``)."""
    return _run(database, options, clock=clock, stop=None, poll_interval_s=0)


def run_forever(
    database: Database,
    options: WorkerOptions,
    *,
    poll_interval_s: float,
    stop: threading.Event,
    clock: Clock = utcnow,
) -> None:
    """Deliver until ``stop`` is set, polling for due work every ``poll_interval_s``."""
    _run(database, options, clock=clock, stop=stop, poll_interval_s=poll_interval_s)


def _claim(
    database: Database, options: WorkerOptions, clock: Clock, free: int
) -> list[tuple[int, str]]:
    try:
        return claim_due(database, clock(), free, options.lease)
    except Exception:  # the database is down: say so, and try again later
        log.exception("claiming due subscriptions failed")
        return []


def _prune(database: Database, now: datetime) -> datetime:
    try:
        prune_log(database, now)
    except Exception:  # the database is down: the claims will say so too
        log.exception("pruning the delivery log failed")
    return now


def _run(
    database: Database,
    options: WorkerOptions,
    *,
    clock: Clock,
    stop: threading.Event | None,
    poll_interval_s: float,
) -> RoundResult:
    """Keep every thread busy with a claimed subscription; without ``stop``, end when idle."""
    running: set[Future[int]] = set()
    claimed = delivered = 0
    pruned_at: datetime | None = None
    with ThreadPoolExecutor(options.threads, thread_name_prefix="deliver") as pool:
        while stop is None or not stop.is_set():
            if pruned_at is None or clock() - pruned_at >= PRUNE_EVERY:
                pruned_at = _prune(database, clock())
            done = {future for future in running if future.done()}
            delivered += sum(future.result() for future in done)
            running -= done
            free = options.threads - len(running)
            claims = _claim(database, options, clock, free) if free > 0 else []
            claimed += len(claims)
            running |= {pool.submit(_deliver, database, options, c, clock) for c in claims}
            if claims:
                continue
            if running:  # every thread busy, or nothing else due: wait for one to finish
                wait(running, timeout=poll_interval_s or None, return_when="FIRST_COMPLETED")
            elif stop is None:
                break
            else:
                stop.wait(poll_interval_s)
        wait(running)
        delivered += sum(future.result() for future in running)
    return RoundResult(claimed, delivered)
