"""Request plumbing: the app's services, and one unit of work per request.

Views call :func:`db_session` to get the request's session (a write session for POST,
PATCH, PUT and DELETE). After the view, :func:`_finish` commits it if the response is a
success and rolls it back otherwise; this is the only commit of a request.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy.orm import Session

from caldb_common.api import API_PREFIX
from caldb_common.text import CONTROL, CONTROL_RULE, control_characters, json_control_problems
from caldb_server import db
from caldb_server.auth.verification import TokenVerifier
from caldb_server.config import Settings
from caldb_server.errors import NotFound, PayloadTooLarge, ValidationFailed
from caldb_server.registry import Registry
from caldb_server.storage import Storage

if TYPE_CHECKING:  # made by the app factory; search imports this module
    from werkzeug.datastructures import MultiDict

    from caldb_server.search.cache import SearchCache

__all__ = [
    "Caldb",
    "api_root",
    "db_session",
    "extension",
    "init_app",
    "json_object",
    "parse_bounded_integer",
    "parse_flag",
    "query_parameter_errors",
    "refuse_control_characters",
    "request_time",
]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_JSON_BODY = 64 * 1024
_FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
# Blueprints whose paths are only looked up: the HEASARC tree answers 404 to any path it
# does not hold (what CFITSIO expects), one with a control character included.
LOOKUP_BLUEPRINTS = frozenset({"heasarc"})


@dataclass(frozen=True)
class Caldb:
    """The services of one app: settings, database, registry, tree, verifier, search cache."""

    settings: Settings
    database: db.Database
    registry: Registry
    storage: Storage
    verifier: TokenVerifier
    search_cache: SearchCache


def extension(app: Flask | None = None) -> Caldb:
    """The :class:`Caldb` services of ``app`` (default: the current app)."""
    return (app or current_app).extensions["caldb"]


def db_session() -> Session:
    """The request's session, created on first use."""
    if "db_session" not in g:
        g.db_session = extension().database.session(write=request.method in WRITE_METHODS)
    return g.db_session


def json_object(fields: Collection[str], *, example: str) -> dict[str, Any]:
    """The request's body as a JSON object with only the given ``fields`` (each optional).

    Raises
    ------
    PayloadTooLarge
        For a body over :data:`MAX_JSON_BODY` bytes (these are small documents).
    ValidationFailed
        If the body is not a JSON object, has unknown fields, or a string (key or value,
        at any depth) with a control character; ``example`` shows a good one.
    """
    # Read at most one byte more than allowed: a chunked body has no Content-Length to check.
    data = request.stream.read(MAX_JSON_BODY + 1)
    if len(data) > MAX_JSON_BODY:
        raise PayloadTooLarge(f"this takes a small JSON object (at most {MAX_JSON_BODY} bytes)")
    try:
        body = json.loads(data) if request.is_json else None
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or absurdly nested
        body = None
    if not isinstance(body, dict):
        raise ValidationFailed(
            f"send a JSON object {example}",
            errors=[{"field": "body", "reason": "must be a JSON object"}],
        )
    problems = json_control_problems(body)
    detail = f"send a JSON object {example}" + (", without control characters" if problems else "")
    unknown = sorted(set(body) - set(fields))
    problems += [{"field": CONTROL.sub("\ufffd", f), "reason": "unknown field"} for f in unknown]
    if problems:
        raise ValidationFailed(detail, errors=problems)
    return body


def _control_problems(field: str, texts: Collection[str | None]) -> list[dict[str, str]]:
    found = sorted({c for text in texts if text for c in control_characters(text)})
    if not found:
        return []
    return [
        {
            "field": CONTROL.sub("\ufffd", field),
            "reason": f"{CONTROL_RULE}; found {', '.join(found)}",
        }
    ]


