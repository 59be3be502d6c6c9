"""The command lines equivalent to a search of the web interface: ``caldbio`` and ``quzcif``.

Pure functions of the search parameters as the page received them (already validated by
:func:`caldb_server.search.params.parse_search_params`), each word quoted for a POSIX shell.
``caldbio search`` takes every parameter (its own defaults are left out); HEASoft's
``quzcif`` takes its eight positional parameters in its order, with the date and the time
apart, and knows neither ``as_of`` nor ``explain``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = ["caldbio_command", "quzcif_command"]

NAMES = frozenset({"mission", "instrument", "codename", "detector", "filter"})
# caldbio's option of each search parameter, and its default (None: the option has none).
_CALDBIO_OPTIONS = (
    ("mission", "--mission", "SVOM"),
    ("date", "--date", "now"),
    ("time", "--time", None),
    ("detector", "--detector", "-"),
    ("filter", "--filter", "-"),
    ("expr", "--expr", "-"),
    ("as_of", "--as-of", None),
    ("maxret", "--maxret", None),
)


def _value(params: Mapping[str, str], name: str, default: str) -> str:
    """A parameter as the server reads it: names upper-cased, a missing one its default."""
    value = params.get(name) or default
    return value.upper() if name in NAMES else value


def _option(option: str, value: str) -> list[str]:
    """``--opt value``; ``--opt=value`` when the value could be taken for an option."""
    return [f"{option}={value}"] if value.startswith("-") and value != "-" else [option, value]


def caldbio_command(params: Mapping[str, str], url: str, *, explain: bool) -> str:
    """The ``caldbio search`` command line asking ``url`` the same question.

    Parameters
    ----------
    params : mapping
        The search parameters given (API names; absent or empty means the default).
    url : str
        The CalDB's base URL (``--url``).
    explain : bool
        Whether the search explains the losing candidates (``--explain``).

    Returns
    -------
    str
        e.g. ``caldbio --url http://caldb:5000 search MXT GAIN --date 2025-07-01``.
    """
    options: list[str] = []
    for name, option, default in _CALDBIO_OPTIONS:
        value = _value(params, name, "")
        if value and (default is None or value.lower() != default.lower()):
            options += _option(option, value)
    if explain:
        options.append("--explain")
    names = [_value(params, "instrument", ""), _value(params, "codename", "")]
    # A name that starts with '-' would read as an option: '--' ends the options first.
    words = [*options, "--", *names] if any(n.startswith("-") for n in names) else names + options
    return shlex.join(["caldbio", "--url", url, "search", *words])


def _quzcif_when(date: str, time: str) -> tuple[str, str]:
    """The date and time words of quzcif for the page's ``date`` and ``time`` (both may be empty).

    quzcif wants them apart: an ISO date-time is split (in UTC); a day without a time of
    day means its midnight, as it does for the server.
    """
    if date == "-":
        return "-", "-"
    if "T" in date:  # an ISO date-time, validated: the instant itself
        instant = datetime.fromisoformat(date)
        instant = instant.astimezone(UTC) if instant.tzinfo else instant
        fraction = f".{instant.microsecond:06d}".rstrip("0") if instant.microsecond else ""
        return f"{instant.year:04d}-{instant:%m-%d}", f"{instant:%H:%M:%S}{fraction}"
    midnight = "00:00:00"
    if not date or date.lower() == "now":
        return "now", (time or "now") if time != "-" else midnight
    return date, time if time and time != "-" else midnight


def quzcif_command(params: Mapping[str, str]) -> str:
    """HEASoft's ``quzcif mission instrument detector filter codename date time expr``.

    Parameters
    ----------
    params : mapping
        The search parameters given (API names; absent or empty means the default).

    Returns
    -------
    str
        e.g. ``quzcif SVOM MXT - - GAIN 2025-07-01 00:00:00 -``.
    """
    date, time = _quzcif_when(params.get("date") or "", params.get("time") or "")
    words = [
        "quzcif",
        _value(params, "mission", "SVOM"),
        _value(params, "instrument", ""),
        _value(params, "detector", "-"),
        _value(params, "filter", "-"),
        _value(params, "codename", ""),
        date,
        time,
        params.get("expr") or "-",
    ]
    return shlex.join(words)
