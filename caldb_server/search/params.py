"""Validating ``GET /api/v1/search`` parameters into a :class:`SearchRequest`.

Every problem is collected and reported together (one ``errors`` item per field).
Unknown parameters are refused: a misspelt ``codname`` must not silently search for
everything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from caldb_selection import (
    Query,
    TimeSpecError,
    parse_expression,
    requested_mjd,
)
from caldb_server.errors import ValidationFailed
from caldb_server.registry import Registry
from caldb_server.search.service import SearchRequest
from caldb_server.web import parse_flag

__all__ = ["MAX_MAXRET", "parse_as_of", "parse_search_params"]

MAX_MAXRET = 10000
DEFAULT_MAXRET = 50
PARAMETERS = frozenset(
    {
        "mission",
        "instrument",
        "codename",
        "detector",
        "filter",
        "date",
        "time",
        "expr",
        "maxret",
        "as_of",
        "explain",
    }
)
_NAME_LENGTHS = {"mission": 10, "instrument": 10, "codename": 20, "detector": 20, "filter": 10}


def parse_as_of(text: str) -> datetime:
    """An ``as_of`` instant: ISO 8601 date or date-time, naive meaning UTC."""
    if not text.isascii():  # fromisoformat would read non-ASCII digits
        raise ValueError(f"{text!r} is not an ISO 8601 date-time")
    try:
        moment = datetime.fromisoformat(text.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: outside the years 1-9999 in UTC
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None


def _maxret(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_MAXRET:
        raise ValueError(f"must be an integer from 1 to {MAX_MAXRET}")
    return int(text)


def _names(args: MultiDict[str, str], errors: list[dict[str, Any]]) -> dict[str, str]:
    names = {}
    for name, width in _NAME_LENGTHS.items():
        value = (args.get(name) or "").strip().upper()
        if len(value) > width or any(c.isspace() or not c.isprintable() for c in value):
            errors.append(
                {"field": name, "reason": f"must be a name of at most {width} characters"}
            )
        names[name] = value
    for required in ("instrument", "codename"):
        if not names[required]:
            errors.append({"field": required, "reason": "is required"})
    return names


def _convert(
    args: MultiDict[str, str],
    name: str,
    convert: Callable[[str], Any],
    default: Any,
    errors: list[dict[str, Any]],
) -> Any:
    if name not in args:
        return default
    try:
        return convert(args[name])
    except ValueError as error:
        errors.append({"field": name, "reason": str(error)})
        return default


def _requested_time(
    args: MultiDict[str, str], now: datetime, errors: list[dict[str, Any]]
) -> float | None:
    """The requested MJD; a date that is wrong alone is the date's error, else the time's."""
    try:
        requested_mjd(args.get("date"), None, now)
    except TimeSpecError as error:
        errors.append({"field": "date", "reason": str(error)})
        return None
    try:
        return requested_mjd(args.get("date"), args.get("time"), now)
    except TimeSpecError as error:
        errors.append({"field": "time", "reason": str(error)})
        return None


def parse_search_params(
    args: MultiDict[str, str], registry: Registry, now: datetime
) -> SearchRequest:
    """Build a :class:`SearchRequest` from query parameters.

    Raises
    ------
    ValidationFailed
        Listing every bad, missing, repeated or unknown parameter.
    """
    errors: list[dict[str, Any]] = [
        {"field": name, "reason": "unknown parameter"} for name in sorted(set(args) - PARAMETERS)
    ]
    errors += [
        {"field": name, "reason": "given more than once"}
        for name in sorted(PARAMETERS)
        if len(args.getlist(name)) > 1
    ]
    names = _names(args, errors)
    mission = names["mission"] or "SVOM"
    maxret = _convert(args, "maxret", _maxret, DEFAULT_MAXRET, errors)
    explain = _convert(args, "explain", parse_flag, False, errors)
    as_of = _convert(args, "as_of", parse_as_of, None, errors)
    expression = _convert(args, "expr", parse_expression, None, errors)
    time_mjd = _requested_time(args, now, errors)
    if errors:
        raise ValidationFailed("the search parameters are not valid", errors=errors)
    query = Query.create(
        registry.resolve(mission, names["instrument"]),
        names["codename"],
        detector=names["detector"],
        filter=names["filter"],
        expression=expression if expression is not None else parse_expression("-"),
        time_mjd=time_mjd,
    )
    return SearchRequest(query, mission, maxret, as_of, explain)
