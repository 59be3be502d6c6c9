"""Dates and times of the CALDB: validity starts (``CVSD``/``CVST``) and requested times.

All times are UTC and are compared as Modified Julian Dates, exactly as HEASoft does:
``REF_TIME = MJD(CVSD) + seconds(CVST) / 86400`` (``calcrt``), and a request
``date``/``time`` becomes the same kind of number (``dt2mjd`` + ``tim2df``).

Validity dates and times are read strictly by default (new uploads: ``YYYY-MM-DD`` or the
legacy ``dd/mm/yy``, and ``hh:mm:ss[.s]``). With ``lenient=True`` (indexes HEASoft tools
wrote) a date may carry a ``T...`` part, ignored as CFITSIO's ``ffs2dt`` ignores it, and a
time may have one-digit fields, blanks around them and a trailing decimal point
(``2: 5: 7.``), as HEASoft's ``fiptim`` reads them. Text after the seconds, which
``ffs2tm``'s ``atof`` would skip, is still refused: it is a mistake, not a spelling.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "AS_OF_PATTERN",
    "TimeSpecError",
    "mjd_to_datetime",
    "normalise_validity_date",
    "parse_as_of",
    "parse_time_of_day",
    "ref_time",
    "requested_mjd",
]

_MJD_EPOCH = date(1858, 11, 17)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_LEGACY_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{2})", re.ASCII)
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)", re.ASCII)
# ffs2dt: the ten characters of YYYY-MM-DD, then nothing or a 'T' and anything.
_LENIENT_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[Tt].*)?", re.ASCII | re.DOTALL)
# fiptim reads each field with blanks ignored (format BN), hours and minutes as I2 and
# seconds as F10.6 after appending a missing decimal point.
_LENIENT_TIME = re.compile(r" *(\d{1,2}) *: *(\d{1,2}) *: *(\d{1,2}(?:\.\d*)?|\.\d+) *", re.ASCII)
_SECONDS_PER_DAY = 86400.0
# An ``as_of`` instant: ISO 8601 date or date-time, a blank allowed for the T (what str() of
# a Python datetime writes). ECMA-262 and Python alike (the OpenAPI document carries it):
# ASCII classes only, [0-9] and not \d, which Python widens to every script's digits.
AS_OF_PATTERN = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    "([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
)
_AS_OF = re.compile(AS_OF_PATTERN)


class TimeSpecError(ValueError):
    """A date or time that the CALDB conventions do not allow."""


def _calendar_date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise TimeSpecError(f"{text!r} is not a calendar date") from None


def normalise_validity_date(text: str, *, lenient: bool = False) -> tuple[str, bool]:
    """Validate a ``CVSD`` value and return it as ``YYYY-MM-DD``.

    Parameters
    ----------
    text : str
        ``YYYY-MM-DD``, or the legacy OGIP ``dd/mm/yy`` meaning 19yy (udcif converts it).
    lenient : bool
        Also accept what CFITSIO's ``ffs2dt`` reads for HEASoft: ``YYYY-MM-DDT...``, the
        part from the ``T`` on being ignored.

    Returns
    -------
    tuple of (str, bool)
        The ISO date and whether the input used the legacy form.

    Raises
    ------
    TimeSpecError
        For any other form or an impossible date.
    """
    text = text.strip()
    iso_date = _LENIENT_ISO_DATE if lenient else _ISO_DATE
    if match := iso_date.fullmatch(text):
        year, month, day = map(int, match.groups())
        return _calendar_date(year, month, day, text).isoformat(), False
    if match := _LEGACY_DATE.fullmatch(text):
        day, month, year = map(int, match.groups())
        return _calendar_date(1900 + year, month, day, text).isoformat(), True
    raise TimeSpecError(f"{text!r} is neither YYYY-MM-DD nor the legacy dd/mm/yy")


def parse_time_of_day(text: str, *, lenient: bool = False) -> float:
    """Seconds since midnight of a ``hh:mm:ss[.s]`` string (a leap second 60 is allowed).

    Parameters
    ----------
    text : str
        The time of day; surrounding blanks are ignored.
    lenient : bool
        Read it as HEASoft's ``fiptim`` does: one- or two-digit fields, blanks around
        them, a trailing decimal point (``2: 5: 7.`` is 02:05:07).

    Returns
    -------
    float
        Seconds since midnight.

    Raises
    ------
    TimeSpecError
        If ``text`` is not a time of day.
    """
    match = (_LENIENT_TIME if lenient else _TIME).fullmatch(text.strip())
    if match is None:
        raise TimeSpecError(f"{text!r} is not a time of day hh:mm:ss")
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), float(match.group(3))
    if hours > 23 or minutes > 59 or seconds >= 61:
        raise TimeSpecError(f"{text!r} is not a time of day hh:mm:ss")
    return hours * 3600 + minutes * 60 + seconds


def _mjd_day(day: date) -> int:
    return (day - _MJD_EPOCH).days


def ref_time(validity_date: str, validity_time: str, *, lenient: bool = False) -> float:
    """``REF_TIME`` of a dataset from its ``CAL_VSD`` and ``CAL_VST``.

    With ``lenient``, both are read as HEASoft reads them (see the module docstring).
    """
    iso, _ = normalise_validity_date(validity_date, lenient=lenient)
    seconds = parse_time_of_day(validity_time, lenient=lenient)
    return _mjd_day(date.fromisoformat(iso)) + seconds / _SECONDS_PER_DAY


def mjd_to_datetime(mjd: float) -> datetime:
    """The UTC instant of an MJD (for display; rounded to the microsecond).

    An imported index may hold any REF_TIME: one beyond the years 1 to 9999 that ``datetime``
    represents is shown as the first or last instant it can represent.
    """
    try:
        return datetime(1858, 11, 17, tzinfo=UTC) + timedelta(days=mjd)
    except OverflowError:
        return (datetime.max if mjd > 0 else datetime.min).replace(tzinfo=UTC)


def _parse_instant(text: str) -> datetime | None:
    """An ISO 8601 date-time (naive means UTC); None when ``text`` is not one."""
    if "T" not in text.upper():
        return None
    if not text.isascii():  # fromisoformat would read non-ASCII digits
        raise TimeSpecError(f"{text!r} is not an ISO 8601 date-time")
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise TimeSpecError(f"{text!r} is not an ISO 8601 date-time") from None
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        raise TimeSpecError(f"{text!r} is outside the supported range of dates") from None


def requested_mjd(date_text: str | None, time_text: str | None, now: datetime) -> float | None:
    """The requested instant of a search, as an MJD; None means "all epochs".

    Parameters
    ----------
    date_text : str or None
        ``YYYY-MM-DD``, an ISO date-time (the instant itself), legacy ``dd/mm/yy``,
        ``now`` (also when None) or ``-`` (no time selection: every epoch).
    time_text : str or None
        ``hh:mm:ss``, ``now``, ``-`` (midnight) or None: the current time of day when the
        date is ``now``, otherwise midnight. It must be absent with an ISO date-time, and
        with date ``-`` (HEASoft would silently return nothing).
    now : datetime
        The current UTC time, passed in so that callers control it.

    Returns
    -------
    float or None
        ``MJD(date) + seconds(time) / 86400``.

    Raises
    ------
    TimeSpecError
        For malformed or contradictory values.
    """
    date_text = "now" if date_text is None else date_text.strip()
    time_given = time_text is not None and time_text.strip() not in ("", "-")
    if date_text == "-":
        if time_given:
            raise TimeSpecError("a time of day needs a date; date '-' selects every epoch")
        return None
    if (instant := _parse_instant(date_text)) is not None:
        if time_given:
            raise TimeSpecError("the date already carries a time of day; leave 'time' out")
        day, seconds = instant.date(), _seconds_of(instant)
    elif date_text.lower() == "now":
        day = now.astimezone(UTC).date()
        seconds = _requested_seconds(time_text, now, default_now=True)
    else:
        day = date.fromisoformat(normalise_validity_date(date_text)[0])
        seconds = _requested_seconds(time_text, now, default_now=False)
    return _mjd_day(day) + seconds / _SECONDS_PER_DAY


def _seconds_of(instant: datetime) -> float:
    return instant.hour * 3600 + instant.minute * 60 + instant.second + instant.microsecond / 1e6


def _requested_seconds(time_text: str | None, now: datetime, *, default_now: bool) -> float:
    if time_text is None:
        return _seconds_of(now.astimezone(UTC)) if default_now else 0.0
    time_text = time_text.strip()
    if time_text in ("", "-"):
        return 0.0
    if time_text.lower() == "now":
        return _seconds_of(now.astimezone(UTC))
    return parse_time_of_day(time_text)


def parse_as_of(text: str) -> datetime:
    """An ``as_of`` instant (the catalogue as it was then), in UTC.

    Parameters
    ----------
    text : str
        ISO 8601 date or date-time matching :data:`AS_OF_PATTERN`; naive means UTC.

    Returns
    -------
    datetime
        The instant, timezone-aware, in UTC.

    Raises
    ------
    ValueError
        If ``text`` does not match the pattern or names no instant (month 13, year 0).
    """
    problem = f"{text!r} is not an ISO 8601 date or date-time"
    if _AS_OF.fullmatch(text) is None:
        raise ValueError(problem)
    try:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: outside the years 1-9999 in UTC
        raise ValueError(problem) from None
