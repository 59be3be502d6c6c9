"""MXT detector calibration: TELDEF, GAIN, CTI and BADPIX (see docs/calibration_formats.md).

Geometry: 256 x 256 pnCCD pixels of 0.075 mm, focal length 1150 mm (13.45 arcsec per
pixel), one readout segment, RAWX/RAWY 1-based. Energy scale: for each pixel amplitude
``a`` [ADU] of column RAWX, ``e = GAIN(RAWX) * (a - OFFSET(RAWX))`` [eV]; the event energy
is the sum over its pattern, corrected for charge transfer inefficiency with
``E = E_meas / (1 - CTI(E_meas)) ** RAWY``.
"""

from __future__ import annotations

import math

import numpy as np
from astropy.io import fits

from caldb_demodata.common import (
    CalibrationId,
    calibration_header,
    primary_hdu,
    product_rng,
)

__all__ = [
    "CTI_MODELS",
    "DET_SIZE",
    "FOCAL_LENGTH_MM",
    "PIXEL_MM",
    "alignment_matrix",
    "bad_pixel_table",
    "badpix_hdus",
    "column_gains",
    "cti_hdus",
    "cti_power_law",
    "gain_hdus",
    "pixel_scale_arcsec",
    "teldef_hdus",
]

DET_SIZE = 256
PIXEL_MM = 0.075
FOCAL_LENGTH_MM = 1150.0
OPTICAL_AXIS = 128.5  # DET pixel coordinate of the optical axis (centre of the CCD)
SKY_SIZE = 512
NOMINAL_GAIN = 5.0  # eV/ADU
# Boresight of each epoch in the spacecraft frame, as (X, Y) offsets [arcmin] of the
# optical axis from the spacecraft +Z axis.
BORESIGHT_ARCMIN = {1: (0.0, 0.0), 2: (0.80, -0.60)}
# CTI(E) = norm * (E / e0) ** -index, per parallel transfer.
CTI_MODELS = {1: (1.0e-5, 1.0, 0.20), 2: (1.2e-4, 1.0, 0.30)}
BAD_TYPES = {"DEAD": 1, "HOT": 2, "FLICKERING": 4, "BADCOLUMN": 8}


def pixel_scale_arcsec() -> float:
    """Angular size of one DET (and SKY) pixel [arcsec]: ``DET_XSCL / FOCALLEN`` rad."""
    return math.degrees(PIXEL_MM / FOCAL_LENGTH_MM) * 3600.0


def alignment_matrix(offset_x_arcmin: float, offset_y_arcmin: float) -> np.ndarray:
    """The ALIGNM matrix that puts the optical axis at a boresight offset.

    Parameters
    ----------
    offset_x_arcmin, offset_y_arcmin : float
        Angles [arcmin] by which the instrument +Z axis (optical axis) leans towards the
        spacecraft +X and +Y axes: ``ALIGNM @ (0, 0, 1) = (cos(b) sin(a), -sin(b),
        cos(a) cos(b))`` with ``a = offset_x`` and ``b = -offset_y``.

    Returns
    -------
    numpy.ndarray
        3 x 3 rotation ``Ry(a) @ Rx(b)`` taking instrument-frame vectors to the spacecraft
        frame: ``v_sc = ALIGNM @ v_inst``.
    """
    a = math.radians(offset_x_arcmin / 60.0)
    b = math.radians(-offset_y_arcmin / 60.0)
    rot_y = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rot_x = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return rot_y @ rot_x


