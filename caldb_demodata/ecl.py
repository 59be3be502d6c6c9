"""ECLAIRs (ECL) calibration: per-pixel GAIN/OFFSET, BADPIX and MATRIX + EBOUNDS.

The detection plane has 80 x 80 CdTe pixels numbered ``DETNUM = 80 * Y + X`` (X, Y from 0;
``DETNUM.reshape(80, 80)[Y, X]``). Channel to energy, per pixel:
``E [keV] = GAIN * (PHA + 0.5) + OFFSET`` (PHA the integer channel, 0.5 its centre), nominally
0.145 keV/channel and 3 keV, so 1024 channels span 3-151.5 keV.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from caldb_demodata.common import (
    CalibrationId,
    calibration_header,
    primary_hdu,
    product_rng,
)
from caldb_demodata.ogip import ebounds_hdu, matrix_hdu

__all__ = [
    "NOMINAL_GAIN",
    "NOMINAL_OFFSET",
    "bad_pixel_table",
    "badpix_hdus",
    "channel_edges",
    "gain_hdus",
    "pixel_gains",
    "resolution_fwhm",
    "rmf_hdus",
]

SIDE = 80
NOMINAL_GAIN = 0.145  # keV/channel
NOMINAL_OFFSET = 3.0  # keV
N_CHANNELS = 1024
BAND = "ENERG(4-150)keV"
BAD_TYPES = {"DISABLED": 1, "NOISY": 2, "HIGHTHR": 4}


def pixel_gains(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gain and offset of the 6400 pixels.

    Parameters
    ----------
    seed : int
        Demonstration seed.

    Returns
    -------
    gain : numpy.ndarray
        ``0.145 * (1 + 0.015 N)`` [keV/channel] for DETNUM 0..6399 (N standard normal).
    offset : numpy.ndarray
        ``3.0 + 0.08 N`` [keV].
    """
    rng = product_rng(seed, "ecl-gain")
    gain = NOMINAL_GAIN * (1.0 + 0.015 * rng.standard_normal(SIDE * SIDE))
    offset = NOMINAL_OFFSET + 0.08 * rng.standard_normal(SIDE * SIDE)
    return gain, offset


def gain_hdus(valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.BinTableHDU]:
    """The GAIN file: table ``GAIN`` with DETNUM, GAIN [keV/chan], OFFSET [keV]."""
    gain, offset = pixel_gains(seed)
    columns = [
        fits.Column(name="DETNUM", format="I", array=np.arange(SIDE * SIDE, dtype=np.int16)),
        fits.Column(name="GAIN", format="E", unit="keV/chan", array=gain.astype(np.float32)),
        fits.Column(name="OFFSET", format="E", unit="keV", array=offset.astype(np.float32)),
    ]
    ident = CalibrationId("ECL", "GAIN", "BCF", valid_from, "ECLAIRs per-pixel gain and offset")
    header = calibration_header(
        ident,
        seed,
        (
            ("GAINNOM", NOMINAL_GAIN, "[keV/chan] nominal gain"),
            ("OFFSNOM", NOMINAL_OFFSET, "[keV] nominal offset"),
            ("DETCHANS", N_CHANNELS, "number of PHA channels"),
            ("NPIXX", SIDE, "pixels along X (DETNUM = 80*Y + X)"),
            ("NPIXY", SIDE, "pixels along Y"),
            ("TLMIN1", 0, "first DETNUM"),
            ("TLMAX1", SIDE * SIDE - 1, "last DETNUM"),
        ),
    )
    table = fits.BinTableHDU.from_columns(columns, header=header, name="GAIN")
    return [primary_hdu("ECL", valid_from, seed), table]


def bad_pixel_table(seed: int) -> np.ndarray:
    """The ECLAIRs bad pixels: 12 disabled, 10 noisy, 8 with a high threshold.

    Parameters
    ----------
    seed : int
        Demonstration seed.

    Returns
    -------
    numpy.ndarray
        Structured array sorted by DETNUM, fields ``DETNUM``, ``X``, ``Y`` (0-based,
        ``DETNUM = 80 * Y + X``) and ``TYPE`` (1 disabled, 2 noisy, 4 high threshold).
    """
    rng = product_rng(seed, "ecl-badpix")
    counts = {"DISABLED": 12, "NOISY": 10, "HIGHTHR": 8}
    chosen = rng.choice(SIDE * SIDE, size=sum(counts.values()), replace=False)
    kinds = [BAD_TYPES[kind] for kind, count in counts.items() for _ in range(count)]
    rows = [
        (int(n), int(n % SIDE), int(n // SIDE), kind) for n, kind in zip(chosen, kinds, strict=True)
    ]
    table = np.array(rows, dtype=[("DETNUM", ">i2"), ("X", ">i2"), ("Y", ">i2"), ("TYPE", ">i2")])
    return np.sort(table, order="DETNUM")


def badpix_hdus(valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.BinTableHDU]:
    """The BADPIX file: table ``BADPIX`` with DETNUM, X, Y, TYPE."""
    table = bad_pixel_table(seed)
    columns = [
        fits.Column(name=name, format="I", array=table[name]) for name in table.dtype.names or ()
    ]
    ident = CalibrationId("ECL", "BADPIX", "BCF", valid_from, "ECLAIRs disabled and noisy pixels")
    header = calibration_header(
        ident,
        seed,
        (
            ("TYPE_1", "DISABLED", "TYPE bit 0: pixel disabled"),
            ("TYPE_2", "NOISY", "TYPE bit 1: noisy pixel"),
            ("TYPE_4", "HIGHTHR", "TYPE bit 2: low-energy threshold above 8 keV"),
        ),
    )
    hdu = fits.BinTableHDU.from_columns(columns, header=header, name="BADPIX")
    return [primary_hdu("ECL", valid_from, seed), hdu]


def channel_edges() -> np.ndarray:
    """Nominal channel energy edges [keV]: channel k spans ``3.0 + 0.145 k`` to ``+ 0.145``."""
    return np.round(NOMINAL_OFFSET + NOMINAL_GAIN * np.arange(N_CHANNELS + 1), 6)


def resolution_fwhm(energy_kev: np.ndarray) -> np.ndarray:
    """CdTe energy resolution.

    Parameters
    ----------
    energy_kev : numpy.ndarray
        Photon energy [keV].

    Returns
    -------
    numpy.ndarray
        FWHM [keV] ``= sqrt(1.0**2 + (0.02 E)**2)`` (1.0 keV at 4 keV, 1.56 keV at 60 keV).
    """
    energy = np.asarray(energy_kev, float)
    return np.sqrt(1.0 + (0.02 * energy) ** 2)


def rmf_hdus(valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.BinTableHDU]:
    """The RMF file: ``MATRIX`` (4-150 keV in 0.5 keV bins) then ``EBOUNDS`` (1024 channels)."""
    edges = np.round(np.arange(4.0, 150.001, 0.5), 6)
    boundaries = ("CHANTYPE(PI)", BAND)
    matrix = matrix_hdu(
        CalibrationId(
            "ECL", "MATRIX", "CPF", valid_from, "ECLAIRs redistribution matrix", boundaries
        ),
        seed,
        energy_lo=edges[:-1],
        energy_hi=edges[1:],
        channel_edges=channel_edges(),
        fwhm=resolution_fwhm,
    )
    ebounds = ebounds_hdu(
        CalibrationId(
            "ECL", "EBOUNDS", "CPF", valid_from, "ECLAIRs channel energy bounds", boundaries
        ),
        seed,
        channel_edges(),
    )
    return [primary_hdu("ECL", valid_from, seed), matrix, ebounds]
