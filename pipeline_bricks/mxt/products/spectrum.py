"""MXT spectra: PHA counts, PSF enclosed fraction, region ARF, OGIP PHA and ARF files.

Formats: OGIP/92-007 (type-I PHA, ``SPECTRUM`` extension) and CAL/GEN/92-002 (ARF,
``SPECRESP`` extension); calibration: docs/calibration_formats.md §4.

The ARF of a source region is ``SPECRESP(E) x VIGNET(theta, E) x EEF(r)``: on-axis area,
vignetting at the source's off-axis angle and the fraction of the PSF inside the
extraction circle. The MXT PSF is one image for all energies (§4.1), so EEF does not depend
on E. The background spectrum needs no ARF (its BACKSCAL ratio scales it).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from astropy.io import fits

from pipeline_bricks.mxt.caldata import EffectiveArea, Psf, Vignetting
from pipeline_bricks.mxt.products._common import (
    INSTRUME,
    TELESCOP,
    Card,
    HeaderExtras,
    primary_hdu,
    reserved_keywords,
    table_hdu,
)

__all__ = [
    "arf_for_region",
    "pha_spectrum",
    "psf_enclosed_fraction",
    "write_arf_hdus",
    "write_pha_hdus",
]

N_CHANNELS = 1024  # PI channels of 10 eV, 0..1023 (EBOUNDS, §4.4)
_SUBPIXELS = 16  # sub-samples per axis of a PSF pixel cut by the circle


def pha_spectrum(pi: Any, n_channels: int = N_CHANNELS) -> np.ndarray:
    """Counts per PI channel of the events of a region.

    Parameters
    ----------
    pi : array_like of int
        ``PI`` of the events (channels 0 .. ``n_channels - 1``). May be empty: a
        background region can hold no event in a short observation.
    n_channels : int
        ``DETCHANS`` of the RMF (1024 for MXT).

    Returns
    -------
    numpy.ndarray
        int64 counts, shape ``(n_channels,)``.

    Raises
    ------
    ValueError
        ``n_channels < 1``, a PI that is not an integer or outside the channels.
    """
    if int(n_channels) != n_channels or n_channels < 1:
        raise ValueError(f"n_channels must be a positive integer, not {n_channels}")
    values = np.asarray(pi).ravel()
    if values.size and not np.all(np.isfinite(values.astype(np.float64))):
        raise ValueError("PI must be finite channel numbers")
    channels = values.astype(np.int64)
    if np.any(channels != values):
        raise ValueError("PI must be integer channel numbers")
    bad = (channels < 0) | (channels >= n_channels)
    if np.any(bad):
        raise ValueError(
            f"{int(np.count_nonzero(bad))} PI value(s) outside the channels 0..{n_channels - 1}"
        )
    return np.bincount(channels, minlength=int(n_channels)).astype(np.int64)


def _enclosed(psf: Psf, radii_pix: np.ndarray) -> np.ndarray:
    """PSF fraction inside circles about the source, pixels cut by one weighted by area."""
    rows, columns = np.indices(psf.image.shape)
    dy = (rows - psf.centre[0]).astype(np.float64).ravel()
    dx = (columns - psf.centre[1]).astype(np.float64).ravel()
    image = psf.image.ravel()
    near = np.hypot(np.maximum(np.abs(dx) - 0.5, 0.0), np.maximum(np.abs(dy) - 0.5, 0.0))
    far = np.hypot(np.abs(dx) + 0.5, np.abs(dy) + 0.5)
    offsets = (np.arange(_SUBPIXELS) + 0.5) / _SUBPIXELS - 0.5
    values = np.empty(radii_pix.size)
    for k, radius in enumerate(radii_pix):
        total = float(image[far <= radius].sum())
        cut = np.flatnonzero((near < radius) & (far > radius))
        sub_y = dy[cut, None, None] + offsets[None, :, None]
        sub_x = dx[cut, None, None] + offsets[None, None, :]
        inside = (sub_x**2 + sub_y**2 < radius**2).mean(axis=(1, 2))
        values[k] = total + float(np.sum(image[cut] * inside))
    return values


def psf_enclosed_fraction(psf: Psf, radius_arcmin: Any) -> np.ndarray | float:
    """Fraction of a source's photons within ``radius_arcmin`` of its position.

    Sum of the PSF image pixels (one DET pixel each, ``psf.pixel_arcmin`` wide) inside the
    circle about the source pixel; a pixel the circle cuts counts by the fraction of its area
    inside (16 x 16 sub-samples, flux uniform within the pixel), so the result is smooth in
    the radius. The SKY pixel equals the DET pixel (``SKY_XSCL = DET_XSCL/FOCALLEN``), so a
    region of ``r`` SKY pixels has ``radius_arcmin = r * SKY_XSCL / 60``. The PSF does not
    depend on energy or position in the field (§4.1); its arms rotate with the roll, which a
    circle does not see.

    Parameters
    ----------
    psf : Psf
        The PSF calibration (``read_psf``).
    radius_arcmin : float or array_like
        Radii [arcmin], >= 0.

    Returns
    -------
    float or numpy.ndarray
        Enclosed fraction(s), in [0, PSFSUM] (the photons falling outside the image are
        not counted).

    Raises
    ------
    ValueError
        A negative or non-finite radius.
    """
    radii = np.asarray(radius_arcmin, dtype=np.float64)
    if not np.all(np.isfinite(radii)) or np.any(radii < 0):
        raise ValueError(f"radii must be finite and >= 0 arcmin, not {radius_arcmin}")
    values = _enclosed(psf, radii.ravel() / psf.pixel_arcmin)
    return float(values[0]) if radii.ndim == 0 else values.reshape(radii.shape)


def arf_for_region(
    specresp: EffectiveArea,
    vignet: Vignetting,
    theta_arcmin: Any,
    eef: float,
    weights: Any = None,
) -> np.ndarray:
    """Effective area of a source region: ``SPECRESP(E) x VIGNET(theta, E) x EEF`` [cm2].

    Parameters
    ----------
    specresp : EffectiveArea
        On-axis SPECRESP (``read_specresp``); its energy grid is the ARF's.
    vignet : Vignetting
        VIGNET (``read_vignet``): linear in theta and in energy between its bin centres
        (constant beyond the first and last centres).
    theta_arcmin : float or array_like
        Off-axis angle of the source [arcmin]; several values (e.g. one per attitude step)
        are averaged.
    eef : float
        PSF fraction inside the region (:func:`psf_enclosed_fraction`), in (0, 1].
    weights : array_like, optional
        Weights of the ``theta_arcmin`` values (e.g. step durations [s]).

    Returns
    -------
    numpy.ndarray
        float64 area per SPECRESP energy bin [cm2].

    Raises
    ------
    ValueError
        ``eef`` outside (0, 1], no, negative or non-finite ``theta_arcmin``, weights of
        another length or not positive in total.
    """
    if not (np.isfinite(eef) and 0.0 < eef <= 1.0):
        raise ValueError(f"eef must be in (0, 1], not {eef}")
    theta = np.asarray(theta_arcmin, dtype=np.float64).ravel()
    if theta.size == 0 or not np.all(np.isfinite(theta)) or np.any(theta < 0):
        raise ValueError("theta_arcmin must be one or more finite off-axis angles >= 0")
    w = np.ones(theta.size) if weights is None else np.asarray(weights, np.float64).ravel()
    if w.shape != theta.shape or np.any(w < 0) or not np.sum(w) > 0:
        raise ValueError("weights must be >= 0, positive in total, one per theta")
    per_theta = np.stack(  # (energy, theta): linear in theta for each VIGNET energy
        [np.interp(theta, vignet.theta_arcmin, column) for column in vignet.value.T]
    )
    mean_vignet = per_theta @ (w / w.sum())  # one value per VIGNET energy bin
    v_centres = 0.5 * (vignet.energ_lo_kev + vignet.energ_hi_kev)
    energy = 0.5 * (specresp.energ_lo_kev + specresp.energ_hi_kev)
    return specresp.area_cm2 * np.interp(energy, v_centres, mean_vignet) * float(eef)


def _fits_string(name: str, value: str) -> str:
    text = str(value).strip()
    if not text or len(text) > 68 or not text.isascii():
        raise ValueError(f"{name} must be a non-empty ASCII file name (or 'none'), not {value!r}")
    return text


def write_pha_hdus(
    counts: Any,
    exposure: float,
    backscal: float,
    *,
    respfile: str,
    ancrfile: str,
    backfile: str = "none",
    kind: Literal["TOTAL", "BKG"] = "TOTAL",
    header_extras: HeaderExtras = None,
    filter_name: str = "NONE",
    areascal: float = 1.0,
) -> fits.HDUList:
    """OGIP type-I PHA file (OGIP/92-007): primary HDU and ``SPECTRUM`` (CHANNEL, COUNTS).

    Parameters
    ----------
    counts : array_like of int
        Counts per channel (:func:`pha_spectrum`), channels 0 .. n-1.
    exposure : float
        ``EXPOSURE`` [s] (> 0): the GTI time of the events (the ONTIME of the list).
    backscal : float
        ``BACKSCAL`` (> 0): region area [sky pixel] (``regions.backscal``).
    respfile, ancrfile, backfile : str
        ``RESPFILE`` (RMF), ``ANCRFILE`` (ARF) and ``BACKFILE`` names, ``'none'`` if absent.
    kind : {"TOTAL", "BKG"}
        ``HDUCLAS2``: source (total) or background spectrum.
    header_extras : mapping or astropy.io.fits.Header, optional
        More keywords (OBS_ID, DATE-OBS, TSTART, MJDREF, object position...), written in
        both HDUs; they may not repeat the keywords this function sets.
    filter_name : str
        ``FILTER`` (MXT has none: ``'NONE'``).
    areascal : float
        ``AREASCAL`` (> 0).

    Returns
    -------
    astropy.io.fits.HDUList
        ``CHANNEL`` (J), ``COUNTS`` (J, count); ``POISSERR = T``, ``CHANTYPE = 'PI'``,
        ``DETCHANS``, ``TLMIN1 = 0``, ``TLMAX1 = n-1``, ``HDUCLAS3 = 'COUNT'``,
        ``HDUVERS = '1.2.1'``, ``CORRFILE = 'none'``, ``CORRSCAL = 1``, ``SYS_ERR``,
        ``QUALITY``, ``GROUPING = 0``.

    Raises
    ------
    ValueError
        No channel, negative or non-integer counts, ``exposure``, ``backscal`` or
        ``areascal`` not positive, a bad ``kind`` or file name, or a reserved extra.
    """
    values = np.asarray(counts).ravel()
    if values.size == 0:
        raise ValueError("the spectrum has no channel")
    if not np.all(np.isfinite(values.astype(np.float64))) or np.any(values < 0):
        raise ValueError("spectrum counts must be finite and >= 0")
    channel_counts = values.astype(np.int64)
    if np.any(channel_counts != values):
        raise ValueError("spectrum counts must be integers")
    for name, number in (("exposure", exposure), ("backscal", backscal), ("areascal", areascal)):
        if not (np.isfinite(number) and number > 0):
            raise ValueError(f"{name} must be a positive number, not {number}")
    if kind not in {"TOTAL", "BKG"}:
        raise ValueError(f"kind must be 'TOTAL' or 'BKG', not {kind!r}")
    files = {
        name: _fits_string(name, value)
        for name, value in (("RESPFILE", respfile), ("ANCRFILE", ancrfile), ("BACKFILE", backfile))
    }
    n = channel_counts.size
    cards: list[Card] = [
        ("TELESCOP", TELESCOP, "mission"),
        ("INSTRUME", INSTRUME, "instrument"),
        ("FILTER", _fits_string("FILTER", filter_name), "filter"),
        ("EXPOSURE", float(exposure), "[s] exposure time"),
        ("AREASCAL", float(areascal), "area scaling factor"),
        ("BACKFILE", files["BACKFILE"], "background spectrum"),
        ("BACKSCAL", float(backscal), "[pixel] extraction area (exposure weighted)"),
        ("CORRFILE", "none", "no correction file"),
        ("CORRSCAL", 1.0, "correction scaling factor"),
        ("RESPFILE", files["RESPFILE"], "redistribution matrix (RMF)"),
        ("ANCRFILE", files["ANCRFILE"], "ancillary response (ARF)"),
        ("POISSERR", True, "Poisson errors apply"),
        ("SYS_ERR", 0.0, "no systematic error"),
        ("QUALITY", 0, "all channels good"),
        ("GROUPING", 0, "no grouping"),
        ("CHANTYPE", "PI", "channels are PI (10 eV each)"),
        ("DETCHANS", n, "number of channels"),
        ("TLMIN1", 0, "first channel"),
        ("TLMAX1", n - 1, "last channel"),
        ("HDUCLASS", "OGIP", "format conforms to OGIP standards"),
        ("HDUCLAS1", "SPECTRUM", "PHA dataset"),
        ("HDUCLAS2", kind, "TOTAL (source) or BKG (background)"),
        ("HDUCLAS3", "COUNT", "counts, not rates"),
        ("HDUVERS", "1.2.1", "OGIP/92-007 version"),
    ]
    columns = [
        fits.Column(name="CHANNEL", format="J", array=np.arange(n, dtype=np.int32)),
        fits.Column(name="COUNTS", format="J", unit="count", array=channel_counts),
    ]
    table = table_hdu(columns, "SPECTRUM", cards, header_extras)
    return fits.HDUList([primary_hdu(header_extras, reserved_keywords(cards)), table])


def write_arf_hdus(
    energ_lo: Any, energ_hi: Any, specresp: Any, *, header_extras: HeaderExtras = None
) -> fits.HDUList:
    """OGIP ARF (CAL/GEN/92-002): primary HDU and ``SPECRESP`` (ENERG_LO, ENERG_HI, SPECRESP).

    Parameters
    ----------
    energ_lo, energ_hi : array_like
        Photon energy bins [keV], increasing, ``energ_lo < energ_hi``.
    specresp : array_like
        Effective area per bin [cm2], >= 0 (:func:`arf_for_region`).
    header_extras : mapping or astropy.io.fits.Header, optional
        More keywords for both HDUs (not the ones written here).

    Returns
    -------
    astropy.io.fits.HDUList
        ``HDUCLASS='OGIP'``, ``HDUCLAS1='RESPONSE'``, ``HDUCLAS2='SPECRESP'``,
        ``HDUVERS='1.1.0'``.

    Raises
    ------
    ValueError
        No bin, arrays of different lengths, decreasing or empty bins, a negative or
        non-finite area.
    """
    lo, hi, area = (np.asarray(a, dtype=np.float64).ravel() for a in (energ_lo, energ_hi, specresp))
    if lo.size == 0:
        raise ValueError("the ARF has no energy bin")
    if not lo.shape == hi.shape == area.shape:
        raise ValueError("ENERG_LO, ENERG_HI and SPECRESP differ in length")
    if not all(np.all(np.isfinite(a)) for a in (lo, hi, area)):
        raise ValueError("ARF energies and areas must be finite")
    if np.any(hi <= lo) or np.any(np.diff(lo) <= 0) or np.any(lo < 0):
        raise ValueError("ARF energy bins must be >= 0, non-empty and increasing")
    if np.any(area < 0):
        raise ValueError("SPECRESP must be >= 0 cm2")
    cards: list[Card] = [
        ("TELESCOP", TELESCOP, "mission"),
        ("INSTRUME", INSTRUME, "instrument"),
        ("FILTER", "NONE", "filter"),
        ("HDUCLASS", "OGIP", "format conforms to OGIP standards"),
        ("HDUCLAS1", "RESPONSE", "response dataset"),
        ("HDUCLAS2", "SPECRESP", "effective area"),
        ("HDUVERS", "1.1.0", "CAL/GEN/92-002 version"),
    ]
    columns = [
        fits.Column(name="ENERG_LO", format="E", unit="keV", array=lo),
        fits.Column(name="ENERG_HI", format="E", unit="keV", array=hi),
        fits.Column(name="SPECRESP", format="E", unit="cm**2", array=area),
    ]
    table = table_hdu(columns, "SPECRESP", cards, header_extras)
    return fits.HDUList([primary_hdu(header_extras, reserved_keywords(cards)), table])
