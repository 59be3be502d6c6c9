"""The time axis of the validity timeline: calendar ticks chosen to the span and the width.

Pure functions of instants (UTC) and a width in pixels; :mod:`caldb_server.ui.timeline`
draws what they choose.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

__all__ = ["MAX_TICKS", "TICK_CHAR", "choose_ticks"]

TICK_CHAR = 6.5  # mean width in px of a digit of a tick label (11 px)
MAX_TICKS = 10
# Steps of the time axis, finest first; consecutive steps differ by at most 2.5 times, so one
# of them gives from 4 to MAX_TICKS ticks whenever the width has room for that many labels.
_STEPS = (
    *(("hour", n) for n in (1, 2, 3, 6, 12)),
    *(("day", n) for n in (1, 2, 5, 10, 15)),
    *(("month", n) for n in (1, 2, 3, 6)),
    *(("year", n) for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)),
)
_UNIT_SECONDS = {"hour": 3600.0, "day": 86400.0, "month": 30.44 * 86400, "year": 365.25 * 86400}
_MONTH_DAYS = {
    1: range(1, 32),
    2: range(1, 30, 2),
    5: range(1, 27, 5),
    10: (1, 11, 21),
    15: (1, 16),
}
_LABEL_CHARS = {"hour": 10, "day": 10, "month": 7, "year": 4}


def choose_ticks(start: datetime, end: datetime, plot_width: float) -> list[tuple[datetime, str]]:
    """Labelled ticks: the coarsest calendar step giving 5 or more that fit, else the finest.

    Rounder steps read better (five years rather than ten half-years); a narrow drawing may
    have fewer than five ticks.
    """
    seconds = (end - start).total_seconds()
    fitting: list[tuple[str, list[datetime]]] = []
    for unit, step in _STEPS:
        room = max(int(plot_width // (_LABEL_CHARS[unit] * TICK_CHAR + 14)), 2)
        estimate = seconds / (_UNIT_SECONDS[unit] * step)
        if estimate > 3 * min(MAX_TICKS, room):
            continue  # far too many: do not even enumerate them
        if estimate < 1:
            break  # coarser steps give one tick at most
        ticks = _ticks(unit, step, start, end)
        if len(ticks) <= min(MAX_TICKS, room):
            fitting.append((unit, ticks))
    chosen = [f for f in fitting if len(f[1]) >= 5][-1:] or fitting[:1]
    return [(when, _tick_label(unit, when)) for unit, ticks in chosen for when in ticks]


def _ticks(unit: str, step: int, start: datetime, end: datetime) -> list[datetime]:
    """The instants of ``start``..``end`` on a calendar step (years multiple of ``step``...)."""
    if unit == "year":
        first = start.year + (start != datetime(start.year, 1, 1, tzinfo=UTC))
        first = max(-(-first // step) * step, step)
        return [datetime(y, 1, 1, tzinfo=UTC) for y in range(first, min(end.year, 9999) + 1, step)]
    found = []
    if unit == "month":
        year, month = start.year, start.month
        while year <= min(end.year, 9999):
            when = datetime(year, month, 1, tzinfo=UTC)
            if when > end:
                break
            if when >= start and (month - 1) % step == 0:
                found.append(when)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return found
    day: date = start.date()
    days = _MONTH_DAYS[step] if unit == "day" else range(1, 32)
    hours = range(0, 24, step) if unit == "hour" else (0,)
    while day <= end.date():
        if day.day in days:
            for hour in hours:
                when = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
                if start <= when <= end:
                    found.append(when)
        if day == date.max:
            break
        day += timedelta(days=1)
    return found


def _tick_label(unit: str, when: datetime) -> str:
    if unit == "year":
        return str(when.year)
    if unit == "month":
        return f"{when.year:04d}-{when.month:02d}"
    if unit == "hour" and when.hour:
        return f"{when.hour:02d}:00"
    return f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