def _teldef_cards(epoch: int) -> list[tuple[str, object, str]]:
    scale = pixel_scale_arcsec()
    cards: list[tuple[str, object, str]] = [
        ("COORDSYS", "RAW,DET,SKY", "coordinate systems defined here"),
        ("RAW_XCOL", "RAWX", "column of raw X"),
        ("RAW_YCOL", "RAWY", "column of raw Y"),
        ("RAW_XSIZ", DET_SIZE, "[pixel] raw X size"),
        ("RAW_YSIZ", DET_SIZE, "[pixel] raw Y size"),
        ("RAWXPIX1", 1, "first raw X pixel number"),
        ("RAWYPIX1", 1, "first raw Y pixel number"),
        ("RAW_XSCL", PIXEL_MM, "[mm] raw pixel size in X"),
        ("RAW_YSCL", PIXEL_MM, "[mm] raw pixel size in Y"),
        ("RAW_XCEN", (DET_SIZE + 1) / 2, "[pixel] raw X centre"),
        ("RAW_YCEN", (DET_SIZE + 1) / 2, "[pixel] raw Y centre"),
        ("SEG_NUM", 1, "number of readout segments"),
        ("COE_X0_A", 0.0, "DETX = A + B*RAWX + C*RAWY (segment 0)"),
        ("COE_X0_B", 1.0, "DETX coefficient of RAWX"),
        ("COE_X0_C", 0.0, "DETX coefficient of RAWY"),
        ("COE_Y0_A", 0.0, "DETY = A + B*RAWX + C*RAWY (segment 0)"),
        ("COE_Y0_B", 0.0, "DETY coefficient of RAWX"),
        ("COE_Y0_C", 1.0, "DETY coefficient of RAWY"),
        ("DET_XCOL", "DETX", "column of detector X"),
        ("DET_YCOL", "DETY", "column of detector Y"),
        ("DET_XSIZ", DET_SIZE, "[pixel] detector X size"),
        ("DET_YSIZ", DET_SIZE, "[pixel] detector Y size"),
        ("DETXPIX1", 1, "first detector X pixel number"),
        ("DETYPIX1", 1, "first detector Y pixel number"),
        ("DET_XSCL", PIXEL_MM, "[mm] detector pixel size in X"),
        ("DET_YSCL", PIXEL_MM, "[mm] detector pixel size in Y"),
        ("DET_XCEN", (DET_SIZE + 1) / 2, "[pixel] detector X centre"),
        ("DET_YCEN", (DET_SIZE + 1) / 2, "[pixel] detector Y centre"),
        ("DETXFLIP", 1, "no flip of X (already in the COE coefficients)"),
        ("DETYFLIP", 1, "no flip of Y (already in the COE coefficients)"),
        ("DET_ROTD", 0.0, "[deg] no rotation (already in COE coefficients)"),
        ("FOCALLEN", FOCAL_LENGTH_MM, "[mm] focal length"),
        ("OPTCOORD", "DET", "system of the optical axis position"),
        ("OPTAXISX", OPTICAL_AXIS, "[pixel] DETX of the optical axis"),
        ("OPTAXISY", OPTICAL_AXIS, "[pixel] DETY of the optical axis"),
        ("IMAGEINV", False, "lobster-eye image is upright (not inverted)"),
        ("SKY_FROM", "DET", "system SKY is computed from"),
        ("SKY_XCOL", "X", "column of sky X"),
        ("SKY_YCOL", "Y", "column of sky Y"),
        ("SKY_XSIZ", SKY_SIZE, "[pixel] sky X size"),
        ("SKY_YSIZ", SKY_SIZE, "[pixel] sky Y size"),
        ("SKYXPIX1", 1, "first sky X pixel number"),
        ("SKYYPIX1", 1, "first sky Y pixel number"),
        ("SKY_XCEN", (SKY_SIZE + 1) / 2, "[pixel] sky X of the nominal pointing"),
        ("SKY_YCEN", (SKY_SIZE + 1) / 2, "[pixel] sky Y of the nominal pointing"),
        ("SKY_XSCL", round(scale, 6), "[arcsec] sky pixel size = DET_XSCL/FOCALLEN"),
        ("SKY_YSCL", round(scale, 6), "[arcsec] sky pixel size = DET_YSCL/FOCALLEN"),
    ]
    matrix = alignment_matrix(*BORESIGHT_ARCMIN[epoch])
    for row in range(3):
        for column in range(3):
            value = float(f"{matrix[row, column]:.15g}")
            cards.append((f"ALIGNM{row + 1}{column + 1}", value, "v_sc = ALIGNM @ v_inst"))
    offset_x, offset_y = BORESIGHT_ARCMIN[epoch]
    cards += [
        ("BOREOFFX", offset_x, "[arcmin] optical axis towards spacecraft +X"),
        ("BOREOFFY", offset_y, "[arcmin] optical axis towards spacecraft +Y"),
    ]
    return cards


