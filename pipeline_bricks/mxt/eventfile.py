"""Reading and writing MXT event lists and attitude files (docs/event_formats.md).

A brick reads an event list, adds or replaces columns, maybe keeps a subset of the rows
and a new GTI, and writes it back. :class:`EventList` carries what must survive that: the
primary and EVENTS headers (column cards excluded: they are rebuilt), every column with
its format, unit and sky-coordinate attributes, the per-column ``TLMINn``/``TLMAXn`` by
column name, the GTI, and the hot and flickering pixels ``mxt-screen`` found in the data
(``HOTPIX`` extension, ``RAWX``/``RAWY``; as the ``BADPIX`` extension of Swift-XRT event
files), which the products and the detection need to know which pixels were live.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from pipeline_bricks.framework.errors import BrickError

__all__ = ["Attitude", "EventList", "read_attitude", "read_events"]

# Cards astropy rebuilds from the columns, and cards of a column (re-emitted by name).
_STRUCTURE = {"XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "TFIELDS"}
_COLUMN_CARD = re.compile(
    r"(TTYPE|TFORM|TUNIT|TNULL|TSCAL|TZERO|TDISP|TDIM|TBCOL|TLMIN|TLMAX|TCTYP|TCRPX|TCRVL"
    r"|TCDLT|TCUNI|TRPOS)(\d+)"
)
_LIMITS = ("TLMIN", "TLMAX")


def _plain_header(header: fits.Header) -> fits.Header:
    """``header`` without structure, column and checksum cards."""
    plain = fits.Header()
    for card in header.cards:
        keyword = card.keyword
        if keyword in _STRUCTURE or keyword in {"CHECKSUM", "DATASUM"}:
            continue
        if _COLUMN_CARD.fullmatch(keyword):
            continue
        plain.append(card)
    return plain


@dataclass
class EventList:
    """An MXT event list in memory."""

    primary: fits.Header
    header: fits.Header
    columns: dict[str, fits.Column]
    limits: dict[str, dict[str, int | float]] = field(default_factory=dict)
    gti_start: np.ndarray = field(default_factory=lambda: np.empty(0))
    gti_stop: np.ndarray = field(default_factory=lambda: np.empty(0))
    hot_pixels: np.ndarray | None = None  # (n, 2) RAWX, RAWY; None: not screened yet

    def __len__(self) -> int:
        first = next(iter(self.columns.values()), None)
        return 0 if first is None else len(first.array)

    def column(self, name: str) -> np.ndarray:
        """The values of column ``name``.

        Raises
        ------
        BrickError
            If the event list has no such column (e.g. a brick run out of order).
        """
        if name not in self.columns:
            raise BrickError(f"the event list has no {name} column")
        return np.asarray(self.columns[name].array)

    def set_column(
        self,
        name: str,
        format: str,
        values: np.ndarray,
        *,
        unit: str | None = None,
        limits: tuple[int | float, int | float] | None = None,
        **coordinates: Any,
    ) -> None:
        """Add column ``name`` (or replace it in place), with FITS ``format`` and ``unit``.

        ``limits`` writes ``TLMINn``/``TLMAXn``; ``coordinates`` are astropy's column
        coordinate attributes (``coord_type``, ``coord_ref_point``, ...).
        """
        if len(values) != len(self) and self.columns:
            raise ValueError(f"column {name} has {len(values)} rows, the list {len(self)}")
        self.columns[name] = fits.Column(
            name=name, format=format, unit=unit, array=values, **coordinates
        )
        if limits is not None:
            self.limits[name] = dict(zip(_LIMITS, limits, strict=True))

    def select(self, keep: np.ndarray) -> EventList:
        """A new list with the rows where ``keep`` is true."""
        columns = {
            name: fits.Column(
                name=name,
                format=column.format,
                unit=column.unit,
                array=np.asarray(column.array)[keep],
                coord_type=column.coord_type,
                coord_unit=column.coord_unit,
                coord_ref_point=column.coord_ref_point,
                coord_ref_value=column.coord_ref_value,
                coord_inc=column.coord_inc,
                dim=column.dim,
            )
            for name, column in self.columns.items()
        }
        return EventList(
            self.primary.copy(),
            self.header.copy(),
            columns,
            dict(self.limits),
            self.gti_start.copy(),
            self.gti_stop.copy(),
            None if self.hot_pixels is None else self.hot_pixels.copy(),
        )

    def hdulist(self) -> fits.HDUList:
        """Primary, ``EVENTS``, ``GTI`` (and ``HOTPIX`` once screened) HDUs, ready to write."""
        events = fits.BinTableHDU.from_columns(
            list(self.columns.values()), header=self.header.copy(), name="EVENTS"
        )
        for number, name in enumerate(self.columns, start=1):
            for keyword, value in self.limits.get(name, {}).items():
                events.header[f"{keyword}{number}"] = value
        gti = fits.BinTableHDU.from_columns(
            [
                fits.Column(name="START", format="D", unit="s", array=self.gti_start),
                fits.Column(name="STOP", format="D", unit="s", array=self.gti_stop),
            ],
            name="GTI",
        )
        gti.header["HDUCLASS"] = "OGIP"
        gti.header["HDUCLAS1"] = "GTI"
        gti.header["TIMESYS"] = self.header.get("TIMESYS", "TT")
        hdus = fits.HDUList([fits.PrimaryHDU(header=self.primary.copy()), events, gti])
        if self.hot_pixels is not None:
            pixels = np.asarray(self.hot_pixels, dtype=np.int16).reshape(-1, 2)
            hot = fits.BinTableHDU.from_columns(
                [
                    fits.Column(name="RAWX", format="I", unit="pixel", array=pixels[:, 0]),
                    fits.Column(name="RAWY", format="I", unit="pixel", array=pixels[:, 1]),
                ],
                name="HOTPIX",
            )
            hot.header["COMMENT"] = "hot and flickering pixels found in the data by mxt-screen"
            hdus.append(hot)
        return hdus


def _open(path: Path, what: str) -> fits.HDUList:
    try:
        return fits.open(path, memmap=False)
    except (OSError, ValueError) as error:
        raise BrickError(f"cannot read the {what} {path.name}: {error}") from None


def read_events(path: Path) -> EventList:
    """An event list (``EVENTS`` and ``GTI`` extensions).

    Raises
    ------
    BrickError
        If the file cannot be read or lacks EVENTS, GTI, or the TIME, RAWX, RAWY columns.
    """
    with _open(path, "event list") as hdus:
        names = [hdu.name for hdu in hdus]
        for needed in ("EVENTS", "GTI"):
            if needed not in names:
                raise BrickError(f"the event list {path.name} has no {needed} extension")
        events, gti = hdus["EVENTS"], hdus["GTI"]
        columns = {}
        limits: dict[str, dict[str, int | float]] = {}
        for number, original in enumerate(events.columns, start=1):
            column = original.copy()
            column.array = np.array(events.data[original.name])
            columns[original.name.upper()] = column
            found = {
                k: events.header[f"{k}{number}"] for k in _LIMITS if f"{k}{number}" in events.header
            }
            if found:
                limits[original.name.upper()] = found
        for needed in ("TIME", "RAWX", "RAWY"):
            if needed not in columns:
                raise BrickError(f"the event list {path.name} has no {needed} column")
        gti_names = {n.upper() for n in gti.columns.names}
        if not {"START", "STOP"} <= gti_names:
            raise BrickError(f"the GTI of {path.name} has no START/STOP columns")
        return EventList(
            hdus[0].header.copy(),
            _plain_header(events.header),
            columns,
            limits,
            np.array(gti.data["START"], dtype=np.float64),
            np.array(gti.data["STOP"], dtype=np.float64),
            _hot_pixels(hdus, path) if "HOTPIX" in names else None,
        )


def _hot_pixels(hdus: fits.HDUList, path: Path) -> np.ndarray:
    """The ``(n, 2)`` RAWX, RAWY of the ``HOTPIX`` extension."""
    table = hdus["HOTPIX"]
    if not {"RAWX", "RAWY"} <= {n.upper() for n in table.columns.names}:
        raise BrickError(f"the HOTPIX extension of {path.name} has no RAWX/RAWY columns")
    return np.column_stack(
        [np.array(table.data["RAWX"], np.int64), np.array(table.data["RAWY"], np.int64)]
    ).reshape(-1, 2)


@dataclass(frozen=True)
class Attitude:
    """Attitude samples: spacecraft +Z ``ra``/``dec`` and ``roll`` [deg] at ``time`` [s]."""

    time: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    roll: np.ndarray
    settled: np.ndarray
    in_saa: np.ndarray


def read_attitude(path: Path) -> Attitude:
    """The ``ATTITUDE`` extension (docs/event_formats.md §2).

    Raises
    ------
    BrickError
        If the file cannot be read, lacks a column, or its TIME does not increase.
    """
    with _open(path, "attitude file") as hdus:
        if "ATTITUDE" not in [hdu.name for hdu in hdus]:
            raise BrickError(f"the attitude file {path.name} has no ATTITUDE extension")
        data = hdus["ATTITUDE"].data
        names = {n.upper() for n in hdus["ATTITUDE"].columns.names}
        missing = [n for n in ("TIME", "RA", "DEC", "ROLL", "SETTLED", "IN_SAA") if n not in names]
        if missing:
            raise BrickError(f"the attitude file {path.name} lacks {', '.join(missing)}")
        time, ra, dec, roll = (
            np.array(data[n], dtype=np.float64) for n in ("TIME", "RA", "DEC", "ROLL")
        )
        attitude = Attitude(
            time,
            ra,
            dec,
            roll,
            settled=np.array(data["SETTLED"], dtype=bool),
            in_saa=np.array(data["IN_SAA"], dtype=bool),
        )
    if attitude.time.size < 2 or np.any(np.diff(attitude.time) <= 0):
        raise BrickError(f"the attitude file {path.name} needs >= 2 rows of increasing TIME")
    return attitude
