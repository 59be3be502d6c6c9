"""Validating the parameters of ``GET /api/v1/changes`` and ``/feeds/changes.atom``.

Every problem is collected and reported together, as for a search; unknown parameters
are refused (a misspelt ``instrment`` must not silently follow every instrument).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from caldb_server.errors import ValidationFailed
from caldb_server.registry import Registry
from caldb_server.search.params import name_pattern
from caldb_server.web import parse_bounded_integer, query_parameter_errors

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_SEQ", "ChangeQuery", "parse_change_params"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SEQ = 2**63 - 1  # seq is a BIGINT
PARAMETERS = frozenset({"since", "limit", "mission", "instrument", "codename"})
_NAME_LENGTHS = {"mission": 10, "instrument": 10, "codename": 20}
_NAME_SYNTAX = {name: re.compile(name_pattern(width)) for name, width in _NAME_LENGTHS.items()}


@dataclass(frozen=True)
class ChangeQuery:
    """What to list: after ``since`` (None: the latest), at most ``limit``, the filters."""

    since: int | None
    limit: int
    mission: str | None = None
    instrument: str | None = None
    codenames: tuple[str, ...] = field(default=())

    def filters(self) -> list[tuple[str, str]]:
        """The filters as query parameters (for the next page's link)."""
        pairs = [("mission", self.mission), ("instrument", self.instrument)]
        named = [(name, value) for name, value in pairs if value is not None]
        return named + [("codename", codename) for codename in self.codenames]


def _names(args: MultiDict[str, str], errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    names = {}
    for name, width in _NAME_LENGTHS.items():
        values = args.getlist(name)
        if not all(_NAME_SYNTAX[name].fullmatch(value) for value in values):
            errors.append(
                {
                    "field": name,
                    "reason": f"must be a name of 1 to {width} printable ASCII characters "
                    "without blanks",
                }
            )
        names[name] = [value.upper() for value in values]
    return names


def parse_change_params(
    args: MultiDict[str, str], registry: Registry, *, since_required: bool
) -> ChangeQuery:
    """The query a request asks for; names upper-cased, an instrument alias resolved.

    ``since_required``: a missing ``since`` is 0 (the API); otherwise it stays None (the
    latest events, as a feed shows them).

    Raises
    ------
    ValidationFailed
        Naming every bad parameter: unknown, repeated (all but ``codename``), a name that
        is not one, ``since`` not an integer >= 0, ``limit`` outside 1..:data:`MAX_LIMIT`.
    """
    errors = query_parameter_errors(args, PARAMETERS, repeatable={"codename"})
    names = _names(args, errors)
    numbers: dict[str, int | None] = {}
    bounds = {"since": ("0" if since_required else None, 0, MAX_SEQ)}
    bounds["limit"] = (str(DEFAULT_LIMIT), 1, MAX_LIMIT)
    for name, (default, low, high) in bounds.items():
        text = args.get(name, default)
        try:
            numbers[name] = None if text is None else parse_bounded_integer(text, low, high)
        except ValueError as error:
            errors.append({"field": name, "reason": str(error)})
    if errors:
        raise ValidationFailed("the change feed's parameters are not valid", errors=errors)
    mission = names["mission"][0] if names["mission"] else None
    instrument = names["instrument"][0] if names["instrument"] else None
    if instrument is not None:  # ECLAIRS follows ECL, as a search for it does
        instrument = registry.resolve(mission or "SVOM", instrument)
    limit = numbers["limit"]
    assert limit is not None  # it has a default
    return ChangeQuery(
        since=numbers["since"],
        limit=limit,
        mission=mission,
        instrument=instrument,
        codenames=tuple(dict.fromkeys(names["codename"])),
    )