def teldef_hdus(epoch: int, valid_from: str, seed: int) -> list[fits.PrimaryHDU]:
    """The TELDEF file: every keyword in the primary HDU (as Swift teldef files).

    Parameters
    ----------
    epoch : int
        1 (2024-06-22, boresight on the spacecraft +Z axis) or 2 (2025-06-01, boresight
        realigned by (+0.80, -0.60) arcmin).
    valid_from : str
        CVSD0001 ``YYYY-MM-DD``.
    seed : int
        Demonstration seed (the teldef itself has no random content).

    Returns
    -------
    list of HDU
        One primary HDU without data, CAL_XNO 0.
    """
    ident = CalibrationId(
        "MXT", "TELDEF", "BCF", valid_from, f"MXT telescope definition, epoch {epoch}"
    )
    header = calibration_header(ident, seed, _teldef_cards(epoch))
    hdu = fits.PrimaryHDU(header=header)
    hdu.header["COMMENT"] = "SVOM CalDB demonstration set: coherent, not real measurements."
    return [hdu]


def column_gains(seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-column gain and offset of the 256 readout channels.

    Parameters
    ----------
    seed : int
        Demonstration seed.
    epoch : int
        1: ``GAIN = 5.0 * (1 + 0.01 N)`` eV/ADU, ``OFFSET = 4.0 + 1.5 N`` ADU
        (N standard normal, one draw per column). 2: the epoch-1 values times
        ``1.015 * (1 + 0.002 N)`` and plus ``1.5 + 0.3 N`` ADU (ageing).

    Returns
    -------
    gain : numpy.ndarray
        [eV/ADU] for RAWX = 1..256 (float64, 256 values).
    offset : numpy.ndarray
        [ADU] for RAWX = 1..256.
    """
    rng = product_rng(seed, "mxt-gain")
    gain = NOMINAL_GAIN * (1.0 + 0.01 * rng.standard_normal(DET_SIZE))
    offset = 4.0 + 1.5 * rng.standard_normal(DET_SIZE)
    if epoch == 2:
        drift = product_rng(seed, "mxt-gain-drift")
        gain = gain * 1.015 * (1.0 + 0.002 * drift.standard_normal(DET_SIZE))
        offset = offset + 1.5 + 0.3 * drift.standard_normal(DET_SIZE)
    return gain, offset


def gain_hdus(epoch: int, valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.BinTableHDU]:
    """The GAIN file: table ``GAIN`` with RAWX, GAIN [eV/adu], OFFSET [adu] and errors."""
    gain, offset = column_gains(seed, epoch)
    rng = product_rng(seed, f"mxt-gain-errors-{epoch}")
    columns = [
        fits.Column(name="RAWX", format="I", array=np.arange(1, DET_SIZE + 1, dtype=np.int16)),
        fits.Column(name="GAIN", format="E", unit="eV/adu", array=gain.astype(np.float32)),
        fits.Column(name="OFFSET", format="E", unit="adu", array=offset.astype(np.float32)),
        fits.Column(
            name="GAIN_ERR", format="E", unit="eV/adu", array=rng.uniform(0.002, 0.006, DET_SIZE)
        ),
        fits.Column(
            name="OFFS_ERR", format="E", unit="adu", array=rng.uniform(0.05, 0.2, DET_SIZE)
        ),
    ]
    ident = CalibrationId(
        "MXT", "GAIN", "BCF", valid_from, f"MXT per-column gain and offset, epoch {epoch}"
    )
    header = calibration_header(
        ident,
        seed,
        (
            ("CCDTEMP", -65.0, "[degC] CCD temperature of the calibration"),
            ("GAINNOM", NOMINAL_GAIN, "[eV/adu] nominal gain"),
            ("TLMIN1", 1, "first RAWX"),
            ("TLMAX1", DET_SIZE, "last RAWX"),
        ),
    )
    table = fits.BinTableHDU.from_columns(columns, header=header, name="GAIN")
    return [primary_hdu("MXT", valid_from, seed), table]


def cti_power_law(energy_kev: np.ndarray, epoch: int) -> np.ndarray:
    """Charge transfer inefficiency per parallel transfer.

    Parameters
    ----------
    energy_kev : numpy.ndarray
        Event energy [keV].
    epoch : int
        1: ``1.0e-5 * E**-0.20``; 2: ``1.2e-4 * E**-0.30`` (E in keV).

    Returns
    -------
    numpy.ndarray
        Fraction of the charge lost per transfer (dimensionless).
    """
    norm, e0, index = CTI_MODELS[epoch]
    return norm * (np.asarray(energy_kev, dtype=float) / e0) ** (-index)


def cti_hdus(epoch: int, valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.BinTableHDU]:
    """The CTI file: table ``CTI`` with ENERGY [keV] and CTI sampled from the power law."""
    energy = np.geomspace(0.1, 12.0, 25)
    norm, e0, index = CTI_MODELS[epoch]
    columns = [
        fits.Column(name="ENERGY", format="E", unit="keV", array=energy.astype(np.float32)),
        fits.Column(name="CTI", format="D", array=cti_power_law(energy.astype(np.float32), epoch)),
    ]
    ident = CalibrationId(
        "MXT", "CTI", "BCF", valid_from, f"MXT parallel CTI per row transfer, epoch {epoch}"
    )
    header = calibration_header(
        ident,
        seed,
        (
            ("CTI_NORM", norm, "CTI per transfer at CTI_E0"),
            ("CTI_E0", e0, "[keV] reference energy"),
            ("CTI_IDX", index, "CTI = CTI_NORM*(E/CTI_E0)**(-CTI_IDX)"),
            ("CTI_DIR", "PARALLEL", "transfers along RAWY towards the readout"),
            ("CTI_NOFF", 0, "transfers added to RAWY (N = RAWY + CTI_NOFF)"),
            ("CCDTEMP", -65.0, "[degC] CCD temperature of the calibration"),
        ),
    )
    table = fits.BinTableHDU.from_columns(columns, header=header, name="CTI")
    return [primary_hdu("MXT", valid_from, seed), table]


def bad_pixel_table(seed: int) -> np.ndarray:
    """The MXT bad pixels: dead, hot and flickering pixels and bad column segments.

    Parameters
    ----------
    seed : int
        Demonstration seed.

    Returns
    -------
    numpy.ndarray
        Structured array sorted by (RAWX, RAWY), fields ``RAWX``, ``RAWY`` (1-based),
        ``YEXTENT`` (pixels flagged from RAWY upwards) and ``TYPE`` (1 dead, 2 hot,
        4 flickering, 8 bad column segment); 6 dead, 4 hot, 3 flickering, 2 segments.
    """
    rng = product_rng(seed, "mxt-badpix")
    counts = {"DEAD": 6, "HOT": 4, "FLICKERING": 3}
    chosen = rng.choice(DET_SIZE * DET_SIZE, size=sum(counts.values()), replace=False)
    rows = []
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    for flat, kind in zip(chosen, kinds, strict=True):
        rows.append((int(flat % DET_SIZE) + 1, int(flat // DET_SIZE) + 1, 1, BAD_TYPES[kind]))
    columns = rng.choice(np.arange(20, DET_SIZE - 20), size=2, replace=False)
    start = int(rng.integers(100, 200))
    rows.append((int(columns[0]), 1, DET_SIZE, BAD_TYPES["BADCOLUMN"]))
    rows.append((int(columns[1]), start, DET_SIZE - start + 1, BAD_TYPES["BADCOLUMN"]))
    table = np.array(
        rows, dtype=[("RAWX", ">i2"), ("RAWY", ">i2"), ("YEXTENT", ">i2"), ("TYPE", ">i2")]
    )
    return np.sort(table, order=["RAWX", "RAWY"])


def badpix_hdus(valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.BinTableHDU]:
    """The BADPIX file: table ``BADPIX`` with RAWX, RAWY, YEXTENT, TYPE."""
    table = bad_pixel_table(seed)
    columns = [
        fits.Column(name=name, format="I", array=table[name]) for name in table.dtype.names or ()
    ]
    ident = CalibrationId("MXT", "BADPIX", "BCF", valid_from, "MXT dead, hot, flickering pixels")
    header = calibration_header(
        ident,
        seed,
        (
            ("TLMIN1", 1, "first RAWX"),
            ("TLMAX1", DET_SIZE, "last RAWX"),
            ("TLMIN2", 1, "first RAWY"),
            ("TLMAX2", DET_SIZE, "last RAWY"),
            ("TYPE_1", "DEAD", "TYPE bit 0: dead pixel"),
            ("TYPE_2", "HOT", "TYPE bit 1: hot pixel"),
            ("TYPE_4", "FLICKERING", "TYPE bit 2: flickering pixel"),
            ("TYPE_8", "BADCOLUMN", "TYPE bit 3: bad column segment"),
        ),
    )
    hdu = fits.BinTableHDU.from_columns(columns, header=header, name="BADPIX")
    return [primary_hdu("MXT", valid_from, seed), hdu]
