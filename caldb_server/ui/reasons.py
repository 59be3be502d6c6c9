"""Why a candidate lost a search, in words a scientist reads without knowing quzcif.

The selection module returns each losing candidate with a structured :class:`Reason`;
:func:`reason_words` turns it into one sentence that names the values involved (the
dataset's detector or boundary, the requested one, the validity starts). It is a pure
function of the rejection, the query and the chosen validity start, so its tests cover
every kind of reason without a database.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, assert_never

from caldb_selection import Query, Reason, Rejection, parse_boundary
from caldb_selection.boundaries import BoundaryError
from caldb_selection.expression import Expression, Term
from caldb_selection.timespec import mjd_to_datetime
from caldb_server.catalogue.quality import GOOD, SUPERSEDED

__all__ = ["instant_words", "reason_words", "utc_words"]


def instant_words(instant: datetime) -> str:
    """A UTC instant as people read it: ``2025-06-01 00:00:00 UTC``, any fraction kept."""
    fraction = f".{instant.microsecond:06d}".rstrip("0") if instant.microsecond else ""
    return f"{instant.year:04d}-{instant:%m-%d %H:%M:%S}{fraction} UTC"


def utc_words(mjd: float) -> str:
    """An MJD as people read it: ``2025-06-01 00:00:00 UTC`` (a fraction only if any).

    The MJD float carries microsecond noise; the instant is rounded to the millisecond.
    """
    instant = mjd_to_datetime(mjd)
    milliseconds = round(instant.microsecond / 1000)
    with suppress(OverflowError):  # the last millisecond of year 9999 stays as it is
        instant = instant.replace(microsecond=0) + timedelta(milliseconds=milliseconds)
    return instant_words(instant)


def _term_words(term: Term) -> str:
    """A term as a user types it: ``energy.eq.12``."""
    return f"{term.name.lower()}.{term.op.lower()}.{term.value}"


def _expression_words(expression: Expression) -> str:
    """An expression as a user types it: ``energy.eq.12.and.grade.le.4``."""
    return ".or.".join(".and.".join(map(_term_words, terms)) for terms in expression.alternatives)


def _boundary_name(cbd: str) -> str | None:
    try:
        boundary = parse_boundary(cbd, lenient=True)
    except BoundaryError:
        return None
    return None if boundary is None else boundary.name


def _boundary_words(candidate: Any, query: Query) -> str:
    expression = query.expression
    term = expression.first_failure(candidate.cal_cbd)
    if term is None:  # not a boundary failure after all: say what was asked
        boundaries = ", ".join(c for c in candidate.cal_cbd if c.upper() != "NONE") or "none"
        return f"its boundaries ({boundaries}) do not satisfy {_expression_words(expression)}"
    limits = [cbd for cbd in candidate.cal_cbd if _boundary_name(cbd) == term.name]
    noun = "boundary" if len(limits) == 1 else "boundaries"
    verb = "does" if len(limits) == 1 else "do"
    sentence = f"its {noun} {', '.join(limits)} {verb} not satisfy {_term_words(term)}"
    if len(expression.alternatives) > 1:
        sentence += " (and no other alternative of the expression holds either)"
    return sentence


def _quality_words(quality: int) -> str:
    if quality == SUPERSEDED:
        return f"superseded (quality {quality}); only good datasets (quality {GOOD}) are chosen"
    return f"its quality is {quality}, not good; only good datasets (quality {GOOD}) are chosen"


def _name_words(what: str, value: str, requested: str) -> str:
    return f"its {what} is {value}, not the requested {requested} (only {requested} or NONE match)"


def _later_words(start_mjd: float, requested_mjd: float | None) -> str:
    start = utc_words(start_mjd)
    if requested_mjd is None:
        return f"valid only from {start}, after the requested date"
    return f"valid only from {start}, after the requested date ({utc_words(requested_mjd)})"


def _superseded_words(start_mjd: float, epoch_mjd: float | None) -> str:
    start = utc_words(start_mjd)
    if epoch_mjd is None:
        return f"valid from {start}, but a later validity start was chosen"
    return f"a later validity start ({utc_words(epoch_mjd)}) was chosen; this one starts at {start}"


def reason_words(rejection: Rejection[Any], query: Query, epoch_mjd: float | None) -> str:
    """Why ``rejection``'s candidate was not chosen, as one plain sentence.

    Parameters
    ----------
    rejection : Rejection
        A losing candidate and its :class:`Reason`, as :func:`caldb_selection.select`
        returns it with ``explain``.
    query : Query
        The request that was answered.
    epoch_mjd : float or None
        The validity start that was chosen (MJD), None when none was.

    Returns
    -------
    str
        For example ``a later validity start (2025-06-01 00:00:00 UTC) was chosen``.
    """
    candidate = rejection.candidate
    reason = rejection.reason
    match reason:
        case Reason.DETECTOR:
            return _name_words("detector", candidate.detnam, query.detector)
        case Reason.FILTER:
            return _name_words("filter", candidate.filter, query.filter)
        case Reason.QUALITY:
            return _quality_words(candidate.cal_qual)
        case Reason.BOUNDARY:
            return _boundary_words(candidate, query)
        case Reason.LATER_VALIDITY:
            return _later_words(candidate.ref_time, query.time_mjd)
        case Reason.SUPERSEDED:
            return _superseded_words(candidate.ref_time, epoch_mjd)
        case _:
            assert_never(reason)