def refuse_control_characters() -> None:
    """Refuse a request whose parameters or form fields hold control characters.

    A ``before_request`` hook, registered after the access check so that an anonymous
    client cannot make the server parse an upload's body. It covers the query string,
    the path parameters, form fields and the names of uploaded files: every endpoint gets
    it without asking. JSON bodies are checked by :func:`json_object`, which reads them.
    See :mod:`caldb_common.text` for which characters and why.

    Raises
    ------
    ValidationFailed
        Naming each offending field.
    NotFound
        For a path of the HEASARC tree (:data:`LOOKUP_BLUEPRINTS`): it names no file.
    """
    problems = []
    for name in request.args:
        problems += _control_problems(name, [name, *request.args.getlist(name)])
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and control_characters(value):
            if request.blueprint in LOOKUP_BLUEPRINTS:
                raise NotFound(f"{request.path!r} is not in this CALDB")
            problems += _control_problems(name, [value])
    if request.mimetype in _FORM_TYPES:
        for name in request.form:
            problems += _control_problems(name, [name, *request.form.getlist(name)])
        for name, upload in request.files.items(multi=True):
            problems += [
                # repr() shows which name was refused without sending the characters back.
                {**problem, "reason": f"{problem['reason']} (file name {upload.filename!r})"}
                for problem in _control_problems(name, [name, upload.filename])
            ]
    if problems:
        raise ValidationFailed(
            "text in the request must not contain control characters", errors=problems
        )


def parse_flag(text: str) -> bool:
    """A boolean request value: ``true`` or ``false``, in any case.

    What the OpenAPI document's booleans say, no more: a query or form boolean is sent as
    ``true``/``false`` (Python's ``True`` too). Settings read more spellings (``1``,
    ``yes``): :func:`caldb_server.config.parse_flag`.

    Raises
    ------
    ValueError
        For anything else.
    """
    flag = text.lower()
    if flag not in ("true", "false"):
        raise ValueError("must be true or false")
    return flag == "true"


def query_parameter_errors(
    args: MultiDict[str, str], known: Collection[str], *, repeatable: Collection[str] = ()
) -> list[dict[str, Any]]:
    """One error per unknown query parameter, then per known one given more than once.

    Unknown parameters are refused rather than ignored: a misspelt filter must not
    silently widen the answer. Only the ``repeatable`` ones may come several times.
    """
    errors = [
        {"field": name, "reason": "unknown parameter"} for name in sorted(set(args) - set(known))
    ]
    return errors + [
        {"field": name, "reason": "given more than once"}
        for name in sorted(set(known) - set(repeatable))
        if len(args.getlist(name)) > 1
    ]


def parse_bounded_integer(text: str, low: int, high: int) -> int:
    """A whole-number request value from ``low`` to ``high`` (``low`` >= 0), in decimal digits.

    Only ASCII digits: ``int()`` would also take a sign, blanks, underscores and other
    scripts' digits, which no client means to send. The length is checked before ``int()``,
    which refuses (with its own message) a string of more than 4 300 digits.

    Raises
    ------
    ValueError
        Saying the range, for anything else.
    """
    digits = text.lstrip("0") or "0"
    if text.isascii() and text.isdigit() and len(digits) <= len(str(high)):
        value = int(digits)
        if low <= value <= high:
            return value
    raise ValueError(f"must be an integer from {low} to {high}")


def api_root() -> str:
    """Base of the API URLs put in answers: ``CALDB_PUBLIC_URL``, else what the client asked.

    Behind a proxy (TLS, another host name) set ``CALDB_PUBLIC_URL``, so that answers do not
    depend on the request's ``Host`` header.
    """
    base = extension().settings.public_url or request.url_root.rstrip("/")
    return f"{base}{API_PREFIX}/"


def request_time() -> datetime:
    """One timestamp for everything a request records."""
    if "request_time" not in g:
        g.request_time = db.utcnow()
    return g.request_time


def _finish(response: Response) -> Response:
    """Commit a successful request's unit of work, roll back any other.

    A failure while committing is answered like any error raised by a view (problem+json:
    503 for a lost database, 409 for a constraint), not as Flask's bare 500.
    """
    session = g.pop("db_session", None)
    if session is None:
        return response
    try:
        if response.status_code < 400:
            db.commit(session)
        else:
            db.rollback(session)
    except Exception as error:  # rendered by the registered handlers, as a view error
        db.rollback(session)
        return current_app.make_response(current_app.handle_user_exception(error))
    finally:
        session.close()
    return response


def _teardown(_error: BaseException | None) -> None:
    """Roll back a session left open by an exception that skipped :func:`_finish`."""
    session = g.pop("db_session", None)
    if session is not None:
        db.rollback(session)
        session.close()


def init_app(app: Flask, services: Caldb) -> None:
    """Attach the services and the unit-of-work hooks to ``app``."""
    app.extensions["caldb"] = services
    app.after_request(_finish)
    app.teardown_request(_teardown)
