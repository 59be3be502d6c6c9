"""The MXT SKY frame: the tangent-plane WCS about the nominal pointing, and its use.

SKY X/Y are the FITS TAN projection about (RA_NOM, DEC_NOM) with pixels of ``SKY_XSCL``
arcsec, ``CDELT1 = -SKY_XSCL/3600`` deg (docs/calibration_formats.md §2.1 step 6); event
lists carry it as the ``TCTYPn/TCRPXn/TCRVLn/TCDLTn`` keywords of their X and Y columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy.coordinates import angular_separation
from astropy.io import fits
from astropy.wcs import WCS

from pipeline_bricks.mxt.coordinates import Teldef

__all__ = [
    "event_sky_wcs",
    "radec_to_sky",
    "separation_arcsec",
    "sky_column_keywords",
    "sky_to_radec",
    "sky_wcs",
]


def sky_wcs(teldef: Teldef, ra_nom: float, dec_nom: float) -> WCS:
    """The SKY tangent-plane WCS about the nominal pointing ``RA_NOM``, ``DEC_NOM`` [deg].

    ``RA---TAN``/``DEC--TAN``, ``CRPIX = (SKY_XCEN, SKY_YCEN)``, ``CRVAL = (ra_nom,
    dec_nom)``, ``CDELT = (-SKY_XSCL/3600, +SKY_YSCL/3600)`` deg, FK5 J2000 (step 6).
    """
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crpix = [teldef.sky_xcen, teldef.sky_ycen]
    wcs.wcs.crval = [float(ra_nom), float(dec_nom)]
    wcs.wcs.cdelt = [-teldef.sky_xscl / 3600.0, teldef.sky_yscl / 3600.0]
    wcs.wcs.radesys = "FK5"
    wcs.wcs.equinox = 2000.0
    wcs.wcs.set()
    return wcs


def _plain_tan(wcs: WCS) -> bool:
    """``wcs`` is the plain RA/Dec TAN of :func:`sky_wcs` (no rotation, no distortion)."""
    w = wcs.wcs
    return (
        wcs.naxis == 2
        and list(w.ctype) == ["RA---TAN", "DEC--TAN"]
        and [str(unit) for unit in w.cunit] == ["deg", "deg"]
        and not w.has_cd()
        and np.array_equal(w.get_pc(), np.eye(2))
        and w.lonpole == 180.0
        and abs(w.crval[1]) < 90.0
        and len(w.get_pv()) == 0
        and wcs.sip is None
        and all(d is None for d in (wcs.cpdis1, wcs.cpdis2, wcs.det2im1, wcs.det2im2))
    )


def radec_to_sky(ra: Any, dec: Any, wcs: WCS) -> tuple[np.ndarray, np.ndarray]:
    """RA, Dec [deg] -> SKY X, Y [pixel, FITS 1-based: pixel k spans k - 0.5 .. k + 0.5].

    The plain TAN of :func:`sky_wcs` is projected here with numpy (the gnomonic equations,
    equal to WCSLIB to far below 1e-6 pixel, several times faster); any other WCS goes
    through astropy. Directions 90 deg or more from the tangent point are NaN, as WCSLIB
    has them.
    """
    if not _plain_tan(wcs):
        x, y = wcs.wcs_world2pix(np.asarray(ra, float), np.asarray(dec, float), 1)
        return np.asarray(x, float), np.asarray(y, float)
    ra, dec = np.broadcast_arrays(np.asarray(ra, float), np.asarray(dec, float))
    shape, ra, dec = ra.shape, ra.ravel(), dec.ravel()
    (x0, y0), (scale_x, scale_y) = wcs.wcs.crpix, np.degrees(1.0) / wcs.wcs.cdelt
    alpha0, delta0 = np.radians(wcs.wcs.crval)
    c0, s0 = np.cos(delta0), np.sin(delta0)
    delta, d_alpha = np.radians(dec), np.radians(ra) - alpha0
    cd, sd, ca = np.cos(delta), np.sin(delta), np.cos(d_alpha)
    cos_c = s0 * sd + c0 * cd * ca  # cosine of the distance to the tangent point
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(cos_c > 0.0, 1.0 / cos_c, np.nan)
    x = x0 + scale_x * (cd * np.sin(d_alpha) * inverse)
    y = y0 + scale_y * ((c0 * sd - s0 * cd * ca) * inverse)
    return x.reshape(shape), y.reshape(shape)


def sky_to_radec(x: Any, y: Any, wcs: WCS) -> tuple[np.ndarray, np.ndarray]:
    """SKY X, Y [pixel, 1-based] -> RA, Dec [deg] (inverse of :func:`radec_to_sky`)."""
    ra, dec = wcs.wcs_pix2world(np.asarray(x, float), np.asarray(y, float), 1)
    return np.asarray(ra, float), np.asarray(dec, float)


def sky_column_keywords(
    wcs: WCS, x_column: int, y_column: int, sky_size: tuple[int, int] | None = None
) -> dict[str, str | float | int]:
    """Event-column WCS keywords of the X and Y columns (OGIP/Swift convention).

    ``TCTYPn``, ``TCRPXn``, ``TCRVLn``, ``TCDLTn`` [deg] and ``TCUNIn`` of the SKY ``wcs``
    (:func:`sky_wcs`) for n = ``x_column``, ``y_column`` (1-based column numbers in the
    EVENTS table); with ``sky_size = (SKY_XSIZ, SKY_YSIZ)`` also ``TLMINn = 1``, ``TLMAXn``.
    """
    keywords: dict[str, str | float | int] = {}
    for axis, column in enumerate((x_column, y_column)):
        keywords[f"TCTYP{column}"] = str(wcs.wcs.ctype[axis])
        keywords[f"TCRPX{column}"] = float(wcs.wcs.crpix[axis])
        keywords[f"TCRVL{column}"] = float(wcs.wcs.crval[axis])
        keywords[f"TCDLT{column}"] = float(wcs.wcs.cdelt[axis])
        keywords[f"TCUNI{column}"] = "deg"
        if sky_size is not None:
            keywords[f"TLMIN{column}"] = 1
            keywords[f"TLMAX{column}"] = int(sky_size[axis])
    return keywords


def event_sky_wcs(header: fits.Header, x_name: str = "X", y_name: str = "Y") -> WCS:
    """The SKY WCS of an event list from the ``TCTYPn/TCRPXn/TCRVLn/TCDLTn`` of X and Y.

    Raises
    ------
    ValueError
        The header has no such columns or lacks one of their WCS keywords.
    """
    numbers = {
        str(header[key]).strip().upper(): int(key[5:])
        for key in header
        if key.startswith("TTYPE") and key[5:].isdigit()
    }
    wcs = WCS(naxis=2)
    values: dict[str, list[Any]] = {"TCTYP": [], "TCRPX": [], "TCRVL": [], "TCDLT": []}
    for name in (x_name, y_name):
        if name.upper() not in numbers:
            raise ValueError(f"the event list has no {name} column")
        for prefix, found in values.items():
            key = f"{prefix}{numbers[name.upper()]}"
            if key not in header:
                raise ValueError(f"the event list has no {key} keyword (WCS of {name})")
            found.append(header[key])
    wcs.wcs.ctype = [str(v) for v in values["TCTYP"]]
    wcs.wcs.crpix = [float(v) for v in values["TCRPX"]]
    wcs.wcs.crval = [float(v) for v in values["TCRVL"]]
    wcs.wcs.cdelt = [float(v) for v in values["TCDLT"]]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.radesys = "FK5"
    wcs.wcs.equinox = 2000.0
    wcs.wcs.set()
    return wcs


def separation_arcsec(ra1: Any, dec1: Any, ra2: Any, dec2: Any) -> Any:
    """Angle between directions ``(ra1, dec1)`` and ``(ra2, dec2)`` [deg in, arcsec out].

    astropy's Vincenty formula: exact at every angle (not only small ones). A float for
    scalar inputs, else an array.
    """
    radians = (np.radians(np.asarray(v, dtype=np.float64)) for v in (ra1, dec1, ra2, dec2))
    angle = np.degrees(np.asarray(angular_separation(*radians))) * 3600.0
    return float(angle) if angle.ndim == 0 else angle
