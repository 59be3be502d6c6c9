"""caldb_server.inspect, describing files: HDUs, cards, column ranges, image thumbnails.

Real FITS files throughout: the demonstration set, the HEASARC fixtures, and small files
written here with astropy for the cases the others do not have (NaN, TNULL, scaled
columns, ASCII tables, cubes, compressed images, long headers, unparsable cards).
Unreadable files: test_inspect_unreadable.py; comparisons: test_inspect_compare.py.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.utils.exceptions import AstropyUserWarning

from caldb_server.inspect import MAX_CARDS, Card, describe_file
from caldb_server.inspect import describe as describe_module
from caldb_server.inspect.cards import card_of
from caldb_server.inspect.thumbnail import MAX_THUMBNAIL_PIXELS
from caldb_server.inspect.values import ValueRange, value_range
from tests.helpers import MXT_GAIN, write_calfile
from tests.server.inspect_files import (
    FITS_SUFFIXES,
    demo_set,
    foreign_extension,
    png_pixels,
    raw_block,
    write,
)


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    files = demo_set(tmp_path_factory)
    return {name: path for name, path in files.items() if path.suffix in FITS_SUFFIXES}


# --- The demonstration set and the HEASARC fixtures -------------------------------------


def test_every_demo_file_is_described_as_astropy_reads_it(demo_files: dict[str, Path]) -> None:
    assert len(demo_files) == 19
    for name, path in demo_files.items():
        description = describe_file(path)
        assert description.name == name
        assert description.size == path.stat().st_size
        with fits.open(path) as hdus:
            assert [hdu.index for hdu in description.hdus] == list(range(len(hdus)))
            for described, hdu in zip(description.hdus, hdus, strict=True):
                assert described.name == hdu.name
                assert described.card_count == len(hdu.header.cards)
                assert [card.keyword for card in described.cards] == list(hdu.header.keys())
                assert not described.cards_truncated


def test_cards_keep_values_and_comments_as_text(demo_files: dict[str, Path]) -> None:
    primary, gain = describe_file(demo_files["svmxt_gain_20240622v001.fits"]).hdus
    assert primary.kind == "primary"
    assert primary.cards[0].keyword == "SIMPLE"
    assert primary.cards[0].value == "T"
    assert gain.kind == "bintable"
    cards = {card.keyword: card for card in gain.cards}
    assert cards["CCNM0001"].value == "GAIN"
    assert cards["NAXIS2"].value == "256"
    assert cards["XTENSION"].comment == "binary table extension"


def test_table_columns_have_formats_units_and_ranges(demo_files: dict[str, Path]) -> None:
    path = demo_files["svmxt_gain_20240622v001.fits"]
    table = describe_file(path).hdus[1].table
    assert table is not None
    data = fits.getdata(path, 1)
    assert table.rows == table.rows_scanned == len(data) == 256
    assert [column.name for column in table.columns] == list(data.columns.names)
    assert [column.format for column in table.columns] == ["I", "E", "E", "E", "E"]
    assert [column.unit for column in table.columns] == ["", "eV/adu", "adu", "eV/adu", "adu"]
    for column in table.columns:
        assert column.range is not None
        assert column.range.minimum == data[column.name].min()
        assert column.range.maximum == data[column.name].max()
        assert column.note == ""
    rawx = table.columns[0].range
    assert isinstance(rawx.minimum, int)
    assert (rawx.minimum_text, rawx.maximum_text) == ("1", "256")


def test_range_texts_use_the_precision_of_the_file(demo_files: dict[str, Path]) -> None:
    table = describe_file(demo_files["svmxt_cti_20240622v001.fits"]).hdus[1].table
    assert table is not None
    energy = table.columns[0].range
    assert energy.minimum_text == "0.1"  # a 32-bit real, not 0.10000000149011612
    assert energy.minimum == pytest.approx(0.1)


def test_variable_length_and_multidimensional_columns(demo_files: dict[str, Path]) -> None:
    matrix = describe_file(demo_files["svmxt_matrix_20240622v001.rmf"]).hdus[1].table
    assert matrix is not None
    by_name = {column.name: column for column in matrix.columns}
    assert by_name["MATRIX"].format.startswith("PE")
    assert by_name["MATRIX"].range is None
    assert by_name["MATRIX"].note == "variable-length arrays"
    vignet = describe_file(demo_files["svmxt_vignet_20240622v001.fits"]).hdus[1].table
    assert vignet is not None
    data = fits.getdata(demo_files["svmxt_vignet_20240622v001.fits"], 1)
    column = {column.name: column for column in vignet.columns}["VIGNET"]
    assert column.format == "1519E"
    assert column.range.minimum == data["VIGNET"].min()  # over every element of every row
    assert column.range.maximum == data["VIGNET"].max()


def test_psf_image_has_range_and_thumbnail(demo_files: dict[str, Path]) -> None:
    path = demo_files["svmxt_psf_20240622v001.fits"]
    hdu = describe_file(path).hdus[1]
    assert hdu.kind == "image"
    image = hdu.image
    assert image is not None
    data = fits.getdata(path, 1)
    assert image.shape == data.shape == (511, 511)
    assert image.size_text == "511 x 511"
    assert image.bitpix == -32
    assert image.range_exact
    assert image.range.minimum == data.min()
    assert image.range.maximum == data.max()
    pixels = png_pixels(image.thumbnail)
    assert max(pixels.shape) <= MAX_THUMBNAIL_PIXELS
    assert pixels.shape == (256, 256)  # 511 pixels in blocks of 2
    assert pixels.max() == 255
    assert pixels.min() == 0
    assert image.thumbnail_data_uri.startswith("data:image/png;base64,iVBORw0KGgo")


def test_heasarc_files_are_described_without_warnings(heasarc_dir: Path) -> None:
    files = sorted((heasarc_dir / "calfiles").rglob("*"))
    files = [path for path in files if path.is_file()]
    assert len(files) == 9
    for path in files:  # a warning would fail the test (warnings are errors)
        description = describe_file(path)
        with warnings.catch_warnings():  # astropy warns of rti_gis's extra padding block
            warnings.simplefilter("ignore", AstropyUserWarning)
            with fits.open(path) as hdus:
                assert len(description.hdus) == len(hdus)
    rmf_path = heasarc_dir / "calfiles/swift_xrt/swxpc0to12s6_20130101v014.rmf.gz"
    rmf = describe_file(rmf_path)  # gzip: decompressed in memory
    assert [hdu.name for hdu in rmf.hdus] == ["PRIMARY", "MATRIX", "EBOUNDS"]
    matrix = {column.name: column for column in rmf.hdus[1].table.columns}["MATRIX"]
    assert matrix.format == "1024E"
    assert matrix.range.minimum == fits.getdata(rmf_path, 1)["MATRIX"].min()
    pca = describe_file(heasarc_dir / "calfiles/xte/pca_e2c_e05v03.fits")
    assert len(pca.hdus) == 26
    assert {hdu.kind for hdu in pca.hdus[1:]} == {"bintable"}


# --- Column ranges: NaN, TNULL, scaling, text, logical, no rows, ASCII tables -------------


def test_ranges_leave_out_nan_and_null_and_skip_what_has_none(tmp_path: Path) -> None:
    columns = [
        fits.Column(name="REAL", format="E", array=np.array([1.5, np.nan, -2.0, np.inf])),
        fits.Column(name="ALLNAN", format="D", array=np.full(4, np.nan)),
        fits.Column(name="NULLED", format="J", null=-1, array=np.array([-1, 3, 7, -1])),
        fits.Column(name="SCALED", format="I", array=np.array([0, 1, 6, 4], dtype=np.int16)),
        fits.Column(name="TEXT", format="8A", array=np.array(["a", "b", "c", "d"])),
        fits.Column(name="FLAG", format="L", array=np.array([True, False, True, True])),
        fits.Column(name="CPLX", format="C", array=np.array([1j, 2, 3, 4])),
    ]
    table = fits.BinTableHDU.from_columns(columns)
    table.header["TSCAL4"], table.header["TZERO4"] = 0.5, 10.0  # physical = 0.5 raw + 10
    path = write(tmp_path / "ranges.fits", table)
    table = describe_file(path).hdus[1].table
    by_name = {column.name: column for column in table.columns}
    assert (by_name["REAL"].range.minimum, by_name["REAL"].range.maximum) == (-2.0, np.inf)
    assert by_name["ALLNAN"].range is None
    assert by_name["ALLNAN"].note == "no value"
    assert (by_name["NULLED"].range.minimum, by_name["NULLED"].range.maximum) == (3, 7)
    assert (by_name["SCALED"].range.minimum, by_name["SCALED"].range.maximum) == (10.0, 13.0)
    assert by_name["SCALED"].format == "I"
    for name in ("TEXT", "FLAG", "CPLX"):
        assert by_name[name].range is None
        assert by_name[name].note == "not numeric"


def test_a_table_without_rows(tmp_path: Path) -> None:
    empty = fits.BinTableHDU.from_columns([fits.Column(name="X", format="E", array=[])])
    table = describe_file(write(tmp_path / "empty.fits", empty)).hdus[1].table
    assert (table.rows, table.rows_scanned) == (0, 0)
    assert table.columns[0].range is None
    assert table.columns[0].note == "no rows"


def test_ascii_tables(tmp_path: Path) -> None:
    columns = [
        fits.Column(name="ENERGY", format="E15.7", array=np.array([0.5, 2.5, 10.0])),
        fits.Column(name="CHANNEL", format="I10", array=np.array([3, 1, 2])),
        fits.Column(name="LABEL", format="A8", array=np.array(["x", "y", "z"])),
    ]
    hdu = describe_file(write(tmp_path / "ascii.fits", fits.TableHDU.from_columns(columns)))
    table_hdu = hdu.hdus[1]
    assert table_hdu.kind == "ascii table"
    by_name = {column.name: column for column in table_hdu.table.columns}
    assert by_name["ENERGY"].format == "E15.7"
    assert (by_name["ENERGY"].range.minimum, by_name["ENERGY"].range.maximum) == (0.5, 10.0)
    assert (by_name["CHANNEL"].range.minimum, by_name["CHANNEL"].range.maximum) == (1, 3)
    assert by_name["LABEL"].note == "not numeric"


def test_rows_scanned_for_ranges_are_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = np.arange(10.0)
    path = write(
        tmp_path / "long.fits",
        fits.BinTableHDU.from_columns([fits.Column(name="X", format="D", array=values)]),
    )
    monkeypatch.setattr(describe_module, "MAX_SCANNED_ROWS", 4)
    table = describe_file(path).hdus[1].table
    assert (table.rows, table.rows_scanned) == (10, 4)
    assert (table.columns[0].range.minimum, table.columns[0].range.maximum) == (0.0, 3.0)


# --- Images ---------------------------------------------------------------------------


def test_image_thumbnail_is_flipped_reduced_and_nan_is_black(tmp_path: Path) -> None:
    data = np.zeros((300, 512), dtype=np.float32)
    data[:3, :] = 100.0  # FITS row 0 is the bottom of the picture
    data[150:, :2] = np.nan
    image = describe_file(write(tmp_path / "image.fits", fits.ImageHDU(data))).hdus[1].image
    assert image.size_text == "512 x 300"
    assert (image.range.minimum, image.range.maximum) == (0.0, 100.0)
    pixels = png_pixels(image.thumbnail)
    assert pixels.shape == (150, 256)  # blocks of 2 x 2
    assert (pixels[-1] == 255).all()  # the bright FITS rows, at the bottom
    assert (pixels[:-2, 1:] == 0).all()
    assert (pixels[:75, 0] == 0).all()  # blocks of NaN only: black


def test_scaled_integer_image_keeps_its_bitpix_and_leaves_out_blank(tmp_path: Path) -> None:
    hdu = fits.ImageHDU(np.array([[0, 5], [9, -99]], dtype=np.int16))
    hdu.header["BLANK"] = -99
    image = describe_file(write(tmp_path / "blank.fits", hdu)).hdus[1].image
    assert image.bitpix == 16
    assert (image.range.minimum, image.range.maximum) == (0, 9)
    scaled = fits.ImageHDU(np.array([[0, 100]], dtype=np.int16))
    scaled.scale("int16", bscale=0.5, bzero=0)
    fits.HDUList([fits.PrimaryHDU(), scaled]).writeto(tmp_path / "scaled.fits")
    image = describe_file(tmp_path / "scaled.fits").hdus[1].image
    assert image.bitpix == 16  # the file's BITPIX, though astropy gives floats
    assert (image.range.minimum, image.range.maximum) == (0.0, 100.0)


def test_primary_cube_line_and_constant_images(tmp_path: Path) -> None:
    cube = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    primary = describe_file(write(tmp_path / "cube.fits", fits.PrimaryHDU(cube))).hdus[0]
    assert primary.kind == "primary"
    assert primary.image.shape == (2, 3, 4)
    assert primary.image.size_text == "4 x 3 x 2"
    assert primary.image.thumbnail_note == "The thumbnail shows the first plane."
    assert png_pixels(primary.image.thumbnail).shape == (3, 4)
    line = describe_file(write(tmp_path / "line.fits", fits.ImageHDU(np.arange(5.0)))).hdus[1]
    assert line.image.thumbnail is None
    assert line.image.thumbnail_note == "A 1-D image has no thumbnail."
    assert line.image.thumbnail_data_uri is None
    flat = describe_file(write(tmp_path / "flat.fits", fits.ImageHDU(np.ones((4, 4))))).hdus[1]
    assert (png_pixels(flat.image.thumbnail) == 128).all()
    bare = describe_file(write(tmp_path / "bare.fits", fits.PrimaryHDU())).hdus[0]
    assert bare.image is None
    assert bare.table is None


def test_compressed_image(tmp_path: Path) -> None:
    data = np.arange(64 * 32, dtype=np.int32).reshape(64, 32)
    hdu = describe_file(write(tmp_path / "comp.fits", fits.CompImageHDU(data))).hdus[1]
    assert hdu.kind == "compressed image"
    assert hdu.image.shape == (64, 32)
    assert (hdu.image.range.minimum, hdu.image.range.maximum) == (0, 64 * 32 - 1)


def test_very_wide_images_are_subsampled_then_averaged(tmp_path: Path) -> None:
    data = np.tile(np.arange(5000, dtype=np.float32), (2, 1))
    image = describe_file(write(tmp_path / "wide.fits", fits.ImageHDU(data))).hdus[1].image
    pixels = png_pixels(image.thumbnail)
    assert pixels.shape == (1, 239)  # every 3rd pixel (1667), then blocks of 7
    assert (np.diff(pixels[0].astype(int)) >= 0).all()


def test_large_images_are_ranged_on_a_subsample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = np.arange(100 * 100, dtype=np.float32).reshape(100, 100)
    path = write(tmp_path / "large.fits", fits.ImageHDU(data))
    monkeypatch.setattr(describe_module, "MAX_SCANNED_PIXELS", 2500)
    image = describe_file(path).hdus[1].image
    assert not image.range_exact
    assert image.range.minimum == 0.0
    assert 9000.0 < image.range.maximum < 9999.0  # a sample misses the very last pixel


# --- Headers ----------------------------------------------------------------------------


def test_long_headers_are_cut_at_max_cards(tmp_path: Path) -> None:
    table = fits.BinTableHDU.from_columns([fits.Column(name="X", format="J", array=[1])])
    for number in range(MAX_CARDS + 50):
        table.header.add_history(f"step {number}")
    hdu = describe_file(write(tmp_path / "history.fits", table)).hdus[1]
    assert len(hdu.cards) == MAX_CARDS
    assert hdu.card_count == len(table.header.cards)
    assert hdu.cards_truncated
    assert hdu.cards[-1].keyword == "HISTORY"


def test_value_texts(tmp_path: Path) -> None:
    path = write_calfile(
        tmp_path / "values.fits",
        {**MXT_GAIN, "FLAG": False, "SMALL": 1.25e-05, "PADDED": "abc   "},
    )
    cards = {card.keyword: card for card in describe_file(path).hdus[1].cards}
    assert cards["FLAG"].value == "F"
    assert cards["SMALL"].value == "1.25e-05"
    assert cards["PADDED"].value == "abc"
    assert cards["CVSD0001"].value == "2024-06-22"


def test_a_card_astropy_cannot_parse_keeps_its_raw_text(tmp_path: Path) -> None:
    path = tmp_path / "broken_card.fits"
    path.write_bytes(
        raw_block(
            "SIMPLE  =                    T",
            "BITPIX  =                    8",
            "NAXIS   =                    0",
            "BADVAL  = 12.3.4 / broken",
            "CPLX    = (1.0, 2.0)",
            "NOVALUE =",
        )
    )
    cards = {card.keyword: card for card in describe_file(path).hdus[0].cards}
    assert (cards["BADVAL"].value, cards["BADVAL"].comment) == ("12.3.4", "broken")
    assert cards["CPLX"].value == "(1.0, 2.0)"
    assert cards["NOVALUE"].value == ""


def test_a_card_astropy_must_fix_before_reading_it() -> None:
    card = fits.Card.fromstring("BADVAL  = 1.0.E5 / typo")
    with pytest.warns(VerifyWarning):  # outside describe_file, astropy's fix warns
        assert card_of(card) == Card("BADVAL", "1.0.E5", "typo")


def test_random_groups_and_foreign_extensions_have_headers_only(tmp_path: Path) -> None:
    groups = tmp_path / "groups.fits"
    header = raw_block(
        "SIMPLE  =                    T",
        "BITPIX  =                  -32",
        "NAXIS   =                    2",
        "NAXIS1  =                    0",
        "NAXIS2  =                    2",
        "GROUPS  =                    T",
        "PCOUNT  =                    1",
        "GCOUNT  =                    3",
    )
    groups.write_bytes(header + np.arange(9, dtype=">f4").tobytes().ljust(2880, b"\0"))
    (primary,) = describe_file(groups).hdus
    assert (primary.kind, primary.card_count, primary.image, primary.table) == (
        "primary",
        8,
        None,
        None,
    )
    foreign = tmp_path / "foreign.fits"
    foreign.write_bytes(foreign_extension(b"abcdefgh"))
    extension = describe_file(foreign).hdus[1]
    assert (extension.kind, extension.image, extension.table) == ("other", None, None)
    assert extension.cards[0].value == "FOREIGN"


def test_value_range_of_what_has_none() -> None:
    assert value_range(np.array(["a", "b"])) is None
    assert value_range(np.array([True, False])) is None
    assert value_range(np.array([-1, -1], dtype=np.int32), null=-1) is None
    assert value_range(np.array([], dtype=np.float32)) is None
    found = value_range(np.array([[3, -1], [9, 4]], dtype=np.int16), null=-1)
    assert found == ValueRange(3, 9, "3", "9")
