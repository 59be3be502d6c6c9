"""Validating ``GET /api/v1/search`` parameters into a :class:`SearchRequest`.

Every problem is collected and reported together (one ``errors`` item per field).
Unknown parameters are refused: a misspelt ``codname`` must not silently search for
everything.

The syntax of each parameter is one of the regular expressions below, the very ones
``schemas/openapi.yaml`` states (a test holds them equal), so that the document and the
server agree on which values are well formed. What a regular expression cannot say (a
calendar date, a date-time that leaves no room for ``time``, the terms of an expression)
is then checked by the selection module and answered with a 422 naming the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from caldb_selection import (
    AS_OF_PATTERN,
    Query,
    TimeSpecError,
    parse_as_of,
    parse_expression,
    requested_mjd,
)
from caldb_server.errors import ValidationFailed
from caldb_server.registry import Registry
from caldb_server.search.service import SearchRequest
from caldb_server.web import parse_bounded_integer, parse_flag, query_parameter_errors

__all__ = [
    "AS_OF_PATTERN",
    "DATE_PATTERN",
    "EXPR_PATTERN",
    "MAX_MAXRET",
    "TIME_PATTERN",
    "name_pattern",
    "parse_search_params",
]

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

# ECMA-262 and Python alike: ASCII classes only ([0-9], not \d, which Python widens).
_NOW = "[Nn][Oo][Ww]"
_ISO_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_CLOCK = "[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
DATE_PATTERN = f"^({_NOW}|-|{_ISO_DATE}|{_ISO_DATE}T{_CLOCK}|[0-9]{{2}}/[0-9]{{2}}/[0-9]{{2}})$"
TIME_PATTERN = f"^({_NOW}|-|[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(\\.[0-9]+)?)$"
# '-', or terms 'param.op.value' joined by .and./.or. (the terms are the selection's to read).
EXPR_PATTERN = "^(-|[A-Za-z_][A-Za-z0-9_]*\\.([Ee][Qq]|[Ll][TtEe]|[Gg][TtEe])\\.[ -~]+)$"


def name_pattern(width: int) -> str:
    """A name (mission, instrument, codename...): 1 to ``width`` printable ASCII, no blank."""
    return f"^[!-~]{{1,{width}}}$"


def _syntax(pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(text: str) -> str:
        if compiled.fullmatch(text) is None:
            raise ValueError(f"must be {what}")
        return text

    return check


_DATE_SYNTAX = _syntax(DATE_PATTERN, "YYYY-MM-DD, an ISO 8601 date-time, dd/mm/yy, now or -")
_TIME_SYNTAX = _syntax(TIME_PATTERN, "hh:mm:ss, now or -")
_EXPR_SYNTAX = _syntax(EXPR_PATTERN, "- or terms param.op.value joined by .and. or .or.")
_AS_OF_SYNTAX = _syntax(AS_OF_PATTERN, "an ISO 8601 date or date-time (UTC unless an offset)")


def _maxret(text: str) -> int:
    return parse_bounded_integer(text, 1, MAX_MAXRET)


_NAME_SYNTAX = {name: re.compile(name_pattern(width)) for name, width in _NAME_LENGTHS.items()}
_NAME_DEFAULTS = {"mission": "SVOM", "detector": "-", "filter": "-"}


def _names(args: MultiDict[str, str], errors: list[dict[str, Any]]) -> dict[str, str]:
    """The names, upper-cased; an empty value is refused like any malformed one."""
    names = {}
    for name, width in _NAME_LENGTHS.items():
        value = args.get(name)
        if value is None and name not in _NAME_DEFAULTS:
            errors.append({"field": name, "reason": "is required"})
        elif value is not None and _NAME_SYNTAX[name].fullmatch(value) is None:
            errors.append(
                {
                    "field": name,
                    "reason": f"must be a name of 1 to {width} printable ASCII characters "
                    "without blanks",
                }
            )
        names[name] = (value or _NAME_DEFAULTS.get(name, "")).upper()
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
    syntax_errors = len(errors)
    _convert(args, "date", _DATE_SYNTAX, None, errors)
    _convert(args, "time", _TIME_SYNTAX, None, errors)
    if len(errors) > syntax_errors:
        return None
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
    errors = query_parameter_errors(args, PARAMETERS)
    names = _names(args, errors)
    mission = names["mission"]
    maxret = _convert(args, "maxret", _maxret, DEFAULT_MAXRET, errors)
    explain = _convert(args, "explain", parse_flag, False, errors)
    as_of = _convert(args, "as_of", lambda text: parse_as_of(_AS_OF_SYNTAX(text)), None, errors)
    expression = _convert(
        args, "expr", lambda text: parse_expression(_EXPR_SYNTAX(text)), None, errors
    )
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
