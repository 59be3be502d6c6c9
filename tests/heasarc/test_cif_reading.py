"""Reading CIFs other tools wrote, as HEASoft's CFITSIO calls read them.

Column types and layouts HEASoft accepts (integers stored as floats, ``CAL_CBD`` with a
``TDIM``), and every unreadable value reported with its row number instead of the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from caldb_server.heasarc.cif import CBD_WIDTH, CIF_COLUMNS, CifFormatError, CifProblem, read_cif

ROWS = 4
CBDS = [["RAWX(0- 31)", f"CCD({row})", *["NONE"] * 7] for row in range(ROWS)]


def values_of(name: str) -> list[Any]:
    """Plausible values of one column for ROWS rows."""
    if name == "CAL_CBD":
        return ["".join(slot.ljust(CBD_WIDTH) for slot in cbds) for cbds in CBDS]
    if name == "CAL_XNO":
        return list(range(1, ROWS + 1))
    if name == "REF_TIME":
        return [58849.0] * ROWS
    if name == "CAL_QUAL":
        return [0] * ROWS
    fixed = {"CAL_VSD": "2020-01-01", "CAL_VST": "00:00:00", "CAL_DATE": "2020-01-02"}
    return [fixed.get(name, f"{name[-3:]}{row}") for row in range(ROWS)]


def write(path: Path, **columns: tuple[str, Any] | Any) -> Path:
    """A CIF written with astropy; ``columns`` overrides (format, values) or values."""
    made = []
    for name, tform in CIF_COLUMNS:
        override = columns.get(name)
        form, values, dim = tform, values_of(name), None
        if isinstance(override, tuple):
            form, values, *extra = override
            dim = extra[0] if extra else None
        elif override is not None:
            values = override
        made.append(fits.Column(name=name, format=form, array=np.array(values), dim=dim))
    table = fits.BinTableHDU.from_columns(made, name="CIF")
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    return path


def test_integers_stored_as_floats_are_truncated_as_cfitsio_does(tmp_path):
    path = write(
        tmp_path / "cif", CAL_XNO=("E", [1.0, 2.7, -0.5, 4.0]), REF_TIME=("J", [58849] * 4)
    )
    rows = read_cif(path).rows
    assert [row.cal_xno for row in rows] == [1, 2, 0, 4]
    assert all(type(row.ref_time) is float and row.ref_time == 58849.0 for row in rows)


def test_boundaries_with_a_tdim_read_as_with_630a70(tmp_path):
    slots = [[slot.ljust(CBD_WIDTH) for slot in cbds] for cbds in CBDS]
    path = write(tmp_path / "cif", CAL_CBD=("630A", slots, "(70,9)"))
    assert [row.cal_cbd for row in read_cif(path).rows] == [tuple(cbds) for cbds in CBDS]


def test_only_nine_boundaries_are_read_as_heasoft_reads_nine(tmp_path):
    ten = ["".join(s.ljust(CBD_WIDTH) for s in (*cbds, "EXTRA(1)")) for cbds in CBDS]
    rows = read_cif(write(tmp_path / "cif", CAL_CBD=("700A70", ten))).rows
    assert [row.cal_cbd for row in rows] == [tuple(cbds) for cbds in CBDS]


def unreadable_cif(tmp_path: Path) -> Path:
    descriptions = [f"desc{row}".encode() for row in range(ROWS)]
    descriptions[1] = "caf\u00e9".encode("latin-1")
    descriptions[3] = b"\xff"
    return write(tmp_path / "cif", CAL_DESC=descriptions, CAL_QUAL=("D", [0.0, 0.0, np.nan, 5.0]))


def test_every_unreadable_value_is_reported_with_its_row(tmp_path):
    with pytest.raises(CifFormatError, match="3 unreadable value") as refused:
        read_cif(unreadable_cif(tmp_path))
    assert [(p.row, p.column) for p in refused.value.problems] == [
        (2, "CAL_DESC"),
        (3, "CAL_QUAL"),
        (4, "CAL_DESC"),
    ]


def test_keep_going_returns_the_rows_and_the_problems(tmp_path):
    index = read_cif(unreadable_cif(tmp_path), keep_going=True)
    assert len(index.rows) == ROWS
    assert index.rows[1].cal_desc == "caf\\xe9"  # a printable stand-in
    assert index.problems[0] == CifProblem(
        2, "CAL_DESC", "CAL_DESC b'caf\\xe9' holds bytes that are not ASCII"
    )
    assert [row.cal_qual for row in index.rows] == [0, 0, 0, 5]


def test_a_readable_cif_has_no_problems(tmp_path):
    assert read_cif(write(tmp_path / "cif"), keep_going=True).problems == ()
