"""Bounded login attempts, shared by every server process through the database.

At most ``CALDB_LOGIN_ATTEMPTS`` attempts per user name, and four times as many per client
address, in a window of ``CALDB_LOGIN_WINDOW`` seconds; beyond that, 429 with
``Retry-After`` until the window ends. Every attempt is counted *before* the password is
checked, by one atomic upsert in its own committed unit of work: concurrent guesses
cannot slip past the limit, and the count survives the rollback of the failed request.
A successful login gives its attempt back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, update
from sqlalchemy.orm import Session

from caldb_server.auth.models import LoginThrottle
from caldb_server.db import UTCDateTime, upsert_statement

__all__ = ["ThrottleKey", "count_attempt", "give_back", "throttle_keys"]

ADDRESS_FACTOR = 4  # several people may share an address (a NAT); a name is one account
_TABLE = LoginThrottle.__table__


@dataclass(frozen=True)
class ThrottleKey:
    """One counter and its limit per window."""

    key: str
    limit: int


def throttle_keys(username: str, address: str | None, attempts: int) -> list[ThrottleKey]:
    """The counters a login attempt for ``username`` from ``address`` is charged to."""
    keys = [ThrottleKey(f"user:{username.lower()}", attempts)]
    if address:
        keys.append(ThrottleKey(f"addr:{address}", attempts * ADDRESS_FACTOR))
    return keys


def count_attempt(
    session: Session, keys: Sequence[ThrottleKey], *, now: datetime, window: timedelta
) -> int:
    """Count one attempt under each key; the seconds to wait if any is over its limit, else 0."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.window_start <= now - window))
    wait: float | None = None
    for throttle in keys:
        insert = upsert_statement(session, LoginThrottle).values(
            key=throttle.key, attempts=1, window_start=now
        )
        window_over = _TABLE.c.window_start <= now - window
        statement = insert.on_conflict_do_update(
            index_elements=[_TABLE.c.key],
            set_={
                "attempts": case((window_over, 1), else_=_TABLE.c.attempts + 1),
                "window_start": case(
                    (window_over, literal(now, UTCDateTime())), else_=_TABLE.c.window_start
                ),
            },
        ).returning(_TABLE.c.attempts, _TABLE.c.window_start)
        attempts, window_start = session.execute(statement).one()
        if attempts > throttle.limit:
            wait = max(wait or 0.0, (window_start + window - now).total_seconds())
    return 0 if wait is None else max(1, math.ceil(wait))


def give_back(session: Session, keys: Sequence[ThrottleKey]) -> None:
    """After a successful login: forget the name's failures, return the address's attempt."""
    name_key, *address_keys = keys
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == name_key.key))
    for throttle in address_keys:
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == throttle.key, LoginThrottle.attempts > 0)
            .values(attempts=LoginThrottle.attempts - 1)
        )
