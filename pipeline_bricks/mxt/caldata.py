"""Readers of the MXT calibration files (formats: docs/calibration_formats.md).

Each reader takes the file and the HDU number the CalDB indexed (``CAL_XNO``), checks
what the science needs (columns, sizes, keywords) and returns plain numpy values. A file
that breaks its format raises :class:`CalibrationFormatError`, a :class:`BrickError`
naming the file, the HDU and what is wrong, so a brick fails with that message.
The bricks and the simulator read the same files through these functions: one truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from astropy.io import fits

from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.mxt.coordinates import Teldef
from pipeline_bricks.mxt.screen import CCD_SHAPE, bad_pixel_mask

__all__ = [
    "BadPixels",
    "CalibrationFormatError",
    "ColumnGains",
    "CtiLaw",
    "EffectiveArea",
    "EventThresholds",
    "Psf",
    "Redistribution",
    "Vignetting",
    "read_badpix",
    "read_cti",
    "read_evtthr",
    "read_gain",
    "read_psf",
    "read_rmf",
    "read_specresp",
    "read_teldef",
    "read_vignet",
]

N_COLUMNS = CCD_SHAPE[1]
DEAD_TYPE = 1  # BADPIX TYPE bit of a dead pixel (no charge collected)


class CalibrationFormatError(BrickError):
    """A calibration file does not have the format the MXT chain reads."""


def _hdu(path: Path, extension: int) -> tuple[fits.Header, Any]:
    """Header and data of HDU ``extension`` of ``path`` (data loaded, file closed)."""
    try:
        with fits.open(path, memmap=False) as hdus:
            if not 0 <= extension < len(hdus):
                raise CalibrationFormatError(f"{path.name} has no HDU {extension}")
            hdu = hdus[extension]
            if hdu.data is None:
                return hdu.header.copy(), None
            if isinstance(hdu, fits.BinTableHDU):  # columns read now (variable-length too)
                return hdu.header.copy(), {n.upper(): hdu.data[n] for n in hdu.columns.names}
            return hdu.header.copy(), np.array(hdu.data)
    except (OSError, ValueError) as error:
        raise CalibrationFormatError(f"cannot read {path.name}[{extension}]: {error}") from None


def _column(data: Any, name: str, where: str) -> np.ndarray:
    if not isinstance(data, dict) or name not in data:
        raise CalibrationFormatError(f"{where} has no {name} column")
    return np.asarray(data[name])


def _keyword(header: fits.Header, name: str, where: str) -> float:
    if name not in header:
        raise CalibrationFormatError(f"{where} has no {name} keyword")
    try:
        return float(header[name])
    except (TypeError, ValueError):
        raise CalibrationFormatError(f"{where} keyword {name} is not a number") from None


def read_teldef(path: Path, extension: int = 0) -> Teldef:
    """The TELDEF geometry (keywords of HDU ``extension``, the primary one)."""
    header, _ = _hdu(path, extension)
    try:
        return Teldef.from_header(header)
    except (KeyError, ValueError) as error:
        message = error.args[0] if error.args else str(error)
        raise CalibrationFormatError(f"{path.name}[{extension}]: {message}") from None


@dataclass(frozen=True)
class ColumnGains:
    """GAIN table: ``gain_ev_per_adu`` and ``offset_adu`` of columns RAWX = 1..256."""

    gain_ev_per_adu: np.ndarray
    offset_adu: np.ndarray


def read_gain(path: Path, extension: int = 1) -> ColumnGains:
    """The per-column GAIN [eV/ADU] and OFFSET [ADU] (one row per RAWX 1..256, in order)."""
    where = f"{path.name}[{extension}]"
    _, data = _hdu(path, extension)
    rawx = _column(data, "RAWX", where)
    if not np.array_equal(rawx, np.arange(1, N_COLUMNS + 1)):
        raise CalibrationFormatError(f"{where}: RAWX must be 1..{N_COLUMNS}, one row each")
    gain = _column(data, "GAIN", where).astype(np.float64)
    offset = _column(data, "OFFSET", where).astype(np.float64)
    if not (np.all(np.isfinite(gain)) and np.all(gain > 0) and np.all(np.isfinite(offset))):
        raise CalibrationFormatError(f"{where}: GAIN must be positive and OFFSET finite")
    return ColumnGains(gain, offset)


@dataclass(frozen=True)
class CtiLaw:
    """``CTI(E) = norm * (E / e0_kev) ** -index`` per transfer, ``N = RAWY + n_offset``."""

    norm: float
    e0_kev: float
    index: float
    n_offset: int = 0

    def at(self, energy_kev: Any) -> np.ndarray:
        """Fraction of the charge lost per parallel transfer at ``energy_kev``."""
        energy = np.asarray(energy_kev, dtype=np.float64)
        return self.norm * (energy / self.e0_kev) ** -self.index


def read_cti(path: Path, extension: int = 1) -> CtiLaw:
    """The CTI law from the keywords CTI_NORM, CTI_E0 [keV], CTI_IDX and CTI_NOFF."""
    where = f"{path.name}[{extension}]"
    header, _ = _hdu(path, extension)
    law = CtiLaw(
        _keyword(header, "CTI_NORM", where),
        _keyword(header, "CTI_E0", where),
        _keyword(header, "CTI_IDX", where),
        int(header.get("CTI_NOFF", 0)),
    )
    if not (0 <= law.norm < 1e-2 and law.e0_kev > 0 and np.isfinite(law.index)):
        raise CalibrationFormatError(f"{where}: CTI_NORM must be in [0, 0.01) and CTI_E0 > 0")
    return law


@dataclass(frozen=True)
class BadPixels:
    """BADPIX rows and the pixel masks ``[RAWY - 1, RAWX - 1]`` they make."""

    rawx: np.ndarray
    rawy: np.ndarray
    yextent: np.ndarray
    type: np.ndarray

    def mask(self, types: int = 0xFFFF) -> np.ndarray:
        """Bool CCD mask of the pixels whose TYPE has any bit of ``types``."""
        rows = (self.type & types) != 0
        if not np.any(rows):
            return np.zeros(CCD_SHAPE, dtype=bool)
        return bad_pixel_mask(self.rawx[rows], self.rawy[rows], self.yextent[rows])


def read_badpix(path: Path, extension: int = 1) -> BadPixels:
    """The BADPIX table (columns RAWX, RAWY, YEXTENT, TYPE)."""
    where = f"{path.name}[{extension}]"
    _, data = _hdu(path, extension)
    rawx, rawy, yextent = (
        _column(data, name, where).astype(np.int64) for name in ("RAWX", "RAWY", "YEXTENT")
    )
    table = BadPixels(rawx, rawy, yextent, type=_column(data, "TYPE", where).astype(np.int64))
    try:
        table.mask()
    except ValueError as error:
        raise CalibrationFormatError(f"{where}: {error}") from None
    return table


@dataclass(frozen=True)
class Psf:
    """PSF image: fraction of the photons per DET pixel.

    ``image[centre[0] + dDETY, centre[1] + dDETX]`` for integer DET offsets of the photon.
    """

    image: np.ndarray
    centre: tuple[int, int]  # numpy (row, column) of the source pixel
    pixel_arcmin: float


def read_psf(path: Path, extension: int = 1) -> Psf:
    """The PSF image and its WCS (CRPIXn is the 1-based source pixel)."""
    where = f"{path.name}[{extension}]"
    header, image = _hdu(path, extension)
    if image is None or image.ndim != 2:
        raise CalibrationFormatError(f"{where} is not a 2-D image")
    image = np.asarray(image, dtype=np.float64)
    if not np.all(np.isfinite(image)) or np.any(image < 0) or image.sum() <= 0:
        raise CalibrationFormatError(f"{where}: the PSF must be finite and non-negative")
    row = round(_keyword(header, "CRPIX2", where)) - 1
    column = round(_keyword(header, "CRPIX1", where)) - 1
    if not (0 <= row < image.shape[0] and 0 <= column < image.shape[1]):
        raise CalibrationFormatError(f"{where}: CRPIX is outside the image")
    return Psf(image, (row, column), abs(_keyword(header, "CDELT1", where)))


@dataclass(frozen=True)
class EffectiveArea:
    """ARF: ``area_cm2`` of each photon-energy bin ``energ_lo_kev .. energ_hi_kev``."""

    energ_lo_kev: np.ndarray
    energ_hi_kev: np.ndarray
    area_cm2: np.ndarray


def read_specresp(path: Path, extension: int = 1) -> EffectiveArea:
    """The on-axis effective area (SPECRESP)."""
    where = f"{path.name}[{extension}]"
    _, data = _hdu(path, extension)
    lo, hi, area = (
        _column(data, name, where).astype(np.float64)
        for name in ("ENERG_LO", "ENERG_HI", "SPECRESP")
    )
    if np.any(hi <= lo) or np.any(np.diff(lo) <= 0) or np.any(area < 0):
        raise CalibrationFormatError(f"{where}: energy bins must increase and area be >= 0")
    return EffectiveArea(lo, hi, area)


@dataclass(frozen=True)
class Redistribution:
    """RMF: ``matrix[i, c]`` = probability that a photon of bin ``i`` lands in channel ``c``."""

    energ_lo_kev: np.ndarray
    energ_hi_kev: np.ndarray
    matrix: np.ndarray
    channel_lo_kev: np.ndarray  # EBOUNDS E_MIN of channels 0..n-1
    channel_hi_kev: np.ndarray


def _ebounds(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with fits.open(path, memmap=False) as hdus:
        for number, hdu in enumerate(hdus):
            if hdu.header.get("EXTNAME", "").upper() == "EBOUNDS":
                where = f"{path.name}[{number}]"
                columns = {n.upper(): hdu.data[n] for n in hdu.columns.names}
                lo = _column(columns, "E_MIN", where).astype(np.float64)
                return lo, _column(columns, "E_MAX", where).astype(np.float64)
    raise CalibrationFormatError(f"{path.name} has no EBOUNDS extension")


def read_rmf(path: Path, extension: int = 1) -> Redistribution:
    """The redistribution MATRIX (N_GRP, F_CHAN, N_CHAN groups) as a dense array, with EBOUNDS."""
    where = f"{path.name}[{extension}]"
    header, data = _hdu(path, extension)
    n_channels = int(_keyword(header, "DETCHANS", where))
    first_channel = int(header.get("TLMIN4", 0))
    lo, hi = (_column(data, name, where).astype(np.float64) for name in ("ENERG_LO", "ENERG_HI"))
    n_grp = _column(data, "N_GRP", where)
    f_chan, n_chan = _column(data, "F_CHAN", where), _column(data, "N_CHAN", where)
    rows = _column(data, "MATRIX", where)
    matrix = np.zeros((lo.size, n_channels))
    for i in range(lo.size):  # one loop per energy bin (~1000), not per event
        values = np.asarray(rows[i], dtype=np.float64)
        starts = np.atleast_1d(f_chan[i])[: int(n_grp[i])] - first_channel
        lengths = np.atleast_1d(n_chan[i])[: int(n_grp[i])]
        position = 0
        for start, length in zip(starts, lengths, strict=True):
            if start < 0 or start + length > n_channels:
                raise CalibrationFormatError(f"{where} row {i + 1}: channels out of range")
            matrix[i, start : start + length] = values[position : position + length]
            position += length
    channel_lo, channel_hi = _ebounds(path)
    if channel_lo.size != n_channels:
        raise CalibrationFormatError(f"{path.name}: EBOUNDS has {channel_lo.size} channels")
    return Redistribution(lo, hi, matrix, channel_lo, channel_hi)


@dataclass(frozen=True)
class Vignetting:
    """VIGNET: relative area ``value[theta, energy]`` (azimuth-independent)."""

    energ_lo_kev: np.ndarray
    energ_hi_kev: np.ndarray
    theta_arcmin: np.ndarray
    value: np.ndarray

    def at(self, theta_arcmin: Any, energy_kev: float) -> np.ndarray:
        """Vignetting at off-axis angles ``theta_arcmin`` and one energy (linear in theta)."""
        centres = 0.5 * (self.energ_lo_kev + self.energ_hi_kev)
        column = int(np.clip(np.searchsorted(centres, energy_kev), 0, centres.size - 1))
        return np.interp(theta_arcmin, self.theta_arcmin, self.value[:, column])


def read_vignet(path: Path, extension: int = 1) -> Vignetting:
    """The VIGNET table (one row: ENERG_LO/HI, THETA, VIGNET of shape (phi, theta, energy))."""
    where = f"{path.name}[{extension}]"
    _, data = _hdu(path, extension)
    lo, hi, theta = (_column(data, n, where)[0] for n in ("ENERG_LO", "ENERG_HI", "THETA"))
    value = np.asarray(_column(data, "VIGNET", where)[0], dtype=np.float64)
    try:
        value = value.reshape(-1, theta.size, lo.size)[0]
    except ValueError:
        raise CalibrationFormatError(f"{where}: VIGNET does not match THETA x ENERGY") from None
    return Vignetting(lo.astype(float), hi.astype(float), theta.astype(float), value)


@dataclass(frozen=True)
class EventThresholds:
    """The onboard event finder (MXT EVTTHR upload), thresholds on ``a - OFFSET`` [ADU]."""

    event_adu: int
    split_adu: int
    upper_adu: int
    frame_time_s: float = 0.1


def read_evtthr(path: Path) -> EventThresholds:
    """The thresholds of an MXT EVTTHR onboard YAML file."""
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        return EventThresholds(
            int(content["event_threshold_adu"]),
            int(content["split_threshold_adu"]),
            int(content["upper_threshold_adu"]),
            float(content.get("frame_time_ms", 100.0)) / 1000.0,
        )
    except (OSError, yaml.YAMLError, TypeError, KeyError, ValueError) as error:
        raise CalibrationFormatError(f"{path.name} is not an EVTTHR file: {error}") from None
