"""The server's exceptions and their one rendering: RFC 9457 ``application/problem+json``.

Services raise a :class:`CaldbError` subclass with a ``detail`` sentence and, for
validation, the list of every failed check (``errors``: items with ``reason`` and where it
applies: ``field``, or ``hdu`` and ``keyword``). :func:`register_error_handlers` is the only
place that turns exceptions into responses. Unexpected exceptions are logged with an error
id and answered with a generic 500 that carries the id, never the traceback. A blueprint that
serves pages (the web interface) registers a renderer with :func:`set_problem_renderer`: its
errors carry the same problem document, shown as an HTML page.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, json, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

__all__ = [
    "BadRequest",
    "CaldbError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "ValidationFailed",
    "json_problem",
    "problem_response",
    "register_error_handlers",
    "set_problem_renderer",
]

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "urn:svom-caldb:problem:"
_RENDERERS = "caldb.problem_renderers"  # app.extensions: blueprint -> page renderer

#: Turns a problem document (and its headers) into the response a blueprint gives.
ProblemRenderer = Callable[[dict[str, Any], dict[str, str]], BaseResponse]


class CaldbError(Exception):
    """Base of the errors a client can be told about."""

    status = 500
    title = "Internal server error"
    slug = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra


class BadRequest(CaldbError):
    """The request cannot be read (malformed body, missing part)."""

    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(CaldbError):
    """No valid credentials; answered with ``WWW-Authenticate: Bearer``."""

    status, title, slug = 401, "Authentication required", "unauthorized"

    def __init__(self, detail: str, *, error: str | None = "invalid_token", **kwargs: Any):
        challenge = f'Bearer realm="caldb", error="{error}"' if error else 'Bearer realm="caldb"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge}, **kwargs)


class Forbidden(CaldbError):
    """Valid credentials without the needed role."""

    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(CaldbError):
    """No such resource."""

    status, title, slug = 404, "Not found", "not-found"


class Conflict(CaldbError):
    """The request contradicts what is stored (different bytes, duplicate dataset)."""

    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(CaldbError):
    """The body exceeds ``CALDB_MAX_UPLOAD_MB``."""

    status, title, slug = 413, "Payload too large", "payload-too-large"


class ValidationFailed(CaldbError):
    """The input was read but breaks rules; ``errors`` lists every failed check."""

    status, title, slug = 422, "Validation failed", "validation-failed"


class TooManyRequests(CaldbError):
    """Too many attempts (logins); ``Retry-After`` says when to try again."""

    status, title, slug = 429, "Too many requests", "too-many-requests"

    def __init__(self, detail: str, *, retry_after_s: int, **kwargs: Any):
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)}, **kwargs)


class ServiceUnavailable(CaldbError):
    """A dependency (the database) cannot be reached."""

    status, title, slug = 503, "Service unavailable", "service-unavailable"


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build an ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    renderer = current_app.extensions.get(_RENDERERS, {}).get(request.blueprint or "")
    if renderer is not None:
        return renderer(body, dict(headers or {}))
    return json_problem(body, dict(headers or {}))


def json_problem(body: dict[str, Any], headers: dict[str, str]) -> Response:
    """The problem document ``body`` as ``application/problem+json``."""
    response = Response(
        json.dumps(body), status=body["status"], mimetype="application/problem+json"
    )
    response.headers.update(headers)
    return response


def set_problem_renderer(app: Flask, blueprint: str, renderer: ProblemRenderer) -> None:
    """Render the errors of ``blueprint`` with ``renderer`` (a page) instead of JSON.

    ``blueprint`` ``""`` stands for requests that matched no route; its renderer decides
    between a page and :func:`json_problem` (an API client asking for a missing URL).
    """
    app.extensions.setdefault(_RENDERERS, {})[blueprint] = renderer


def _handle_caldb_error(error: CaldbError) -> Response:
    return problem_response(
        error.status,
        error.title,
        error.detail,
        slug=error.slug,
        errors=error.errors,
        headers=error.headers,
        **error.extra,
    )


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    if status == 413:
        return _handle_caldb_error(
            PayloadTooLarge(
                "the request body is larger than the server accepts (CALDB_MAX_UPLOAD_MB)"
            )
        )
    return problem_response(status, error.name, error.description or error.name, headers=headers)


def _handle_database_unavailable(error: OperationalError) -> Response:
    log.warning("database unavailable on %s %s: %s", request.method, request.path, error.orig)
    return _handle_caldb_error(
        ServiceUnavailable(
            "the database is unavailable at the moment; try again shortly",
            headers={"Retry-After": "5"},
        )
    )


def _handle_unexpected(error: Exception) -> Response:
    if current_app.testing:
        raise error  # let tests fail loudly on bugs instead of reading a generic 500
    error_id = uuid.uuid4().hex
    log.exception("unhandled error %s on %s %s", error_id, request.method, request.path)
    return problem_response(
        500,
        CaldbError.title,
        "The server failed to answer this request; quote the error id to its operators.",
        slug=CaldbError.slug,
        error_id=error_id,
    )


def register_error_handlers(app: Flask) -> None:
    """Render every error raised while handling a request as problem+json."""
    app.register_error_handler(CaldbError, _handle_caldb_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(OperationalError, _handle_database_unavailable)
    app.register_error_handler(Exception, _handle_unexpected)
