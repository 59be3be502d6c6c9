"""When to try a failing subscription again, and when to stop.

Exponential backoff from :data:`FIRST_DELAY` doubling up to :data:`MAX_DELAY` between
attempts; a subscription keeps being retried until it has failed for :data:`GIVE_UP_AFTER`
(24 hours) without one success, and is then disabled (its owner re-enables it: nothing is
lost, the changes wait in the feed and are delivered from where it stopped).
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["FIRST_DELAY", "GIVE_UP_AFTER", "MAX_DELAY", "backoff_delay", "next_attempt"]

FIRST_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)


def backoff_delay(failures: int) -> timedelta:
    """The wait after the ``failures``-th consecutive failure (1: the first): 10 s, 20 s..., 1 h."""
    exponent = min(max(failures, 1) - 1, 20)  # 2**20 * 10 s is far past the cap already
    return min(FIRST_DELAY * 2**exponent, MAX_DELAY)


def next_attempt(failures: int, failing_since: datetime, now: datetime) -> datetime | None:
    """When to try again after a failure at ``now``; None: give up (failing for 24 h)."""
    if now - failing_since >= GIVE_UP_AFTER:
        return None
    return now + backoff_delay(failures)
