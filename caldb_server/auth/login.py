"""Signing in with a password, shared by the API's token issuer and the web interface.

Both count the attempt first, in a unit of work of its own (a refusal must still count),
refuse with 429 past the limit (``CALDB_LOGIN_ATTEMPTS`` per user name, four times that
per client address, within ``CALDB_LOGIN_WINDOW`` seconds), then exchange the password for
a recorded access token, and give the attempt back when it succeeded. The web interface
keeps that token in its signed session cookie, so signing out revokes it like any other.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session

from caldb_server.auth.throttle import count_attempt, give_back, throttle_keys
from caldb_server.auth.tokens import SignedToken
from caldb_server.errors import TooManyRequests
from caldb_server.users.service import login
from caldb_server.web import Caldb, request_time

__all__ = ["password_sign_in"]

log = logging.getLogger(__name__)


def password_sign_in(
    caldb: Caldb, session: Session, username: str, password: str, *, address: str | None
) -> SignedToken:
    """An access token for ``username`` if ``password`` is right and the throttle allows.

    Raises
    ------
    TooManyRequests
        Past the allowed attempts, with the seconds to wait.
    Unauthorized
        If the name is unknown, the password wrong or the user disabled (one answer).
    """
    settings, now = caldb.settings, request_time()
    keys = throttle_keys(username, address, settings.login_attempts)
    with caldb.database.unit_of_work() as attempts:
        wait = count_attempt(
            attempts, keys, now=now, window=timedelta(seconds=settings.login_window_s)
        )
    if wait:
        log.warning("login attempts for %r from %s are throttled", username, address)
        raise TooManyRequests(f"too many login attempts; try again in {wait} s", retry_after_s=wait)
    signed = login(
        session,
        username,
        password,
        secret=settings.secret_key,
        issuer=settings.token_issuer,
        lifetime=timedelta(minutes=settings.access_token_minutes),
        now=now,
    )
    give_back(session, keys)
    return signed
