import dataclasses
import gzip
import io
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st

from caldb_server.heasarc import CIF_COLUMNS, CifFormatError, CifRow, read_cif, write_cif
from tests.helpers import assert_fitsverify_clean, cif_row

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SWIFT_CIF = SHARED / "fixtures" / "heasarc" / "cif" / "swift_xrt_caldb.indx20160609"

ROW = cif_row(
    telescop="SVOM",
    instrume="MXT",
    cal_dir="data/svom/mxt/bcf/gain",
    cal_file="mxt_gain_20240101v001.fits",
    cal_cbd=("ENERG(0.2-10)keV", *["NONE"] * 8),
    cal_vsd="2024-01-01",
    ref_time=60310.0,
    cal_date="2024-06-30",
    cal_desc="MXT gain",
)
STRING_WIDTHS = {name: int(tform[:-1]) for name, tform in CIF_COLUMNS if tform.endswith("A")}
STRING_WIDTHS["CAL_CBD"] = 70  # per boundary slot


@pytest.fixture
def swift_cif() -> Path:
    if not SWIFT_CIF.is_file():
        pytest.skip(f"HEASARC fixture CIF not found at {SWIFT_CIF}")
    return SWIFT_CIF


def column_layout(path: Path) -> list[tuple[str, str]]:
    header = fits.getheader(path, extname="CIF")
    return [(header[f"TTYPE{i}"], header[f"TFORM{i}"]) for i in range(1, header["TFIELDS"] + 1)]


def test_header_layout(tmp_path: Path) -> None:
    path = tmp_path / "caldb.indx"
    write_cif([ROW], path, caldbver="20240630")

    assert column_layout(path) == list(CIF_COLUMNS)
    # checksum=True makes astropy verify CHECKSUM/DATASUM; a mismatch warns, i.e. fails here.
    with fits.open(path, checksum=True) as hdulist:
        assert len(hdulist) == 2
        assert hdulist[0].header["NAXIS"] == 0
        header = hdulist[1].header
        assert header["EXTNAME"] == "CIF"
        assert header["NAXIS1"] == 947
        assert header["CIFVERSN"] == " 1.1"
        assert header.comments["CIFVERSN"] == "Version of CIF format"
        assert header["CALDBVER"] == "20240630"
        assert header.comments["CALDBVER"] == "CALDB version"
        for hdu in hdulist:
            assert {"CHECKSUM", "DATASUM"} <= set(hdu.header)
    assert_fitsverify_clean(path)


def test_round_trip_one_row(tmp_path: Path) -> None:
    path = tmp_path / "caldb.indx"
    write_cif([ROW], path, caldbver="20240630")
    index = read_cif(path)
    assert index.rows == [ROW]
    assert (index.cifversn, index.caldbver) == ("1.1", "20240630")


def test_fixture_round_trip(tmp_path: Path, swift_cif: Path) -> None:
    original = read_cif(swift_cif)
    assert len(original.rows) == 699
    assert (original.cifversn, original.caldbver) == ("1.1", "20160609")
    rmf = original.rows[571]  # 1-based row 572: the fixture RMF, MATRIX extension
    assert (rmf.cal_file, rmf.cal_xno, rmf.cal_cnam) == (
        "swxpc0to12s6_20130101v014.rmf",
        1,
        "MATRIX",
    )
    assert rmf.cal_cbd[:7] == (
        "DATAMODE(PHOTON)",
        "DETCHANS(1024)",
        "GRADE(G0:12)",
        "CHAN(0-1023)",
        'CHANTYPE("PI")',
        "XRTVSUB(6)",
        "NONE",
    )

    rewritten = tmp_path / "caldb.indx20160609"
    write_cif(original.rows, rewritten, caldbver="20160609")

    assert read_cif(rewritten) == original
    assert column_layout(rewritten) == column_layout(swift_cif)
    assert fits.getheader(rewritten, extname="CIF")["NAXIS1"] == 947
    assert_fitsverify_clean(rewritten)


def test_rewritten_fixture_is_byte_identical_in_its_data(swift_cif: Path) -> None:
    """Same size, same 699 x 947 data bytes (blank padding included), same DATASUM."""
    original = swift_cif.read_bytes()
    buffer = io.BytesIO()
    write_cif(read_cif(swift_cif).rows, buffer, caldbver="20160609")
    rewritten = buffer.getvalue()
    assert len(rewritten) == len(original)
    with fits.open(io.BytesIO(original)) as old, fits.open(io.BytesIO(rewritten)) as new:
        start, end = old.fileinfo(1)["datLoc"], old.fileinfo(1)["datLoc"] + 699 * 947
        assert new.fileinfo(1)["datLoc"] == start
        assert rewritten[start:end] == original[start:end]
        assert new[1].header["DATASUM"] == old[1].header["DATASUM"]
        assert [new[1].header[f"TFORM{n}"] for n in range(1, 19)] == [
            old[1].header[f"TFORM{n}"] for n in range(1, 19)
        ]


