"""Files for the tests of caldb_server.inspect: the demonstration set, small FITS files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from caldb_demodata import DEFAULT_SEED, generate

FITS_SUFFIXES = (".fits", ".rmf", ".arf")


def demo_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every file of the demonstration set (FITS and onboard YAML) by name."""
    return {path.name: path for path in generate(tmp_path_factory.mktemp("demo"), DEFAULT_SEED)}


def write(path: Path, *hdus: fits.hdu.base._BaseHDU) -> Path:
    """Write HDUs after a bare primary HDU (or as given when the first is primary)."""
    first = [] if hdus and isinstance(hdus[0], fits.PrimaryHDU) else [fits.PrimaryHDU()]
    fits.HDUList([*first, *hdus]).writeto(path)
    return path


def table(**columns: tuple[str, object]) -> fits.BinTableHDU:
    """A binary table from ``NAME=(format, values)``."""
    return fits.BinTableHDU.from_columns(
        [
            fits.Column(name=name, format=fmt, array=values)
            for name, (fmt, values) in columns.items()
        ]
    )


def png_pixels(data: bytes) -> np.ndarray:
    """The grey levels of a PNG, read by Pillow (an independent decoder)."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.mode == "L"
        return np.asarray(image)


def raw_block(*cards: str) -> bytes:
    """A header of 80-character cards, END added, padded to 2880 bytes."""
    text = "".join(card.ljust(80) for card in (*cards, "END"))
    return text.ljust(2880).encode("ascii")


PRIMARY_BLOCK = raw_block(
    "SIMPLE  =                    T",
    "BITPIX  =                    8",
    "NAXIS   =                    0",
    "EXTEND  =                    T",
)


def foreign_extension(data: bytes) -> bytes:
    """A file whose extension has an XTENSION astropy does not know (8 bytes of data)."""
    header = raw_block(
        "XTENSION= 'FOREIGN '",
        "BITPIX  =                    8",
        "NAXIS   =                    1",
        "NAXIS1  =                    8",
        "PCOUNT  =                    0",
        "GCOUNT  =                    1",
    )
    return PRIMARY_BLOCK + header + data.ljust(2880, b"\0")
