"""The one place where endpoints check roles: :func:`require_role`.

A missing, malformed, forged or expired token gives 401 with a ``WWW-Authenticate:
Bearer`` challenge; a valid token without the role gives 403. Tokens are read from the
``Authorization`` header only: a token in the URL would end up in logs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request

from caldb_server.auth.tokens import Principal, TokenError, verify_token
from caldb_server.errors import Forbidden, Unauthorized
from caldb_server.web import extension

__all__ = ["current_principal", "require_role"]

P = ParamSpec("P")
R = TypeVar("R")
_URL_TOKEN_PARAMETERS = ("access_token", "token")


def _bearer_token() -> str:
    if any(name in request.args for name in _URL_TOKEN_PARAMETERS):
        raise Unauthorized("tokens in the URL are refused; send an Authorization: Bearer header")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthorized("this endpoint needs a bearer token")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def authenticate() -> Principal:
    """The principal of the request's bearer token (401 if there is none or it is bad)."""
    settings = extension().settings
    try:
        return verify_token(_bearer_token(), settings.secret_key, issuer=settings.token_issuer)
    except TokenError as error:
        raise Unauthorized(str(error)) from None


def require_role(role: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a view so that it needs a token holding ``role`` (or a higher one)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = authenticate()
            if not principal.has_role(role):
                raise Forbidden(
                    f"this needs the {role!r} role; the token has {sorted(principal.roles)}"
                )
            g.principal = principal
            return view(*args, **kwargs)

        return guarded

    return decorate


def current_principal() -> Principal:
    """The principal of a guarded view."""
    return g.principal