def test_text_is_blank_padded_never_nul(tmp_path: Path) -> None:
    path = tmp_path / "caldb.indx"
    write_cif([ROW], path, caldbver="20260101")
    with fits.open(path) as hdus:
        start = hdus.fileinfo(1)["datLoc"]
    record = path.read_bytes()[start : start + 947]
    offset = 0
    for name, tform in CIF_COLUMNS:
        width = {"I": 2, "D": 8}.get(tform) or int(tform.split("A")[0])
        if tform not in ("I", "D"):
            assert b"\x00" not in record[offset : offset + width], name
        offset += width
    assert offset == 947


def test_nine_boundaries_survive_including_after_none(tmp_path: Path) -> None:
    cbd = ("A(1)", "NONE", "B(2-3)", "C(x)", "D", "E", "F", "G", "H" * 70)
    row = dataclasses.replace(ROW, cal_cbd=cbd)
    path = tmp_path / "caldb.indx"
    write_cif([row], path, caldbver="20240630")
    assert read_cif(path).rows[0].cal_cbd == cbd
    # Each slot is left-justified in its 70 characters of the single 630-byte field.
    with fits.open(path, character_as_bytes=True) as hdulist:
        field = bytes(hdulist[1].data.field("CAL_CBD")[0])
    assert field[:140] == b"A(1)".ljust(70) + b"NONE".ljust(70)


def test_blank_boundaries_are_written_as_none(tmp_path: Path) -> None:
    row = dataclasses.replace(ROW, cal_cbd=("", "  ", *["X(1)"] * 7))
    write_cif([row], tmp_path / "caldb.indx", caldbver="20240630")
    assert read_cif(tmp_path / "caldb.indx").rows[0].cal_cbd == ("NONE", "NONE", *["X(1)"] * 7)


def test_empty_cif_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "caldb.indx"
    write_cif([], path, caldbver="20240630")
    assert read_cif(path).rows == []
    assert fits.getheader(path, extname="CIF")["NAXIS2"] == 0
    assert column_layout(path) == list(CIF_COLUMNS)
    assert_fitsverify_clean(path)


