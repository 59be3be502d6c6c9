"""Typed CaDBIO errors, built from the server's RFC 9457 problem documents.

Every error carries ``status`` (None when no answer came back), ``title``, ``detail`` and
the server's per-field ``errors`` (each a dict with ``reason`` and ``field``, or ``hdu`` and
``keyword``). Catch :class:`CaDBIOError` for any of them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "CaDBIOError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "ServerError",
    "TransportError",
    "ValidationFailed",
    "error_from_response",
]


class CaDBIOError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.title = title or type(self).__name__
        self.errors = errors or []
        self.problem = problem or {}

    def __str__(self) -> str:
        lines = [f"{self.status} {self.title}: {self.detail}" if self.status else self.detail]
        for item in self.errors:
            if item.get("reason") == self.detail:  # already said (an unknown search name)
                continue
            where = ", ".join(f"{k}={v}" for k, v in item.items() if k not in ("reason", "known"))
            lines.append(f"  - {where + ': ' if where else ''}{item.get('reason', '')}")
        return "\n".join(lines)


class TransportError(CaDBIOError):
    """No usable answer: connection refused or reset, timeout, truncated or corrupt download."""


class AuthError(CaDBIOError):
    """401: no token, or the server refused it; ``token_source`` says where it came from."""

    token_source: str | None = None


class Forbidden(CaDBIOError):
    """403: the token is valid but lacks the role."""


class NotFound(CaDBIOError):
    """404: no such dataset, file or user."""


class Conflict(CaDBIOError):
    """409: different bytes under the same name, or a duplicate of a good dataset."""


class ValidationFailed(CaDBIOError):
    """400, 413 or 422: the request was refused; ``errors`` lists each failed check."""


class ServerError(CaDBIOError):
    """5xx, or 429, after every retry."""


_BY_STATUS: dict[int, type[CaDBIOError]] = {
    400: ValidationFailed,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: ValidationFailed,
    422: ValidationFailed,
}


def error_from_response(status: int, body: Any, reason: str = "") -> CaDBIOError:
    """The typed error for an HTTP answer (``body``: the decoded JSON, if any)."""
    kind = _BY_STATUS.get(status) or (ServerError if status >= 429 else CaDBIOError)
    problem = body if isinstance(body, dict) else {}
    detail = problem.get("detail")
    errors = problem.get("errors")
    return kind(
        detail if isinstance(detail, str) else f"the server answered {status} {reason}".strip(),
        status=status,
        title=problem.get("title") if isinstance(problem.get("title"), str) else reason or None,
        errors=errors if isinstance(errors, list) else None,
        problem=problem,
    )
