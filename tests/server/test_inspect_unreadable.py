"""caldb_server.inspect: files that cannot be read, compressed files, the PNG writer.

Every unreadable file (missing, not FITS, truncated anywhere, a cut compressed stream, an
extension astropy silently drops) gives one InspectionError sentence, never astropy's.
"""

from __future__ import annotations

import bz2
import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from caldb_server.inspect import InspectionError, compare_files, describe_file, reading
from caldb_server.inspect.png import greyscale_png
from caldb_server.inspect.thumbnail import grey_levels
from tests.server.inspect_files import demo_set, png_pixels


@pytest.fixture(scope="module")
def psf_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return demo_set(tmp_path_factory)["svmxt_psf_20240622v001.fits"].read_bytes()


# --- Files that cannot be read ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cut"),
    [
        ("empty.fits", lambda good: b""),
        ("text.fits", lambda good: b"not a FITS file\n" * 400),
        ("header_cut.fits", lambda good: good[:1000]),
        ("second_header_cut.fits", lambda good: good[: 2880 + 1000]),
        ("extension_header_half.fits", lambda good: good[: 2880 * 2]),  # astropy: no END
        ("last_table_cut.fits", lambda good: good[:-3000]),
        ("padding_cut.fits", lambda good: good[:-100]),
        ("bzip2_cut.fits.bz2", lambda good: bz2.compress(good)[:5000]),
        ("data_cut.fits", lambda good: good[:200_000]),
        ("one_block.fits", lambda good: good[: 2880 * 3]),
        ("gzip_cut.fits.gz", lambda good: gzip.compress(good)[:5000]),
    ],
)
def test_unreadable_files_raise_one_clear_error(
    tmp_path: Path, psf_bytes: bytes, name: str, cut: object
) -> None:
    path = tmp_path / name
    path.write_bytes(cut(psf_bytes))  # type: ignore[operator]
    with pytest.raises(InspectionError) as raised:
        describe_file(path)
    message = str(raised.value)
    assert message == (
        f"The file {name} cannot be read: it is not FITS, or it is truncated or damaged."
    )
    assert str(tmp_path) not in message
    assert raised.value.__cause__ is not None  # kept for the log, not shown


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InspectionError, match=r"^The file gone\.fits does not exist\.$"):
        describe_file(tmp_path / "gone.fits")
    with pytest.raises(InspectionError, match="does not exist"):
        describe_file(tmp_path)


def test_an_extension_astropy_drops_is_seen(tmp_path: Path, psf_bytes: bytes) -> None:
    path = tmp_path / "dropped.fits"
    path.write_bytes(psf_bytes[: 2880 + 1000])  # the primary HDU, part of the next header
    with warnings.catch_warnings():  # astropy warns, and reads the primary HDU only
        warnings.simplefilter("ignore", AstropyUserWarning)
        with fits.open(path) as hdus:
            assert len(hdus) == 1
    with pytest.raises(InspectionError, match="truncated or damaged"):
        describe_file(path)


@pytest.mark.parametrize(
    ("name", "pack"), [("psf.fits.gz", gzip.compress), ("psf.fits.bz2", bz2.compress)]
)
def test_compressed_files_are_read(
    tmp_path: Path, psf_bytes: bytes, name: str, pack: object
) -> None:
    path = tmp_path / name
    path.write_bytes(pack(psf_bytes))  # type: ignore[operator]
    assert [hdu.name for hdu in describe_file(path).hdus] == ["PRIMARY", "PSF", "EEF"]


@pytest.mark.parametrize("pack", [gzip.compress, bz2.compress])
def test_a_compressed_file_is_decompressed_within_a_bound(
    tmp_path: Path, psf_bytes: bytes, pack, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setattr(reading, "MAX_PLAIN_BYTES", len(psf_bytes) - 1)
    path = tmp_path / "bomb.fits.gz"
    path.write_bytes(pack(psf_bytes))
    with pytest.raises(InspectionError, match=r"^The file bomb\.fits\.gz cannot be read"):
        describe_file(path)
    assert "more than" in caplog.text  # the log says why; the page has one sentence
    monkeypatch.setattr(reading, "MAX_PLAIN_BYTES", len(psf_bytes))
    assert len(describe_file(path).hdus) == 3


def test_special_records_after_the_last_hdu_are_allowed(tmp_path: Path, psf_bytes: bytes) -> None:
    path = tmp_path / "special.fits"
    path.write_bytes(psf_bytes + b"\0" * 2880)  # whole blocks, not XTENSION: allowed
    assert len(describe_file(path).hdus) == 3
    path.write_bytes(psf_bytes + b"\0" * 100)  # not a whole block
    with pytest.raises(InspectionError):
        describe_file(path)


# --- The PNG writer and the stretch -----------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (33, 65), (256, 200)])
def test_png_round_trips_through_pillow(shape: tuple[int, int]) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    assert (png_pixels(greyscale_png(pixels)) == pixels).all()


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((2, 2, 2), dtype=np.uint8),
        np.zeros((2, 2), dtype=np.float32),
        np.zeros((0, 3), dtype=np.uint8),
        np.zeros(4, dtype=np.uint8),
    ],
)
def test_png_refuses_what_it_cannot_write(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError, match="non-empty 2-D array of uint8"):
        greyscale_png(pixels)


def test_stretch_spans_black_to_white_and_is_monotonic() -> None:
    plane = np.array([[0.0, 1.0, 2.0, 10.0, 1000.0, np.nan, np.inf]])
    levels = grey_levels(plane)[0]
    assert levels[0] == 0
    assert levels[4] == 255
    assert (np.diff(levels[:5].astype(int)) > 0).all()
    assert levels[5] == levels[6] == 0  # not finite: black
    assert (grey_levels(np.full((2, 2), np.nan)) == 0).all()


def test_compare_files_refuses_unreadable_files(tmp_path: Path, psf_bytes: bytes) -> None:
    good, cut = tmp_path / "good.fits", tmp_path / "cut.fits"
    good.write_bytes(psf_bytes)
    cut.write_bytes(psf_bytes[:-3000])
    with pytest.raises(InspectionError, match=r"^The file cut\.fits cannot be read: "):
        compare_files(good, cut)
    with pytest.raises(InspectionError, match=r"^The file cut\.fits cannot be read: "):
        compare_files(cut, good)
    with pytest.raises(InspectionError, match=r"^The file gone\.fits does not exist\.$"):
        compare_files(tmp_path / "gone.fits", good)
