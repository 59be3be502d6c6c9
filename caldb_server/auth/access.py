"""Who may call what: every endpoint declares an access rule, enforced in one place.

Views are marked with :func:`public`, :func:`readable`, :func:`authenticated` or
:func:`require_role`; :func:`enforce_access` runs before every request and applies the
mark, and :func:`check_access_rules` refuses to start an app with an unmarked endpoint
(fail closed). Reads (``readable``, the HEASARC tree included) are public unless
``CALDB_PUBLIC_READ=false``, which makes them need the ``reader`` role.

A missing, malformed, forged, expired or revoked token gives 401 with a
``WWW-Authenticate: Bearer error="invalid_token"`` challenge; a valid token without the
role gives 403. Tokens are read from the ``Authorization`` header only: a token in the
URL would end up in proxy and server logs, so one there is refused. A blueprint may read
its principal elsewhere (:func:`set_authenticator`): the web interface reads it from its
signed session cookie; the marks and their enforcement stay the same.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from typing import TypeVar

from flask import Flask, current_app, g, request

from caldb_server.auth.external import KeySetUnavailable
from caldb_server.auth.records import is_revoked
from caldb_server.auth.tokens import ROLES, Principal, TokenError
from caldb_server.errors import Forbidden, ServiceUnavailable, Unauthorized
from caldb_server.web import extension

__all__ = [
    "authenticated",
    "check_access_rules",
    "current_principal",
    "enforce_access",
    "needs_token",
    "principal_of",
    "public",
    "readable",
    "require_role",
    "set_authenticator",
]

V = TypeVar("V", bound=Callable[..., object])
PUBLIC, READ, AUTHENTICATED = "public", "read", "authenticated"
_URL_TOKEN_PARAMETERS = ("access_token", "token", "jwt")
_RULE = "access_rule"  # the view function's attribute holding its rule
_AUTHENTICATORS = "caldb.authenticators"  # app.extensions: blueprint -> principal reader


def _mark(view: V, rule: str) -> V:
    setattr(view, _RULE, rule)
    return view


def _rule_of(endpoint: str) -> str:
    rule: str = getattr(current_app.view_functions[endpoint], _RULE)
    return rule


def public(view: V) -> V:
    """Mark a view as open to everyone (health, the token issuer)."""
    return _mark(view, PUBLIC)


def readable(view: V) -> V:
    """Mark a read view: public, or the ``reader`` role with ``CALDB_PUBLIC_READ=false``."""
    return _mark(view, READ)


def authenticated(view: V) -> V:
    """Mark a view as needing a valid token, whatever its roles."""
    return _mark(view, AUTHENTICATED)


def require_role(role: str) -> Callable[[V], V]:
    """Mark a view as needing a token with ``role`` (or a role that includes it)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    return lambda view: _mark(view, role)


def _needed(rule: str) -> tuple[bool, str | None]:
    """Whether a token is needed for ``rule``, and which role."""
    if rule == PUBLIC:
        return False, None
    if rule == READ:
        return (False, None) if extension().settings.public_read else (True, "reader")
    if rule == AUTHENTICATED:
        return True, None
    return True, rule


def needs_token(endpoint: str) -> bool:
    """Whether answers of ``endpoint`` depend on the caller's token (caches must vary on it)."""
    return _needed(_rule_of(endpoint))[0]


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthorized("this needs a bearer token (Authorization: Bearer <token>)")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def authenticate() -> Principal:
    """The principal of the request's bearer token (401 if there is none, or it is refused)."""
    return principal_of(_bearer_token())


def principal_of(token: str) -> Principal:
    """The principal of ``token``: verified, and not revoked (401 otherwise)."""
    try:
        principal = extension().verifier.verify(token)
    except TokenError as error:
        raise Unauthorized(str(error)) from None
    except KeySetUnavailable as error:
        raise ServiceUnavailable(str(error), headers={"Retry-After": "10"}) from None
    if principal.token_id is not None and _revoked(principal.token_id):
        raise Unauthorized("the token has been revoked")
    return principal


def _revoked(token_id: str) -> bool:
    # A short read session of its own: the request's session (a write one for an upload)
    # should not begin its transaction before the view needs it.
    with closing(extension().database.session()) as session:
        return is_revoked(session, token_id)


def set_authenticator(app: Flask, blueprint: str, reader: Callable[[], Principal]) -> None:
    """Read the principal of ``blueprint``'s requests with ``reader`` instead of a bearer token.

    ``reader`` raises :class:`Unauthorized` when there is no valid principal, as
    :func:`authenticate` does.
    """
    app.extensions.setdefault(_AUTHENTICATORS, {})[blueprint] = reader


def _principal() -> Principal:
    readers = current_app.extensions.get(_AUTHENTICATORS, {})
    return readers.get(request.blueprint or "", authenticate)()


def enforce_access() -> None:
    """Apply the access rule of the endpoint being called (a ``before_request`` hook)."""
    if any(name in request.args for name in _URL_TOKEN_PARAMETERS):
        raise Unauthorized("tokens in the URL are refused; send an Authorization: Bearer header")
    if request.endpoint is None:
        return  # no such route: the 404 or 405 follows
    rule = _rule_of(request.endpoint)
    needs_token, role = _needed(rule)
    if not needs_token:
        return
    principal = _principal()
    if role is not None and not principal.has_role(role):
        raise Forbidden(f"this needs the {role!r} role; the token has {sorted(principal.roles)}")
    g.principal = principal


def current_principal() -> Principal:
    """The principal of a view that needs a token."""
    return g.principal


def check_access_rules(app: Flask) -> None:
    """Refuse an app in which some endpoint has no access rule.

    Raises
    ------
    RuntimeError
        Naming the endpoints without one.
    """
    unmarked = sorted(name for name, view in app.view_functions.items() if not hasattr(view, _RULE))
    if unmarked:
        raise RuntimeError(f"endpoints without an access rule: {', '.join(unmarked)}")
    app.before_request(enforce_access)
