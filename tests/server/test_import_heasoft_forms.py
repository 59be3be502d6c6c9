"""Importing indexes HEASoft tools wrote: every real CIF, and the forms quzcif accepts.

The CIFs of this module are written with astropy directly (not with our ``write_cif``), as
another team's tools would write them: NUL-padded text, ``630A70`` boundaries.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner
from sqlalchemy import func, select

from caldb_selection import parse_boundary
from caldb_server.catalogue.models import Dataset
from caldb_server.cli import main
from caldb_server.errors import ValidationFailed
from caldb_server.heasarc.cif import CBD_WIDTH, CIF_COLUMNS, CifRow, read_cif
from caldb_server.web import extension
from tests.helpers import SWIFT_XRT_GAIN_ROW, import_index, tree_files

ROW = SWIFT_XRT_GAIN_ROW


def astropy_cif(path: Path, rows: list[CifRow], **raw: Any) -> Path:
    """Write ``rows`` as a CIF with astropy; ``raw`` replaces whole columns (e.g. bytes)."""
    columns = []
    for name, tform in CIF_COLUMNS:
        values = raw.get(name) or [getattr(row, name.lower()) for row in rows]
        if name == "CAL_CBD":
            values = ["".join(slot.ljust(CBD_WIDTH) for slot in slots) for slots in values]
        columns.append(fits.Column(name=name, format=tform, array=np.array(values)))
    table = fits.BinTableHDU.from_columns(columns, name="CIF")
    table.header["CIFVERSN"] = "1.1"
    table.header["CALDBVER"] = "20260101"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    return path


def with_cbd(row: CifRow, *cbds: str, **values: Any) -> CifRow:
    return dataclasses.replace(row, cal_cbd=(*cbds, *("NONE",) * (9 - len(cbds))), **values)


@pytest.fixture
def cli_env(app_config):
    return {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}


def run_cli(env: dict[str, str], *args: object) -> Any:
    return CliRunner().invoke(main, [str(arg) for arg in args], env=env, catch_exceptions=False)


def dataset_count(app) -> int:
    with extension(app).database.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(Dataset))


# --- every real HEASARC index --------------------------------------------------------------


def real_cifs(heasarc_dir: Path) -> list[Path]:
    found = {*heasarc_dir.rglob("*.indx*"), *heasarc_dir.rglob("caldb.indx*")}
    return sorted(path for path in found if path.is_file())


def test_every_real_heasarc_index_imports(app, heasarc_dir):
    cifs = real_cifs(heasarc_dir)
    assert cifs, f"no CIF under {heasarc_dir}"
    for path in cifs:
        rows = read_cif(path).rows
        report = import_index(app, path)
        assert report.rows_read == len(rows), path
        assert report.datasets_added + report.datasets_present == len(rows), path
        # HEASARC's own indexes need no leniency: both readings agree on every boundary.
        assert report.notes == [], path
        for cbd in {cbd for row in rows for cbd in row.cal_cbd}:
            assert parse_boundary(cbd, lenient=True) == parse_boundary(cbd), cbd


def test_every_real_heasarc_index_imports_with_the_cli(app, cli_env, heasarc_dir):
    for path in real_cifs(heasarc_dir):
        result = run_cli(cli_env, "import-cif", path)
        assert result.exit_code == 0, result.output
        assert f"{len(read_cif(path).rows)} rows" in result.output


# --- the blank forms quzcif accepts --------------------------------------------------------

# (as another team's index spells it, as udcif would) and values to ask for.
FORMS = [
    ("RAWX(0- 31)", "RAWX(0-31)", "rawx", ["-1", "0", "15", "31", "31.5", "32", "0:40", "32:40"]),
    ("RAWX(0 -31)", "RAWX(0-31)", "rawx", ["-1", "0", "31", "32", "-5:-1"]),
    ("RAWX( 0 - 31 )", "RAWX(0-31)", "rawx", ["-1", "0", "31", "32"]),
    ("ENERG(1.0E-1-1.2d1)keV", "ENERG(0.1-12)keV", "energ", ["0.05", "0.1", "12", "12.5"]),
    ("energ( 1.0d-1 - +12. ) KEV", "ENERG(0.1-12.0)keV", "energ", ["0.05", "0.1", "1.2D1"]),
    ("DATAMODE( photon , WINDOWED )", "DATAMODE(PHOTON,WINDOWED)", "datamode", ["PHOTON"]),
    ("THETA(5 arcmin)", "THETA(5)arcmin", "theta", ["4", "5", "5.0", "0:10"]),
    ("XRTVSUB(6.)", "XRTVSUB(6)", "xrtvsub", ["6", "5"]),
]


STRICT_TOO = {"DATAMODE( photon , WINDOWED )", "XRTVSUB(6.)"}


def blank_and_compact_rows() -> list[CifRow]:
    rows = []
    for number, (blank, compact, _, _) in enumerate(FORMS):
        for kind, cbd in (("B", blank), ("C", compact)):
            # A one-digit time of day, as fiptim reads it, on the blank rows.
            vst = "0:0:0" if kind == "B" else "00:00:00"
            name = f"{kind}{number}"
            rows.append(with_cbd(ROW, cbd, cal_cnam=name, cal_file=f"{name}.fits", cal_vst=vst))
    return rows


def test_blank_forms_import_with_the_meaning_of_the_compact_ones(app, client, tmp_path):
    path = astropy_cif(tmp_path / "caldb.indx", blank_and_compact_rows())
    report = import_index(app, path)
    assert report.datasets_added == 2 * len(FORMS)
    for number, (blank, _, parameter, values) in enumerate(FORMS):
        # Forms the strict grammar reads too (blanks around a value) need no note.
        noted = any(note.startswith(f"row {2 * number + 1}: CAL_CBD ") for note in report.notes)
        assert noted is (blank not in STRICT_TOO), blank
        for value in values:
            found = []
            for kind in "BC":
                search = (
                    "/api/v1/search?mission=SWIFT&instrument=XRT&date=-"
                    f"&codename={kind}{number}&expr={parameter}.eq.{value}"
                )
                answer = client.get(search)
                assert answer.status_code == 200, answer.get_json()
                found.append(answer.get_json()["nfound"])
            assert found[0] == found[1], (blank, value, found)
    # The rows keep the index's own text: an export gives the other team's index back.
    with extension(app).database.unit_of_work(write=False) as session:
        stored = {d.cal_cnam: d.cal_cbd[0] for d in session.scalars(select(Dataset))}
    assert {stored[f"B{n}"] for n in range(len(FORMS))} == {blank for blank, *_ in FORMS}


def test_the_blank_forms_select_as_expected(app, client, tmp_path):
    import_index(app, astropy_cif(tmp_path / "caldb.indx", blank_and_compact_rows()))

    def nfound(codename: str, expr: str) -> int:
        search = f"/api/v1/search?mission=SWIFT&instrument=XRT&date=-&codename={codename}"
        return client.get(f"{search}&expr={expr}").get_json()["nfound"]

    assert [nfound("B0", f"rawx.eq.{v}") for v in ("-1", "0", "31", "32")] == [0, 1, 1, 0]
    assert [nfound("B1", f"rawx.eq.{v}") for v in ("-1", "0", "31", "32")] == [0, 1, 1, 0]
    assert [nfound("B3", f"energ.eq.{v}") for v in ("0.05", "0.1", "12", "12.5")] == [0, 1, 1, 0]


# --- every row that cannot be imported is reported ----------------------------------------


def bad_rows_cif(tmp_path: Path) -> Path:
    rows = [
        with_cbd(ROW, "RAWX(0- 31)", cal_file="r1.fits"),  # 1: fine (leniently)
        with_cbd(ROW, "RAWX(1.2.3)", cal_file="r2.fits"),  # 2: not a number
        with_cbd(ROW, "XRTVSUB(6)", cal_file="r3.fits"),  # 3: fine
        with_cbd(ROW, "NONE", cal_file="r4.fits", cal_vsd="2020-13-01"),  # 4: no such month
        with_cbd(ROW, "NONE", cal_file="r5.fits"),  # 5: CAL_DESC not ASCII (below)
        with_cbd(ROW, "ENERG(", "THETA(0 - 5x)", cal_file="r6.fits"),  # 6: two bad boundaries
        with_cbd(ROW, "NONE", cal_file="r7.fits", cal_xno=-1),  # 7: negative extension
    ]
    descriptions = [row.cal_desc.encode() for row in rows]
    descriptions[4] = "caf\u00e9".encode("latin-1")
    return astropy_cif(tmp_path / "caldb.indx", rows, CAL_DESC=descriptions)


BAD_ROWS = {2, 4, 5, 6, 7}


def test_the_service_reports_every_bad_row_with_its_number(app, tmp_path):
    with pytest.raises(ValidationFailed) as refused:
        import_index(app, bad_rows_cif(tmp_path))
    errors = refused.value.errors
    assert {error["row"] for error in errors} == BAD_ROWS
    assert sum(error["row"] == 6 for error in errors) == 2
    assert "5 row(s)" in refused.value.detail
    assert dataset_count(app) == 0


def test_the_cli_reports_every_bad_row_and_exits_3(app, cli_env, tmp_path):
    result = run_cli(cli_env, "import-cif", bad_rows_cif(tmp_path))
    assert result.exit_code == 3, result.output
    for row in BAD_ROWS:
        assert f"row={row}:" in result.stderr
    assert "row=1:" not in result.stderr
    assert "row=3:" not in result.stderr
    assert "RAWX(1.2.3)" in result.stderr
    assert "b'caf\\xe9'" in result.stderr
    assert "Traceback" not in result.output
    assert dataset_count(app) == 0
    assert tree_files(extension(app).storage.root) == []


def test_the_cli_notes_what_only_heasoft_reads(app, cli_env, tmp_path):
    rows = [with_cbd(ROW, "RAWX(0- 31)"), with_cbd(ROW, "RAWX(0-31)", cal_xno=2)]
    result = run_cli(cli_env, "import-cif", astropy_cif(tmp_path / "caldb.indx", rows))
    assert result.exit_code == 0, result.output
    assert "note: row 1: CAL_CBD 'RAWX(0- 31)' read as HEASoft reads it: RAWX(0:31)" in (
        result.output
    )
    assert "row 2" not in result.output
    assert "1 value(s) read as HEASoft reads them" in result.output


def test_a_blank_before_a_number_is_noted_where_quzcif_reads_text(app, tmp_path):
    rows = [with_cbd(ROW, "RAWX( 0-31)"), with_cbd(ROW, "RAWX( 0 - 31 )", cal_xno=2)]
    report = import_index(app, astropy_cif(tmp_path / "caldb.indx", rows))
    assert report.notes[0] == (
        "row 1: CAL_CBD 'RAWX( 0-31)' read as RAWX(0:31), but quzcif reads ' 0-31' as text "
        "(a blank comes first): no requested number matches it there"
    )
    assert [note[:6] for note in report.notes] == ["row 1:", "row 2:", "row 2:"]


def test_values_a_heasarc_cif_cannot_hold_are_refused_per_row(app, tmp_path):
    rows = [
        dataclasses.replace(ROW, cal_desc="tab\there"),
        dataclasses.replace(ROW, cal_file="g2.fits", cal_cbd=("E(1)", *("NONE",) * 8)),
    ]
    with pytest.raises(ValidationFailed) as refused:
        import_index(app, astropy_cif(tmp_path / "caldb.indx", rows))
    assert [error["row"] for error in refused.value.errors] == [1]
    assert "not printable ASCII" in refused.value.errors[0]["reason"]
