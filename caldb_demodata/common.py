"""What every demonstration file shares: OGIP calibration keywords, seeded streams, writing.

Files are byte-identical for one seed: no header carries the current time (``DATE`` is the
file's validity start, ``CHECKSUM``/``DATASUM`` comments are fixed text), and each product
draws from its own random stream (:func:`product_rng`), so adding a product never changes
the others.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from astropy.io import fits

__all__ = [
    "EPOCH_1",
    "EPOCH_2",
    "MAX_DESCRIPTION",
    "TELESCOP",
    "CalibrationId",
    "calibration_header",
    "erf",
    "file_name",
    "gaussian_bin_fractions",
    "primary_hdu",
    "product_rng",
    "write_fits",
    "write_yaml",
]

TELESCOP = "SVOM"
EPOCH_1 = "2024-06-22"  # launch: first validity start of every demonstration file
EPOCH_2 = "2025-06-01"  # second MXT epoch: realigned boresight, new gains, higher CTI
MAX_DESCRIPTION = 70
_CHECKSUM_COMMENT = "checksum of the demonstration file"
_erf = np.frompyfunc(math.erf, 1, 1)


@dataclass(frozen=True)
class CalibrationId:
    """The OGIP calibration keywords of one dataset (one HDU).

    Attributes
    ----------
    instrument : str
        INSTRUME (``MXT``, ``ECL``, ``VT``).
    codename : str
        CCNM0001, e.g. ``GAIN``.
    cal_class : str
        CCLS0001: ``BCF`` (basic calibration) or ``CPF`` (calibration product).
    valid_from : str
        CVSD0001, ``YYYY-MM-DD`` (UTC); CVST0001 is always ``00:00:00``.
    description : str
        CDES0001, at most 70 characters.
    boundaries : tuple of str
        CBD10001, CBD20001, ... in order (none: no CBD keyword, i.e. ``NONE``).
    detnam : str, optional
        DETNAM (only where the instrument has several detectors, e.g. VT ``BLUE``).
    """

    instrument: str
    codename: str
    cal_class: str
    valid_from: str
    description: str
    boundaries: tuple[str, ...] = ()
    detnam: str | None = None


def product_rng(seed: int, product: str) -> np.random.Generator:
    """An independent random stream for one product of one seed.

    Parameters
    ----------
    seed : int
        The demonstration set's seed.
    product : str
        A stable product name, e.g. ``"mxt-gain-1"``.

    Returns
    -------
    numpy.random.Generator
        Seeded with ``(seed, crc32(product))``: the same stream on every run and platform.
    """
    return np.random.default_rng([seed, zlib.crc32(product.encode())])


def file_name(instrument: str, product: str, valid_from: str, suffix: str = "fits") -> str:
    """The demonstration file name ``sv<inst>_<product>_<YYYYMMDD>v001.<suffix>``."""
    name = f"sv{instrument.lower()}_{product}_{valid_from.replace('-', '')}v001.{suffix}"
    assert len(name) <= 40, name  # CAL_FILE is 40A
    return name


def _base_cards(header: fits.Header, instrument: str, valid_from: str, seed: int) -> None:
    header["TELESCOP"] = (TELESCOP, "mission")
    header["INSTRUME"] = (instrument, "instrument")
    header["ORIGIN"] = ("SVOM CalDB", "organisation that made the file")
    header["CREATOR"] = ("caldb_demodata", "program that made the file")
    header["DATE"] = (f"{valid_from}T00:00:00", "file creation date (demonstration: CVSD)")
    header["DEMOSEED"] = (seed, "seed of the demonstration calibration set")


def calibration_header(
    ident: CalibrationId, seed: int, extra: Iterable[tuple[str, Any, str]] = ()
) -> fits.Header:
    """The header of a calibration HDU: mission, instrument and OGIP CALDB keywords.

    Parameters
    ----------
    ident : CalibrationId
        Codename, class, validity start, description, boundaries, detector.
    seed : int
        Recorded as ``DEMOSEED``.
    extra : iterable of (keyword, value, comment)
        Further cards, appended in order.

    Returns
    -------
    astropy.io.fits.Header
        TELESCOP, INSTRUME, [DETNAM], CCLS0001, CDTP0001='DATA', CCNM0001, CBDn0001,
        CVSD0001, CVST0001='00:00:00', CDES0001, then ``extra``.
    """
    if len(ident.description) > MAX_DESCRIPTION:
        raise ValueError(f"CDES0001 longer than {MAX_DESCRIPTION}: {ident.description!r}")
    header = fits.Header()
    _base_cards(header, ident.instrument, ident.valid_from, seed)
    if ident.detnam is not None:
        header["DETNAM"] = (ident.detnam, "detector (CCD)")
    header["CCLS0001"] = (ident.cal_class, "OGIP class of calibration file")
    header["CDTP0001"] = ("DATA", "OGIP type of calibration data")
    header["CCNM0001"] = (ident.codename, "calibration codename")
    for slot, boundary in enumerate(ident.boundaries, start=1):
        header[f"CBD{slot}0001"] = (boundary, "calibration boundary")
    header["CVSD0001"] = (ident.valid_from, "UTC date from which valid")
    header["CVST0001"] = ("00:00:00", "UTC time of day from which valid")
    header["CDES0001"] = (ident.description, "description")
    for keyword, value, comment in extra:
        _check_card(keyword, value, comment)
        header[keyword] = (value, comment)
    return header


def _check_card(keyword: str, value: Any, comment: str) -> None:
    """Refuse a card whose comment would be truncated (astropy would only warn)."""
    text = fits.Card(keyword, value).image.rstrip()
    if len(text) + 3 + len(comment) > 80:
        raise ValueError(f"card {keyword} = {value!r} / {comment!r} exceeds 80 characters")


def primary_hdu(instrument: str, valid_from: str, seed: int) -> fits.PrimaryHDU:
    """An empty primary HDU naming mission and instrument (not indexed: no CCLS0001)."""
    hdu = fits.PrimaryHDU()
    _base_cards(hdu.header, instrument, valid_from, seed)
    hdu.header["COMMENT"] = "SVOM CalDB demonstration set: coherent, not real measurements."
    return hdu


def write_fits(
    path: Path, hdus: Sequence[fits.PrimaryHDU | fits.ImageHDU | fits.BinTableHDU]
) -> Path:
    """Write HDUs with deterministic CHECKSUM/DATASUM cards.

    The file is first serialised without checksums so that astropy settles every header
    (PCOUNT of variable-length arrays, NAXISn), then read back, checksummed with a fixed
    comment (astropy's default comment is the current time) and written.

    Returns
    -------
    Path
        ``path``.
    """
    draft = io.BytesIO()
    fits.HDUList(list(hdus)).writeto(draft, output_verify="exception", checksum=False)
    draft.seek(0)
    final = io.BytesIO()
    with fits.open(draft, memmap=False) as settled:
        for hdu in settled:
            hdu.add_checksum(when=_CHECKSUM_COMMENT)
        settled.writeto(final, output_verify="exception", checksum=False)
    path.write_bytes(final.getvalue())
    return path


def write_yaml(path: Path, document: dict[str, Any]) -> Path:
    """Write an onboard configuration as YAML (short lists inline, keys in the given order)."""
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=100)
    path.write_text(text, encoding="utf-8")
    return path


def erf(values: np.ndarray) -> np.ndarray:
    """The error function, element-wise in double precision (``math.erf``; no SciPy)."""
    return np.asarray(_erf(np.asarray(values, dtype=float)), dtype=float)


def gaussian_bin_fractions(edges: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    """Fraction of a normal distribution falling in each bin.

    Parameters
    ----------
    edges : numpy.ndarray
        Increasing bin edges (``n + 1`` values), in the unit of ``centre``.
    centre : float
        Mean of the distribution.
    sigma : float
        Standard deviation (> 0), same unit.

    Returns
    -------
    numpy.ndarray
        ``n`` fractions ``Phi(edge[k+1]) - Phi(edge[k])``.
    """
    cdf = 0.5 * (1.0 + erf((np.asarray(edges, dtype=float) - centre) / (math.sqrt(2.0) * sigma)))
    return np.clip(np.diff(cdf), 0.0, None)
