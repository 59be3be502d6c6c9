"""The headers every response carries, applied in one place (an ``after_request`` hook).

- Security headers on every answer, errors, 404s and the HEASARC tree included:
  ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy:
  no-referrer`` and a ``Content-Security-Policy`` chosen per blueprint. The API and the tree
  serve data, never pages, so by default nothing may be loaded by, or frame, an answer
  (:data:`DATA_POLICY`). A blueprint that serves pages (a web UI) registers its own policy
  with :func:`set_content_security_policy`; a view may also set the header itself.
- ``Cache-Control: no-store`` on every answer of the blueprints that hand out tokens or user
  records (``auth``, ``users``), their errors included: a token must not sit in any cache.
- An answer that depends on the caller's token (every endpoint but public ones; reads too
  when ``CALDB_PUBLIC_READ=false``) varies on ``Authorization`` and is never ``public``: a
  shared cache must not give one caller's private file to another.
- Every 503 says when to try again (``Retry-After``), which clients honour.

The hook is registered before the unit-of-work hook, so that it also sees the answer that
replaces a response whose commit failed (Flask runs ``after_request`` hooks in reverse).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RoutingException

from caldb_server.auth.access import needs_token

__all__ = [
    "DATA_POLICY",
    "RETRY_AFTER_S",
    "HeaderPolicy",
    "init_app",
    "set_content_security_policy",
]

# Nothing may be fetched by, embedded in, or framed around an answer of the API or the tree.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
    "Referrer-Policy": "no-referrer",
}
RETRY_AFTER_S = 5  # what a 503 tells clients to wait, unless the raiser knows better
_EXTENSION = "caldb.headers"


@dataclass
class HeaderPolicy:
    """Which Content-Security-Policy each blueprint gets, and which are never cached."""

    default_csp: str = DATA_POLICY
    csp_by_blueprint: dict[str, str] = field(default_factory=dict)
    no_store_blueprints: frozenset[str] = frozenset({"auth", "users"})

    def csp_for(self, blueprint: str | None) -> str:
        """The policy of answers from ``blueprint`` (None: no route matched)."""
        return self.csp_by_blueprint.get(blueprint or "", self.default_csp)


def init_app(app: Flask, policy: HeaderPolicy | None = None) -> None:
    """Apply the headers to every response of ``app``; register before the other hooks."""
    app.extensions[_EXTENSION] = policy or HeaderPolicy()
    app.after_request(_apply)


def set_content_security_policy(app: Flask, blueprint: str, policy: str) -> None:
    """Give the answers of ``blueprint`` their own policy (a web UI loads its own scripts)."""
    app.extensions[_EXTENSION].csp_by_blueprint[blueprint] = policy


def _endpoint() -> str | None:
    """The endpoint of the request; for a 405, the endpoint the path belongs to."""
    if request.url_rule is not None:
        return request.url_rule.endpoint
    error = request.routing_exception
    if not isinstance(error, MethodNotAllowed) or not error.valid_methods:
        return None  # no route at all: the app-wide defaults apply
    adapter = current_app.create_url_adapter(request)
    if adapter is None:
        return None
    try:
        endpoint, _ = adapter.match(method=sorted(error.valid_methods)[0])
    except (HTTPException, RoutingException):
        return None
    return str(endpoint)


def _apply(response: Response) -> Response:
    policy: HeaderPolicy = current_app.extensions[_EXTENSION]
    endpoint = _endpoint()
    blueprint = endpoint.rpartition(".")[0] if endpoint else None
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", policy.csp_for(blueprint))
    if endpoint is not None and needs_token(endpoint):
        response.vary.add("Authorization")
        cache = response.cache_control
        if not cache.no_store:
            cache.public = False
            cache.private = True
    if blueprint in policy.no_store_blueprints:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"  # HTTP/1.0 caches (RFC 6749 §5.1)
        response.headers.pop("Expires", None)
    if response.status_code == 503:
        response.headers.setdefault("Retry-After", str(RETRY_AFTER_S))
    return response
