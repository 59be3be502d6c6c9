"""The indexing data of an onboard file, coded in its name.

``<INSTRUME>_<CODENAME>_<YYYYMMDD>T<HHMMSS>_V<NN>.yaml``, e.g.
``MXT_EVTTHR_20250301T120000_V02.yaml``: the instrument, the codename, the UTC instant the
configuration is taken into account on board, and its version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["NAME_PATTERN", "OnboardName", "parse_onboard_name"]

NAME_PATTERN = "<INSTRUME>_<CODENAME>_<YYYYMMDD>T<HHMMSS>_V<NN>.yaml"
EXAMPLE = "MXT_EVTTHR_20250301T120000_V02.yaml"
# The CALDB's dates begin with its legacy dd/mm/yy form, 19yy: an on-board instant before
# 1900 is a typo (0999 for 2099), not a configuration anyone uploaded.
MIN_YEAR = 1900
_NAME = re.compile(
    r"(?P<instrument>[A-Za-z0-9-]{1,10})_(?P<codename>[A-Za-z0-9]{1,20})_"
    r"(?P<date>[0-9]{8})T(?P<time>[0-9]{6})_V(?P<version>[0-9]{2})\.yaml"
)


@dataclass(frozen=True)
class OnboardName:
    """What a valid onboard file name says (names upper-cased)."""

    instrument: str
    codename: str
    effective: datetime  # UTC
    version: int

    @property
    def validity_date(self) -> str:
        """CAL_VSD: ``YYYY-MM-DD``."""
        # Not strftime("%Y"): it does not pad years before 1000 to four digits on Linux.
        return self.effective.date().isoformat()

    @property
    def validity_time(self) -> str:
        """CAL_VST: ``hh:mm:ss``."""
        return self.effective.time().isoformat(timespec="seconds")


def parse_onboard_name(name: str) -> OnboardName:
    """Read an onboard file name.

    Raises
    ------
    ValueError
        Saying what is wrong and showing the expected pattern.
    """
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"the file name must be {NAME_PATTERN}, e.g. {EXAMPLE}; got {name!r}")
    try:
        effective = datetime.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S")
    except ValueError:
        effective = None
    if effective is None or effective.year < MIN_YEAR:
        raise ValueError(
            f"{match['date']}T{match['time']} is not a valid date and time from {MIN_YEAR} on "
            f"(expected {NAME_PATTERN})"
        )
    return OnboardName(
        instrument=match["instrument"].upper(),
        codename=match["codename"].upper(),
        effective=effective.replace(tzinfo=UTC),
        version=int(match["version"]),
    )
