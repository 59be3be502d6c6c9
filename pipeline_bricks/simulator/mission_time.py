"""SVOM mission time: seconds since 2017-01-01T00:00:00 UTC, counted in TT (SPEC §2).

No leap second has been inserted since that epoch, so mission seconds are also elapsed
SI seconds of UTC; ``astropy.time`` does the conversion anyway. The epoch in TT is
``MJDREFI + MJDREFF`` = 57754 + 69.184 s / 86400 s.
"""

from __future__ import annotations

from datetime import UTC, datetime

from astropy.time import Time, TimeDelta

__all__ = ["MJDREFF", "MJDREFI", "from_mission_time", "parse_utc", "to_mission_time"]

MJDREFI = 57754
MJDREFF = 0.00080074074
EPOCH = "2017-01-01T00:00:00"


def parse_utc(text: str) -> datetime:
    """An ISO date or date-time (naive = UTC, or with an offset) as an aware UTC datetime.

    Raises
    ------
    ValueError
        If ``text`` is not ISO 8601 or is before the mission epoch 2017-01-01.
    """
    value = datetime.fromisoformat(text.strip())
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value < datetime(2017, 1, 1, tzinfo=UTC):
        raise ValueError(f"{text} is before the SVOM time epoch {EPOCH} UTC")
    return value


def to_mission_time(instant: datetime) -> float:
    """Mission time [s, TT] of a UTC instant."""
    utc = Time(instant.astimezone(UTC).replace(tzinfo=None), scale="utc")
    return float((utc - Time(EPOCH, scale="utc")).to_value("s"))


def from_mission_time(seconds: float) -> str:
    """UTC ISO string (millisecond precision) of a mission time [s]."""
    instant = Time(EPOCH, scale="utc") + TimeDelta(seconds, format="sec")
    return str(instant.utc.isot)