@pytest.mark.parametrize(("column", "width"), sorted(STRING_WIDTHS.items()))
def test_overlong_value_raises_naming_column(column: str, width: int) -> None:
    if column == "CAL_CBD":
        row = dataclasses.replace(ROW, cal_cbd=("NONE", "X" * 71, *["NONE"] * 7))
    else:
        row = dataclasses.replace(ROW, **{column.lower(): "X" * (width + 1)})
    with pytest.raises(ValueError, match=rf"^{column}: .*row 0"):
        write_cif([row], io.BytesIO(), caldbver="20240630")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cal_desc": "caf\u00e9"}, "CAL_DESC: .*not ASCII"),
        ({"cal_file": "a\tb"}, "CAL_FILE: .*non-printable"),
        ({"detnam": "A\x00B"}, "DETNAM: .*non-printable"),
        ({"cal_xno": 40000}, "CAL_XNO: .*16-bit"),
        ({"cal_qual": -40000}, "CAL_QUAL: .*16-bit"),
    ],
)
def test_unwritable_values_raise_value_error(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_cif([dataclasses.replace(ROW, **changes)], io.BytesIO(), caldbver="20240630")


@pytest.mark.parametrize(
    "changes", [{"telescop": None}, {"cal_xno": 1.5}, {"cal_qual": True}, {"ref_time": "1"}]
)
def test_wrong_types_raise_type_error(changes: dict) -> None:
    with pytest.raises(TypeError, match=next(iter(changes)).upper()):
        write_cif([dataclasses.replace(ROW, **changes)], io.BytesIO(), caldbver="20240630")


@pytest.mark.parametrize("caldbver", ["2024063", "2024-06-30", "2024063x", ""])
def test_caldbver_must_be_8_digits(caldbver: str) -> None:
    with pytest.raises(ValueError, match="caldbver"):
        write_cif([ROW], io.BytesIO(), caldbver=caldbver)


def test_cal_cbd_needs_nine_slots() -> None:
    with pytest.raises(ValueError, match="9"):
        dataclasses.replace(ROW, cal_cbd=("NONE",) * 8)


def test_failed_write_leaves_existing_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "caldb.indx"
    write_cif([ROW], path, caldbver="20240630")
    before = path.read_bytes()
    with pytest.raises(ValueError, match="CAL_FILE"):
        write_cif([dataclasses.replace(ROW, cal_file="x" * 41)], path, caldbver="20240701")
    assert path.read_bytes() == before
    write_cif([ROW, ROW], path, caldbver="20240701")
    assert len(read_cif(path).rows) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["caldb.indx"]


def test_stream_round_trip() -> None:
    buffer = io.BytesIO()
    write_cif([ROW], buffer, caldbver="20240630")
    buffer.seek(0)
    assert read_cif(buffer).rows == [ROW]
    assert not buffer.closed  # the caller's stream is left open


def test_reads_gzip_compressed_cif(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    write_cif([ROW], buffer, caldbver="20240630")
    path = tmp_path / "caldb.indx.gz"
    path.write_bytes(gzip.compress(buffer.getvalue()))
    assert read_cif(path).rows == [ROW]


def test_reads_legacy_8a_dates_and_any_column_order(tmp_path: Path) -> None:
    formats = dict(CIF_COLUMNS) | {"CAL_VSD": "8A", "CAL_DATE": "8A"}
    values = dataclasses.asdict(ROW) | {"cal_vsd": "01/01/24", "cal_date": "30/06/24"}
    values["cal_cbd"] = "".join(slot.ljust(70) for slot in values["cal_cbd"])
    columns = [
        fits.Column(name=name, format=formats[name], array=np.array([values[name.lower()]]))
        for name in reversed(formats)
    ]
    path = tmp_path / "legacy.indx"
    table = fits.BinTableHDU.from_columns(columns, name="CIF")
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)

    index = read_cif(path)
    assert index.rows == [dataclasses.replace(ROW, cal_vsd="01/01/24", cal_date="30/06/24")]
    assert (index.cifversn, index.caldbver) == (None, None)


def test_non_fits_file_raises_cif_format_error(tmp_path: Path) -> None:
    path = tmp_path / "caldb.indx"
    path.write_text("SVOM MXT CALDB data/svom/mxt caldb.indx CALDB data/svom/mxt\n")
    with pytest.raises(CifFormatError, match="not a FITS file"):
        read_cif(path)


def test_fits_without_cif_columns_raises_cif_format_error(tmp_path: Path) -> None:
    path = tmp_path / "caldb.indx"
    column = fits.Column(name="TELESCOP", format="10A", array=np.array(["SVOM"]))
    table = fits.BinTableHDU.from_columns([column], name="CIF")
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with pytest.raises(CifFormatError, match=r"missing column.*CAL_CBD"):
        read_cif(path)


def test_fits_without_table_raises_cif_format_error(tmp_path: Path) -> None:
    path = tmp_path / "image.fits"
    fits.PrimaryHDU().writeto(path)
    with pytest.raises(CifFormatError, match="no CIF binary table"):
        read_cif(path)


def test_missing_file_is_not_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_cif(tmp_path / "absent.indx")


# Printable ASCII without trailing blanks: what a fixed-width FITS string keeps.
def _text(width: int, *, min_size: int = 0) -> st.SearchStrategy[str]:
    alphabet = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
    return st.text(alphabet, min_size=min_size, max_size=width).map(str.rstrip)


_ROWS = st.builds(
    CifRow,
    **{name.lower(): _text(width) for name, width in STRING_WIDTHS.items() if name != "CAL_CBD"},
    cal_cbd=st.tuples(*[_text(70).filter(str.strip) | st.just("NONE")] * 9),
    cal_xno=st.integers(-32768, 32767),
    ref_time=st.floats(allow_nan=False),
    cal_qual=st.integers(-32768, 32767),
)


@settings(max_examples=60, deadline=None, database=None)
@given(rows=st.lists(_ROWS, max_size=5))
def test_printable_rows_round_trip(rows: list[CifRow]) -> None:
    buffer = io.BytesIO()
    write_cif(rows, buffer, caldbver="20240630")
    buffer.seek(0)
    assert read_cif(buffer).rows == rows


def test_same_rows_give_the_same_bytes(tmp_path: Path) -> None:
    """Two generations of one catalogue state are identical: no wall clock in the file."""
    first, second = tmp_path / "a.indx", tmp_path / "b.indx"
    write_cif([ROW], first, caldbver="20260101")
    write_cif([ROW], second, caldbver="20260101")
    assert first.read_bytes() == second.read_bytes()
    with fits.open(first, checksum=True) as hdus:
        assert hdus[1].header.comments["CHECKSUM"] == "HDU checksum updated 2026-01-01T00:00:00"
