"""The CALDB configuration files HEASoft reads: ``caldb.config`` and ``alias_config.fits``.

``caldb.config`` ($CALDBCONFIG) maps a mission and instrument to the directory of its CIF;
``alias_config.fits`` ($CALDBALIAS) lists, per mission, the instrument names an alias such as
``ALL`` stands for (used when indexing, by udcif).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import BinaryIO

import numpy as np
from astropy.io import fits

# Package-internal helpers shared with the CIF code (atomic writes, caller's streams).
from caldb_server.heasarc.fitsio import own_stream, write_hdulist

__all__ = [
    "format_caldb_config",
    "parse_caldb_config",
    "read_alias_config",
    "write_alias_config",
]

_CIF_NAME = "caldb.indx"
_NAME_WIDTH = 10  # ALIAS 10A, VALUES 100A10 and the CIF TELESCOP/INSTRUME columns
_MAX_VALUES = 10
# HEASoft's C reader (HDgtcalf rdcnfgl) copies each token into a char[160].
_MAX_TOKEN = 159

_CONFIG_HEADER = """\
# ---------------------------------------------------------------------
# CALDB configuration file (caldb.config), found through $CALDBCONFIG.
# It gives, for each mission and instrument, the location of the
# Calibration Index File (CIF) and of the calibration files.
#
# Comment lines begin with a '#' character.  Every other line has seven
# tokens separated by single spaces:
#   1  mission (TELESCOP), upper case
#   2  instrument (INSTRUME), upper case
#   3  device of the CIF: the environment variable CALDB (top directory)
#   4  directory of the CIF below the device, e.g. data/svom/mxt
#   5  file name of the CIF (caldb.indx)
#   6  device of the calibration directory (CALDB)
#   7  calibration directory below the device (historical, unused)
#
# Written by the SVOM CALDB server; manual edits will be overwritten.
# ---------------------------------------------------------------------
"""

_Source = str | os.PathLike[str] | BinaryIO


def format_caldb_config(entries: Iterable[tuple[str, str, str]]) -> str:
    """Return the text of a ``caldb.config``.

    Parameters
    ----------
    entries
        ``(mission, instrument, index_dir)`` with ``index_dir`` relative to ``$CALDB``,
        e.g. ``('SVOM', 'MXT', 'data/svom/mxt')``. Names are upper-cased; repeated entries
        are written once.

    Raises
    ------
    ValueError
        If a token is empty, holds blanks or non-printable characters, is too long, if
        ``index_dir`` is absolute, or if one instrument is given two directories.
    """
    directories: dict[tuple[str, str], str] = {}
    for mission, instrument, index_dir in entries:
        key = (_token(mission, "mission").upper(), _token(instrument, "instrument").upper())
        directory = _token(index_dir, "index directory")
        if key[0].startswith("#"):
            raise ValueError(f"mission {mission!r} would read as a comment line")
        if directory.startswith("/"):
            raise ValueError(f"index directory {directory!r} must be relative to $CALDB")
        if directories.setdefault(key, directory) != directory:
            raise ValueError(
                f"{key[0]} {key[1]} is given two index directories: "
                f"{directories[key]!r} and {directory!r}"
            )
    lines = (
        f"{mission} {instrument} CALDB {directory} {_CIF_NAME} CALDB {directory}\n"
        for (mission, instrument), directory in sorted(directories.items())
    )
    return _CONFIG_HEADER + "".join(lines)


def parse_caldb_config(text: str) -> list[tuple[str, str, str, str]]:
    """Parse a ``caldb.config`` as HEASoft does.

    Lines starting with ``#`` and blank lines are skipped; other lines are split on
    whitespace and need at least 5 tokens (extra tokens, e.g. Chandra's, are ignored).

    Returns
    -------
    list of tuple
        ``(mission, instrument, index_dir, cif_name)`` per line, in file order.

    Raises
    ------
    ValueError
        For a line with fewer than 5 tokens (HEASoft's Fortran reader stops there too).
    """
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#") or not line.strip():
            continue
        tokens = line.split()
        if len(tokens) < 5:
            raise ValueError(f"caldb.config line {number} has {len(tokens)} tokens: {line!r}")
        entries.append((tokens[0], tokens[1], tokens[3], tokens[4]))
    return entries


def write_alias_config(
    aliases: Mapping[str, Mapping[str, Sequence[str]]], destination: _Source
) -> None:
    """Write an ``alias_config.fits``.

    Parameters
    ----------
    aliases
        ``mission -> {alias -> instrument names}``, e.g.
        ``{'SVOM': {'ALL': ('MXT', 'ECLAIRS')}}``. Missions without aliases are left out.
    destination
        A path (written atomically) or a binary stream.

    Raises
    ------
    ValueError
        If a name is empty, longer than 10 characters or not printable ASCII without
        blanks, or if an alias lists no instrument or more than 10.
    """
    hdus: list[fits.PrimaryHDU | fits.BinTableHDU] = [fits.PrimaryHDU()]
    seen: set[str] = set()
    for mission in sorted(aliases):
        table = aliases[mission]
        _name(mission, "mission")
        if mission.upper() in seen:  # EXTNAME look-ups ignore case
            raise ValueError(f"mission {mission!r} is given twice")
        seen.add(mission.upper())
        if table:
            hdus.append(_alias_table(mission, table))
    write_hdulist(fits.HDUList(hdus), destination)


def read_alias_config(source: _Source) -> dict[str, dict[str, tuple[str, ...]]]:
    """Read an ``alias_config.fits``: ``mission -> {alias -> instrument names}``.

    Raises
    ------
    ValueError
        If a table lacks the ALIAS, ALIAS_NO or VALUES column or has no EXTNAME.
    """
    aliases: dict[str, dict[str, tuple[str, ...]]] = {}
    # The HEASARC fixture opens without any astropy warning, so none is silenced here.
    with fits.open(own_stream(source)) as hdulist:
        for hdu in hdulist[1:]:
            if isinstance(hdu, fits.BinTableHDU):
                mission, table = _read_alias_table(hdu)
                aliases[mission] = table
    return aliases


def _alias_table(mission: str, table: Mapping[str, Sequence[str]]) -> fits.BinTableHDU:
    names, counts, values = [], [], []
    for alias in sorted(table):
        instruments = table[alias]
        _name(alias, f"{mission} alias")
        if isinstance(instruments, str):
            raise TypeError(f"{mission} alias {alias}: give a sequence of names, not a string")
        if not 1 <= len(instruments) <= _MAX_VALUES:
            raise ValueError(
                f"{mission} alias {alias} lists {len(instruments)} instruments, "
                f"expected 1 to {_MAX_VALUES}"
            )
        for instrument in instruments:
            _name(instrument, f"{mission} alias {alias} instrument")
        names.append(alias)
        counts.append(len(instruments))
        # Blank-pad each 10-character slot of VALUES (CFITSIO reads them one by one).
        values.append("".join(instrument.ljust(_NAME_WIDTH) for instrument in instruments))
    columns = [
        fits.Column(name="ALIAS", format="10A", array=np.array(names, dtype="S10")),
        fits.Column(name="ALIAS_NO", format="I", array=np.array(counts, dtype=">i2")),
        # 100A10 rather than dim=: CFITSIO counts the names as repeat/width.
        fits.Column(name="VALUES", format="100A10", array=np.array(values, dtype="S100")),
    ]
    return fits.BinTableHDU.from_columns(columns, name=mission)


def _read_alias_table(hdu: fits.BinTableHDU) -> tuple[str, dict[str, tuple[str, ...]]]:
    mission = hdu.header.get("EXTNAME")
    missing = {"ALIAS", "ALIAS_NO", "VALUES"}.difference(hdu.columns.names)
    if not mission or missing:
        raise ValueError(
            f"alias table {mission!r} needs an EXTNAME and the columns ALIAS, ALIAS_NO, VALUES"
        )
    table: dict[str, tuple[str, ...]] = {}
    for row in hdu.data:
        count = int(row["ALIAS_NO"])
        text = str(row["VALUES"]).ljust(_NAME_WIDTH * _MAX_VALUES)
        if not 0 <= count <= _MAX_VALUES:
            raise ValueError(f"{mission} alias {row['ALIAS']}: ALIAS_NO = {count}")
        slots = (text[i : i + _NAME_WIDTH] for i in range(0, count * _NAME_WIDTH, _NAME_WIDTH))
        table[str(row["ALIAS"]).rstrip()] = tuple(slot.rstrip() for slot in slots)
    return str(mission).strip(), table


def _token(value: str, what: str) -> str:
    """Check a caldb.config token: printable ASCII, no blank (the C reader splits on them)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if not all("!" <= char <= "~" for char in value):
        raise ValueError(f"{what} {value!r} must be printable ASCII without blanks")
    if len(value) > _MAX_TOKEN:
        raise ValueError(f"{what} {value!r} is longer than {_MAX_TOKEN} characters")
    return value


def _name(value: str, what: str) -> None:
    """Check a mission, alias or instrument name for the 10-character columns."""
    _token(value, what)
    if len(value) > _NAME_WIDTH:
        raise ValueError(f"{what} {value!r} is longer than {_NAME_WIDTH} characters")
