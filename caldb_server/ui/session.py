"""Who is signed in to the web interface: a signed session cookie holding an access token.

Signing in exchanges the password for the same recorded access token the API issues
(:func:`caldb_server.auth.login.password_sign_in`: same throttle, same lifetime), kept in
Flask's signed session cookie. Each request verifies it as a bearer token is verified, so
an expired, revoked or role-changed token signs the user out everywhere, and signing out
revokes it. The cookie is ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` whenever the page
was served over HTTPS; its signing key is derived from the instance secret, so it is never
the key that signs tokens.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface

from caldb_server.auth.access import principal_of
from caldb_server.auth.records import revoke
from caldb_server.auth.tokens import Principal, SignedToken
from caldb_server.errors import Unauthorized
from caldb_server.web import db_session, request_time

__all__ = [
    "init_app",
    "session_principal",
    "sign_in",
    "sign_out",
    "signed_in",
]

COOKIE = "caldb_session"
_FIELD = "access"  # the session field holding the access token


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked ``Secure`` when the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure on HTTPS (``request.is_secure``; behind a proxy, its forwarded scheme)."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask, secret_key: str) -> None:
    """Sign sessions with a key of their own, derived from the instance secret."""
    app.secret_key = hmac.new(secret_key.encode(), b"caldb web session", hashlib.sha256).hexdigest()
    app.session_interface = _SessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )


def session_principal() -> Principal:
    """The signed-in principal (401 when nobody is signed in, or the token is refused)."""
    token = session.get(_FIELD)
    if not isinstance(token, str):
        raise Unauthorized("sign in to see this page", error=None)
    try:
        return principal_of(token)
    except Unauthorized:
        session.pop(_FIELD, None)  # expired or revoked: signed out
        raise


def signed_in() -> Principal | None:
    """The signed-in principal, or None (for the header of every page)."""
    if "ui_principal" not in g:
        try:
            g.ui_principal = session_principal() if _FIELD in session else None
        except Unauthorized:
            g.ui_principal = None
    principal: Principal | None = g.ui_principal
    return principal


def sign_in(signed: SignedToken) -> None:
    """Keep ``signed`` in a fresh session (a new cookie: no session fixation).

    Signing in again ends the session it replaces: its token is revoked, not left valid.
    """
    sign_out()
    session[_FIELD] = signed.token
    session.permanent = False  # ends with the browser, or with the token's lifetime


def sign_out() -> None:
    """Revoke the session's token and forget it."""
    principal = signed_in()
    if principal is not None and principal.token_id is not None:
        revoke(db_session(), principal.token_id, actor=principal.subject, now=request_time())
    session.clear()
    g.pop("ui_principal", None)
