"""caldb_server.inspect, comparing versions: FITS files with FITSDiff, onboard YAML with difflib.

The demonstration set has two epochs of MXT TELDEF, GAIN and CTI (a header-only file and
two tables); small files written here cover what the demo does not change (columns added,
removed, reformatted, NaN, images, variable-length arrays, HDUs added, commentary cards).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.io.fits.diff import FITSDiff
from hypothesis import given
from hypothesis import strategies as st

from caldb_demodata import EPOCH_1, EPOCH_2
from caldb_server.inspect import (
    IGNORED_KEYWORDS,
    Card,
    ColumnAttributeChange,
    HduRef,
    KeywordChange,
    compare_files,
    compare_yaml,
)
from tests.helpers import MXT_GAIN, write_calfile
from tests.server.inspect_files import demo_set, foreign_extension, table, write


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return demo_set(tmp_path_factory)


def epochs(demo: dict[str, Path], codename: str) -> tuple[Path, Path]:
    first, second = (EPOCH_1.replace("-", ""), EPOCH_2.replace("-", ""))
    return (
        demo[f"svmxt_{codename}_{first}v001.fits"],
        demo[f"svmxt_{codename}_{second}v001.fits"],
    )


# --- The demonstration epochs ----------------------------------------------------------


def test_teldef_epochs_differ_in_their_keywords_only(demo: dict[str, Path]) -> None:
    comparison = compare_files(*epochs(demo, "teldef"))
    assert (comparison.old_hdu_count, comparison.new_hdu_count) == (1, 1)
    assert not comparison.identical
    (primary,) = comparison.hdus
    assert (primary.old_name, primary.old_kind, primary.identical) == ("PRIMARY", "primary", False)
    assert primary.table is None
    assert primary.image is None
    changed = {change.keyword: change for change in primary.header.changed}
    assert changed["CVSD0001"] == KeywordChange("CVSD0001", "value", EPOCH_1, EPOCH_2)
    assert {"BOREOFFX", "ALIGNM13"} <= changed.keys()
    assert not changed.keys() & set(IGNORED_KEYWORDS)
    assert [change.keyword for change in primary.header.changed] == sorted(changed)


def test_gain_epochs_count_differences_per_column(demo: dict[str, Path]) -> None:
    old_path, new_path = epochs(demo, "gain")
    comparison = compare_files(old_path, new_path)
    primary, gain = comparison.hdus
    assert primary.identical
    assert primary.header.identical
    assert not gain.identical
    assert gain.table is not None
    assert gain.table.values_compared
    assert (gain.table.old_rows, gain.table.new_rows) == (256, 256)
    old, new = fits.getdata(old_path, 1), fits.getdata(new_path, 1)
    found = {change.name: change for change in gain.table.column_changes}
    differing = [name for name in old.columns.names if (old[name] != new[name]).any()]
    assert list(found) == differing == ["GAIN", "OFFSET", "GAIN_ERR", "OFFS_ERR"]
    for name in differing:
        assert found[name].differing_rows == int((old[name] != new[name]).sum())
        largest = np.abs(new[name].astype(np.float64) - old[name]).max()
        assert found[name].max_abs_difference == largest
    found = FITSDiff(str(old_path), str(new_path), ignore_keywords=list(IGNORED_KEYWORDS))
    (_index, hdu_diff, _name, _version) = found.diff_hdus[-1]
    assert sum(c.differing_rows for c in gain.table.column_changes) == hdu_diff.diff_data.diff_total


def test_a_file_against_itself_is_identical(demo: dict[str, Path]) -> None:
    path = demo["svmxt_psf_20240622v001.fits"]
    comparison = compare_files(path, path)
    assert comparison.identical
    assert all(hdu.identical and hdu.header.identical for hdu in comparison.hdus)
    assert comparison.only_in_old == comparison.only_in_new == []


# --- Headers ---------------------------------------------------------------------------


def test_written_again_later_is_identical(tmp_path: Path) -> None:
    table_hdu = table(X=("E", np.arange(3.0)))
    first = fits.HDUList([fits.PrimaryHDU(), table_hdu])
    first[0].header["DATE"] = "2024-01-01T00:00:00"
    first.writeto(tmp_path / "a.fits", checksum=True)
    first[0].header["DATE"] = "2025-01-01T00:00:00"
    first.writeto(tmp_path / "b.fits", checksum=True)
    assert compare_files(tmp_path / "a.fits", tmp_path / "b.fits").identical
    first.writeto(tmp_path / "no_checksum.fits")  # fewer cards: FITSDiff alone would differ
    assert compare_files(tmp_path / "a.fits", tmp_path / "no_checksum.fits").identical
    strict = compare_files(tmp_path / "a.fits", tmp_path / "b.fits", ignored_keywords=())
    changed = {change.keyword for change in strict.hdus[0].header.changed}
    assert changed == {"DATE", "CHECKSUM"}
    assert strict.ignored_keywords == ()


def test_keywords_added_removed_and_changed(tmp_path: Path) -> None:
    old = write_calfile(tmp_path / "old.fits", {**MXT_GAIN, "GONE": 1, "KEPT": (1.5, "a comment")})
    new_keywords = {**MXT_GAIN, "CVSD0001": "2025-01-01", "KEPT": (1.5, "another"), "NEW": True}
    new = write_calfile(tmp_path / "new.fits", new_keywords)
    header = compare_files(old, new).hdus[1].header
    assert header.removed == [Card("GONE", "1", "")]
    assert header.added == [Card("NEW", "T", "")]
    assert header.changed == [
        KeywordChange("CVSD0001", "value", "2024-06-22", "2025-01-01"),
        KeywordChange("KEPT", "comment", "a comment", "another"),
    ]


def test_history_lines_are_compared_as_lines_not_positions(tmp_path: Path) -> None:
    old, new = fits.Header(), fits.Header()
    for line in ("step one", "step two", "step three"):
        old.add_history(line)
    new.add_history("step zero")
    for line in ("step one", "step two", "step three"):
        new.add_history(line)
    new.add_comment("reviewed")
    write(tmp_path / "old.fits", fits.PrimaryHDU(header=old))
    write(tmp_path / "new.fits", fits.PrimaryHDU(header=new))
    header = compare_files(tmp_path / "old.fits", tmp_path / "new.fits").hdus[0].header
    assert header.changed == []
    assert header.removed == []
    assert header.added == [Card("HISTORY", "step zero", ""), Card("COMMENT", "reviewed", "")]


# --- Table data ------------------------------------------------------------------------


def test_columns_added_removed_reformatted_and_reunited(tmp_path: Path) -> None:
    old_table = table(A=("E", [1.0, 2.0]), GONE=("J", [1, 2]), WIDE=("E", [1.0, 2.0]))
    old_table.columns["A"].unit = "keV"
    new_table = table(A=("E", [1.0, 2.0]), WIDE=("D", [1.0, 2.0]), NEW=("J", [5, 6]))
    new_table.columns["A"].unit = "eV"
    write(tmp_path / "old.fits", old_table)
    write(tmp_path / "new.fits", new_table)
    changes = compare_files(tmp_path / "old.fits", tmp_path / "new.fits").hdus[1].table
    assert changes.columns_added == ["NEW"]
    assert changes.columns_removed == ["GONE"]
    assert ColumnAttributeChange("WIDE", "format", "E", "D") in changes.attribute_changes
    assert ColumnAttributeChange("A", "unit", "keV", "eV") in changes.attribute_changes
    assert changes.column_changes == []


def test_nan_is_equal_to_nan_and_differs_from_numbers(tmp_path: Path) -> None:
    write(tmp_path / "nan_old.fits", table(Y=("E", [np.nan, 1.0])))
    write(tmp_path / "nan_new.fits", table(Y=("E", [2.0, 1.0])))
    nan_only = compare_files(tmp_path / "nan_old.fits", tmp_path / "nan_new.fits").hdus[1]
    (change,) = nan_only.table.column_changes
    assert (change.differing_rows, change.max_abs_difference) == (1, None)
    assert change.max_abs_difference_text == ""
    write(
        tmp_path / "old.fits",
        table(X=("D", [np.nan, 1.0, np.nan, 4.0]), T=("4A", ["a", "b", "c", "d"])),
    )
    write(
        tmp_path / "new.fits",
        table(X=("D", [np.nan, 1.5, 2.0, 1.0]), T=("4A", ["a", "b", "z", "d"])),
    )
    changes = compare_files(tmp_path / "old.fits", tmp_path / "new.fits").hdus[1].table
    by_name = {change.name: change for change in changes.column_changes}
    assert by_name["X"].differing_rows == 3
    assert by_name["X"].max_abs_difference == 3.0  # NaN against 2.0 differs by no amount
    assert by_name["X"].max_abs_difference_text == "3"
    assert by_name["T"].differing_rows == 1
    assert by_name["T"].max_abs_difference is None


def test_rows_added_stop_the_value_comparison(tmp_path: Path) -> None:
    write(tmp_path / "old.fits", table(X=("J", [1, 2])))
    write(tmp_path / "new.fits", table(X=("J", [1, 2, 3])))
    hdu = compare_files(tmp_path / "old.fits", tmp_path / "new.fits").hdus[1]
    assert (hdu.table.old_rows, hdu.table.new_rows, hdu.table.values_compared) == (2, 3, False)
    assert KeywordChange("NAXIS2", "value", "2", "3") in hdu.header.changed


def test_variable_length_and_vector_columns(tmp_path: Path) -> None:
    rows = [np.array([1.0, 2.0]), np.array([3.0]), np.array([4.0, 5.0, 6.0])]
    changed = [np.array([1.0, 2.5]), np.array([3.0, 0.0]), np.array([4.0, 5.0, 6.0])]
    vectors = np.arange(6.0).reshape(3, 2)
    moved = vectors.copy()
    moved[2, 1] = -10.0
    write(tmp_path / "old.fits", table(M=("PD()", rows), V=("2D", vectors)))
    write(tmp_path / "new.fits", table(M=("PD()", changed), V=("2D", moved)))
    changes = compare_files(tmp_path / "old.fits", tmp_path / "new.fits").hdus[1].table
    by_name = {change.name: change for change in changes.column_changes}
    assert (by_name["M"].differing_rows, by_name["M"].max_abs_difference) == (2, 0.5)
    assert (by_name["V"].differing_rows, by_name["V"].max_abs_difference) == (1, 15.0)


# --- Images and HDU structure ----------------------------------------------------------


def test_images_count_differing_pixels(tmp_path: Path) -> None:
    old = np.zeros((4, 5), dtype=np.int16)
    new = old.copy()
    new[1, 2], new[3, 4] = 7, -30000  # the difference is computed in float64: no wrap-around
    old[3, 4] = 30000
    write(tmp_path / "old.fits", fits.ImageHDU(old, name="IMG"))
    write(tmp_path / "new.fits", fits.ImageHDU(new, name="IMG"))
    image = compare_files(tmp_path / "old.fits", tmp_path / "new.fits").hdus[1].image
    assert (image.old_shape, image.pixels, image.differing_pixels) == ((4, 5), 20, 2)
    assert image.max_abs_difference == 60000.0
    assert image.max_abs_difference_text == "60000"
    write(tmp_path / "wider.fits", fits.ImageHDU(np.zeros((4, 6), dtype=np.int16), name="IMG"))
    reshaped = compare_files(tmp_path / "old.fits", tmp_path / "wider.fits").hdus[1].image
    assert (reshaped.new_shape, reshaped.differing_pixels) == ((4, 6), None)


def test_hdus_added_renamed_and_of_another_kind(tmp_path: Path) -> None:
    write(
        tmp_path / "old.fits",
        table(
            X=("J", [1]),
        ),
        fits.ImageHDU(np.zeros((2, 2)), name="A"),
    )
    old_hdus = fits.open(tmp_path / "old.fits")
    old_hdus.close()
    write(
        tmp_path / "new.fits",
        fits.ImageHDU(np.zeros((2, 2)), name="NOW_IMAGE"),
        fits.ImageHDU(np.zeros((2, 2)), name="B"),
        table(Y=("J", [1])),
    )
    comparison = compare_files(tmp_path / "old.fits", tmp_path / "new.fits")
    assert (comparison.old_hdu_count, comparison.new_hdu_count) == (3, 4)
    assert comparison.only_in_old == []
    assert comparison.only_in_new == [HduRef(3, "")]
    kinds = comparison.hdus[1]
    assert (kinds.old_kind, kinds.new_kind) == ("bintable", "image")
    assert kinds.data_note == "The HDUs are of different kinds; their data are not compared."
    renamed = comparison.hdus[2]
    assert (renamed.old_name, renamed.new_name, renamed.identical) == ("A", "B", False)
    assert KeywordChange("EXTNAME", "value", "A", "B") in renamed.header.changed
    assert renamed.image is None  # same pixels
    assert not comparison.identical


def test_foreign_extensions_are_compared_byte_by_byte(tmp_path: Path) -> None:
    (tmp_path / "old.fits").write_bytes(foreign_extension(b"abcdefgh"))
    (tmp_path / "new.fits").write_bytes(foreign_extension(b"abcdefgX"))
    foreign = compare_files(tmp_path / "old.fits", tmp_path / "new.fits").hdus[1]
    assert (foreign.old_kind, foreign.identical) == ("other", False)
    assert foreign.header.identical
    assert foreign.data_note == "The data differ (compared byte by byte)."


def test_data_in_one_hdu_only(tmp_path: Path) -> None:
    write(tmp_path / "old.fits", fits.PrimaryHDU())
    write(tmp_path / "new.fits", fits.PrimaryHDU(np.ones((2, 2))))
    primary = compare_files(tmp_path / "old.fits", tmp_path / "new.fits").hdus[0]
    assert primary.data_note == "Only the new HDU has data; the data are not compared."
    assert not primary.identical


# --- Onboard YAML ----------------------------------------------------------------------


def test_yaml_versions_of_the_demo(demo: dict[str, Path]) -> None:
    old = demo["MXT_EVTTHR_20240701T000000_V01.yaml"].read_text()
    new = demo["MXT_EVTTHR_20240701T000000_V02.yaml"].read_text()
    lines = compare_yaml(old, new)
    assert lines[0].kind == "hunk"
    assert {line.kind for line in lines} >= {"added", "removed"}
    assert compare_yaml(old, old) == []


def test_yaml_diff_keeps_three_lines_of_context() -> None:
    old = [f"key_{number}: {number}" for number in range(1, 21)]
    new = list(old)
    new[9] = "key_10: ten"
    lines = compare_yaml("\n".join(old), "\n".join(new))
    assert [(line.kind, line.old_number, line.new_number) for line in lines] == [
        ("hunk", 7, 7),
        *[("context", number, number) for number in (7, 8, 9)],
        ("removed", 10, None),
        ("added", None, 10),
        *[("context", number, number) for number in (11, 12, 13)],
    ]
    assert lines[0].text == "@@ -7,7 +7,7 @@"
    assert (lines[4].text, lines[5].text) == ("key_10: 10", "key_10: ten")


def test_yaml_of_a_first_version_is_all_added() -> None:
    lines = compare_yaml("", "a: 1\nb: 2\n")
    assert [(line.kind, line.text) for line in lines[1:]] == [("added", "a: 1"), ("added", "b: 2")]


LINES = st.lists(st.text(alphabet="ab-+@ :", max_size=6), max_size=12)


@given(old=LINES, new=LINES)
def test_yaml_diff_line_numbers_point_at_the_lines(old: list[str], new: list[str]) -> None:
    lines = compare_yaml("\n".join(old), "\n".join(new))
    old_lines = "\n".join(old).splitlines()
    new_lines = "\n".join(new).splitlines()
    assert (lines == []) == (old_lines == new_lines)
    for line in lines:
        if line.kind in ("context", "removed"):
            assert old_lines[line.old_number - 1] == line.text
        if line.kind in ("context", "added"):
            assert new_lines[line.new_number - 1] == line.text
    assert sum(line.kind == "added" for line in lines) - sum(
        line.kind == "removed" for line in lines
    ) == len(new_lines) - len(old_lines)
