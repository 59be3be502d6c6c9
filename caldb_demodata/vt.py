"""VT calibration: BIAS and FLAT per CCD (``DETNAM`` BLUE, RED) and photometric ZEROPT.

The two CCDs have 2048 x 2048 pixels; the demonstration BIAS and FLAT images are binned
32 x 32 to 64 x 64 (image pixel ``i`` covers native pixels ``32 (i - 1) + 1 .. 32 i``,
recorded with IRAF ``LTM``/``LTV`` keywords) to keep the files small. A native pixel takes
the value of the binned pixel that contains it.
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

__all__ = [
    "BANDS_NM",
    "CCDS",
    "ZERO_POINTS",
    "bias_hdus",
    "bias_image",
    "flat_hdus",
    "flat_image",
    "zeropt_hdus",
]

CCDS = ("BLUE", "RED")
NATIVE = 2048
BINNING = 32
SIZE = NATIVE // BINNING
BANDS_NM = {"BLUE": (450.0, 650.0), "RED": (650.0, 1000.0)}
BIAS_LEVEL_ADU = {"BLUE": 1000.0, "RED": 1050.0}
# AB magnitude of a source giving 1 ADU/s on the bias-subtracted, flat-fielded frame.
ZERO_POINTS = {"BLUE": (25.62, 0.02), "RED": (25.31, 0.02)}


def _binning_cards() -> tuple[tuple[str, object, str], ...]:
    offset = 0.5 - 0.5 / BINNING
    return (
        ("BINX", BINNING, "native pixels per image pixel along X"),
        ("BINY", BINNING, "native pixels per image pixel along Y"),
        ("CCDSIZE", f"[1:{NATIVE},1:{NATIVE}]", "native CCD size"),
        ("LTM1_1", 1.0 / BINNING, "image = LTM * native + LTV"),
        ("LTM2_2", 1.0 / BINNING, "image = LTM * native + LTV"),
        ("LTV1", offset, "image = LTM * native + LTV"),
        ("LTV2", offset, "image = LTM * native + LTV"),
    )


def bias_image(seed: int, ccd: str) -> np.ndarray:
    """Bias frame of a CCD, binned 32 x 32.

    Parameters
    ----------
    seed : int
        Demonstration seed.
    ccd : str
        ``BLUE`` or ``RED``.

    Returns
    -------
    numpy.ndarray
        (64, 64) float32 [ADU per native pixel]: level (1000 blue, 1050 red) + 6 ADU
        ramp along X + 0.8 ADU rms noise.
    """
    rng = product_rng(seed, f"vt-bias-{ccd}")
    ramp = np.linspace(0.0, 6.0, SIZE)[None, :]
    image = BIAS_LEVEL_ADU[ccd] + ramp + 0.8 * rng.standard_normal((SIZE, SIZE))
    return image.astype(np.float32)


def flat_image(seed: int, ccd: str) -> np.ndarray:
    """Normalised flat field of a CCD, binned 32 x 32.

    Parameters
    ----------
    seed : int
        Demonstration seed.
    ccd : str
        ``BLUE`` or ``RED``.

    Returns
    -------
    numpy.ndarray
        (64, 64) float32, dimensionless, median 1: a radial fall-off of 6 % (blue) or
        8 % (red) at the corners times 1 % rms pixel-to-pixel response.
    """
    rng = product_rng(seed, f"vt-flat-{ccd}")
    axis = (np.arange(SIZE) - (SIZE - 1) / 2) / ((SIZE - 1) / 2)
    r2 = (axis[None, :] ** 2 + axis[:, None] ** 2) / 2.0
    fall = {"BLUE": 0.06, "RED": 0.08}[ccd]
    image = (1.0 - fall * r2) * (1.0 + 0.01 * rng.standard_normal((SIZE, SIZE)))
    return (image / np.median(image)).astype(np.float32)


def _image_hdus(
    codename: str, ccd: str, *, valid_from: str, seed: int, data: np.ndarray, unit: str | None
) -> list[fits.PrimaryHDU | fits.ImageHDU]:
    kind = {"BIAS": "bias frame", "FLAT": "flat field"}[codename]
    ident = CalibrationId(
        "VT", codename, "BCF", valid_from, f"VT {ccd.lower()} CCD {kind} (binned 32x32)", detnam=ccd
    )
    low, high = BANDS_NM[ccd]
    extra = [
        *_binning_cards(),
        ("WAVEMIN", low, "[nm] lower edge of the CCD band"),
        ("WAVEMAX", high, "[nm] upper edge of the CCD band"),
    ]
    if unit:
        extra.insert(0, ("BUNIT", unit, "unit of the pixel values"))
    hdu = fits.ImageHDU(data=data, header=calibration_header(ident, seed, extra), name=codename)
    return [primary_hdu("VT", valid_from, seed), hdu]


def bias_hdus(ccd: str, valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.ImageHDU]:
    """The BIAS file of a CCD: image ``BIAS`` [adu], DETNAM = ``ccd``."""
    return _image_hdus(
        "BIAS", ccd, valid_from=valid_from, seed=seed, data=bias_image(seed, ccd), unit="adu"
    )


def flat_hdus(ccd: str, valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.ImageHDU]:
    """The FLAT file of a CCD: image ``FLAT`` (dimensionless), DETNAM = ``ccd``."""
    return _image_hdus(
        "FLAT", ccd, valid_from=valid_from, seed=seed, data=flat_image(seed, ccd), unit=None
    )


def zeropt_hdus(valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.BinTableHDU]:
    """The ZEROPT file: table ``ZEROPT``, one row per CCD band.

    Columns DETNAM, WAVEMIN/WAVEMAX [nm], ZEROPT and ZP_ERR [mag]; a source of AB magnitude
    ``m`` gives ``10 ** (-0.4 (m - ZEROPT))`` ADU/s on the bias-subtracted, flat-fielded
    native-pixel frame.
    """
    columns = [
        fits.Column(name="DETNAM", format="8A", array=np.array(CCDS)),
        fits.Column(name="WAVEMIN", format="E", unit="nm", array=[BANDS_NM[c][0] for c in CCDS]),
        fits.Column(name="WAVEMAX", format="E", unit="nm", array=[BANDS_NM[c][1] for c in CCDS]),
        fits.Column(name="ZEROPT", format="E", unit="mag", array=[ZERO_POINTS[c][0] for c in CCDS]),
        fits.Column(name="ZP_ERR", format="E", unit="mag", array=[ZERO_POINTS[c][1] for c in CCDS]),
    ]
    ident = CalibrationId("VT", "ZEROPT", "BCF", valid_from, "VT photometric zero points (AB)")
    header = calibration_header(
        ident,
        seed,
        (
            ("MAGSYS", "AB", "magnitude system"),
            ("ZPUNIT", "adu/s", "count rate giving m = ZEROPT"),
        ),
    )
    table = fits.BinTableHDU.from_columns(columns, header=header, name="ZEROPT")
    return [primary_hdu("VT", valid_from, seed), table]
