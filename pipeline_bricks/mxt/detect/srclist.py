"""Detected MXT sources on the sky and the ``*_srclist.fits`` table.

A source's DET position is turned into RA, Dec with
:func:`pipeline_bricks.mxt.coordinates.det_to_radec` for each attitude sample of the exposure
(:func:`exposure_attitude`: the attitude interpolated every ``step_s`` seconds of the GTIs);
the position is the weighted mean direction of these (exposure-weighted: the jitter is
averaged as the photons were). A single attitude (scalars) also works. The 90 % radius goes
from DET pixels to arcsec with the DET pixel scale ``sqrt(DET_XSCL DET_YSCL)/FOCALLEN`` rad
(13.45″; the gnomonic scale varies by less than 1e-4 across the field).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits

from pipeline_bricks.mxt.coordinates import Teldef, det_to_radec, interpolate_attitude
from pipeline_bricks.mxt.detect.sources import Source
from pipeline_bricks.mxt.gti import gti_steps

__all__ = ["SkySource", "det_pixel_arcsec", "exposure_attitude", "sky_sources", "srclist_hdus"]

ARCSEC_PER_RADIAN = 180.0 * 3600.0 / np.pi


@dataclass(frozen=True)
class SkySource:
    """A detected source with its sky position.

    Attributes
    ----------
    source : Source
        The detection in DET coordinates.
    ra, dec : float
        J2000 position [deg].
    err_r90_arcsec : float
        90 % position radius [arcsec], systematic included.
    """

    source: Source
    ra: float
    dec: float
    err_r90_arcsec: float


def det_pixel_arcsec(teldef: Teldef) -> float:
    """Angular size of a DET pixel at the optical axis [arcsec]."""
    return float(np.sqrt(teldef.det_xscl * teldef.det_yscl) / teldef.focallen * ARCSEC_PER_RADIAN)


def exposure_attitude(  # noqa: PLR0917 (the columns of the attitude table, then the GTIs)
    att_time: Any,
    att_ra: Any,
    att_dec: Any,
    att_roll: Any,
    gti_start: Any,
    gti_stop: Any,
    *,
    step_s: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The attitude sampled over the good time intervals, with exposure weights.

    Parameters
    ----------
    att_time, att_ra, att_dec, att_roll : array_like
        Attitude table: ``TIME`` [s], ``RA``, ``DEC`` of the spacecraft +Z axis and ``ROLL``
        [deg] (docs/event_formats.md §2).
    gti_start, gti_stop : array_like
        Good time intervals [s].
    step_s : float
        Sampling step [s]; each GTI is cut in equal pieces of at most ``step_s``, sampled
        at their middle (:func:`~pipeline_bricks.mxt.gti.gti_steps`).

    Returns
    -------
    ra, dec, roll : numpy.ndarray
        Attitude [deg] at the samples covered by the attitude table.
    weights : numpy.ndarray
        Duration of each sample's piece [s].

    Raises
    ------
    ValueError
        No GTI time is covered by the attitude table, or ``step_s`` is not positive.
    """
    t, w = gti_steps(gti_start, gti_stop, step_s)
    if t.size == 0:
        raise ValueError("no good time interval")
    ra, dec, roll = interpolate_attitude(t, att_time, att_ra, att_dec, att_roll, outside="nan")
    covered = np.isfinite(ra)
    if not np.any(covered):
        raise ValueError("the attitude table does not cover the good time intervals")
    return ra[covered], dec[covered], roll[covered], w[covered]


def sky_sources(  # noqa: PLR0917 (the attitude triple reads best positionally)
    sources: Sequence[Source],
    teldef: Teldef,
    ra_pnt: Any,
    dec_pnt: Any,
    roll: Any,
    weights: Any = None,
) -> list[SkySource]:
    """RA, Dec [deg] and R90 [arcsec] of DET sources.

    Parameters
    ----------
    sources : sequence of Source
        Detections (:func:`.sources.detect_sources`).
    teldef : Teldef
        The TELDEF of the observation.
    ra_pnt, dec_pnt, roll : array_like
        Attitude [deg]: scalars, or samples (e.g. from :func:`exposure_attitude`).
    weights : array_like, optional
        Weight of each attitude sample (default equal).

    Returns
    -------
    list of SkySource
        In the order of ``sources``.
    """
    ra_p, dec_p, roll_p = (np.atleast_1d(np.asarray(v, float)) for v in (ra_pnt, dec_pnt, roll))
    ra_p, dec_p, roll_p = np.broadcast_arrays(ra_p, dec_p, roll_p)
    w = np.ones(ra_p.shape) if weights is None else np.asarray(weights, float)
    w = np.broadcast_to(w, ra_p.shape)
    scale = det_pixel_arcsec(teldef)
    out = []
    for source in sources:
        ra, dec = det_to_radec(source.detx, source.dety, teldef, ra_p, dec_p, roll_p)
        alpha, delta = np.radians(ra), np.radians(dec)
        mean = np.array(
            [
                w @ (np.cos(delta) * np.cos(alpha)),
                w @ (np.cos(delta) * np.sin(alpha)),
                w @ np.sin(delta),
            ]
        )
        ra_mean = float(np.degrees(np.arctan2(mean[1], mean[0])) % 360.0)
        ra_mean = 0.0 if ra_mean >= 360.0 else ra_mean
        dec_mean = float(np.degrees(np.arctan2(mean[2], np.hypot(mean[0], mean[1]))))
        out.append(SkySource(source, ra_mean, dec_mean, source.err_r90_det_px * scale))
    return out


_COLUMNS = (  # name, FITS format, unit, value
    ("RA", "D", "deg", lambda s: s.ra),
    ("DEC", "D", "deg", lambda s: s.dec),
    ("ERR_R90", "E", "arcsec", lambda s: s.err_r90_arcsec),
    ("COUNTS", "E", "count", lambda s: s.source.counts),
    ("COUNTS_ERR", "E", "count", lambda s: s.source.counts_err),
    ("RATE", "E", "count/s", lambda s: s.source.rate),
    ("RATE_ERR", "E", "count/s", lambda s: s.source.rate_err),
    ("DETML", "E", None, lambda s: s.source.detml),
    ("DETX", "E", "pixel", lambda s: s.source.detx),
    ("DETY", "E", "pixel", lambda s: s.source.dety),
)


def srclist_hdus(
    sources: Sequence[SkySource], header: Mapping[str, Any] | None = None
) -> fits.HDUList:
    """The source list file: an empty primary HDU and the ``SRCLIST`` table.

    Columns ``RA``, ``DEC`` [deg], ``ERR_R90`` [arcsec, 90 % radius], ``COUNTS``,
    ``COUNTS_ERR`` [counts over the whole PSF], ``RATE``, ``RATE_ERR`` [counts/s],
    ``DETML``, ``DETX``, ``DETY`` [DET pixel]; one row per source, in the given order.

    Parameters
    ----------
    sources : sequence of SkySource
        The sources (:func:`sky_sources`); may be empty.
    header : mapping, optional
        Keywords (``value`` or ``(value, comment)``) written in both HDUs, e.g. ``OBS_ID``,
        ``DATE-OBS``, ``CALFnnnn``.

    Returns
    -------
    astropy.io.fits.HDUList
        Ready to write.
    """
    columns = [
        fits.Column(
            name=name,
            format=fmt,
            unit=unit,
            array=np.array([value(s) for s in sources], dtype=float),
        )
        for name, fmt, unit, value in _COLUMNS
    ]
    table = fits.BinTableHDU.from_columns(columns, name="SRCLIST")
    primary = fits.PrimaryHDU()
    for hdu in (primary, table):
        hdu.header["TELESCOP"] = ("SVOM", "mission")
        hdu.header["INSTRUME"] = ("MXT", "instrument")
        for key, value in (header or {}).items():
            hdu.header[key] = value
    table.header["NSRC"] = (len(sources), "number of sources")
    return fits.HDUList([primary, table])
