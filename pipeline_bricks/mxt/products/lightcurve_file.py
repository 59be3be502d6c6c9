"""OGIP light-curve file (OGIP/93-003): ``RATE`` table, ``GTI`` and ``GAPS`` extensions.

The bins are not equispaced (constant S/N, Bayesian blocks), so the bin width is a
``TIMEDEL`` column and ``TIME`` is the bin centre (``TIMEPIXR = 0.5``). Rates are
background subtracted (``HDUCLAS2 = 'NET'``, ``BACKAPP = T``) when a background was given,
``'TOTAL'`` otherwise; neither vignetting nor the PSF fraction is corrected (``VIGNAPP =
F``): the rates are counts per second in the source region.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from astropy.io import fits

from pipeline_bricks.mxt.products._common import (
    INSTRUME,
    TELESCOP,
    Card,
    HeaderExtras,
    checked_gti,
    primary_hdu,
    reserved_keywords,
    table_hdu,
)
from pipeline_bricks.mxt.products.gaps import CAUSES, Gap
from pipeline_bricks.mxt.products.lightcurve import LightCurveBins

__all__ = ["write_lightcurve_hdus"]


def _time_keywords(extras: HeaderExtras) -> None:
    keys = set() if extras is None else {str(k).upper() for k in extras}
    if "TIMESYS" not in keys or not ({"MJDREF"} <= keys or {"MJDREFI", "MJDREFF"} <= keys):
        raise ValueError(
            "header_extras must give the time system: TIMESYS and MJDREF (or MJDREFI and MJDREFF)"
        )


def write_lightcurve_hdus(
    bins: LightCurveBins,
    gti: tuple[Any, Any],
    gaps: Sequence[Gap],
    *,
    header_extras: HeaderExtras,
) -> fits.HDUList:
    """OGIP rate table of ``bins`` with the GTIs and the gaps.

    Parameters
    ----------
    bins : LightCurveBins
        Constant-S/N bins or Bayesian blocks (``lightcurve``).
    gti : tuple of array_like
        ``(starts, stops)`` [s] the light curve was made from.
    gaps : sequence of Gap
        ``gaps.find_gaps`` output (``(start, stop, cause)``); may be empty.
    header_extras : mapping or astropy.io.fits.Header
        Keywords for every HDU; must hold ``TIMESYS`` and ``MJDREF`` (or ``MJDREFI`` and
        ``MJDREFF``); also OBS_ID, OBJECT, RA/DEC of the source, energy band, binning
        method (e.g. ``BINNING``, ``SNRTARG``)... but none of the keywords written here.

    Returns
    -------
    astropy.io.fits.HDUList
        Primary, ``RATE`` (TIME, TIMEDEL, RATE, ERROR, FRACEXP, COUNTS, BACKV, BACKE;
        ``HDUCLAS1 = 'LIGHTCURVE'``), ``GTI`` (START, STOP), ``GAPS`` (START, STOP, CAUSE).

    Raises
    ------
    ValueError
        Missing time keywords, a reserved keyword in the extras, empty GTIs, a bin outside
        the GTIs, or a gap with an unknown cause or ``stop <= start``.
    """
    _time_keywords(header_extras)
    start, stop = checked_gti(gti)
    edge = np.searchsorted(start, bins.start, side="right") - 1
    if np.any(edge < 0) or np.any(bins.stop > stop[np.clip(edge, 0, None)]):
        raise ValueError("every light-curve bin must lie inside one GTI")
    gap_start = np.array([g[0] for g in gaps], dtype=np.float64)
    gap_stop = np.array([g[1] for g in gaps], dtype=np.float64)
    causes = [str(g[2]) for g in gaps]
    if any(c not in CAUSES for c in causes) or np.any(gap_stop <= gap_start):
        raise ValueError(f"gaps must have stop > start and a cause among {CAUSES}")
    # A background estimated at 0 (a fluctuation) was still subtracted: its error says so.
    net = bool(np.any(bins.background > 0) or np.any(bins.background_error > 0))
    ontime = float(np.sum(stop - start))
    common: list[Card] = [
        ("TELESCOP", TELESCOP, "mission"),
        ("INSTRUME", INSTRUME, "instrument"),
        ("TIMEUNIT", "s", "unit of the times"),
        ("TIMEZERO", 0.0, "[s] time offset"),
        ("TSTART", float(start[0]), "[s] start of the first GTI"),
        ("TSTOP", float(stop[-1]), "[s] end of the last GTI"),
        ("HDUCLASS", "OGIP", "format conforms to OGIP standards"),
    ]
    rate_cards: list[Card] = [
        *common,
        ("TIMEPIXR", 0.5, "TIME is the bin centre"),
        ("TELAPSE", float(stop[-1] - start[0]), "[s] TSTOP - TSTART"),
        ("ONTIME", ontime, "[s] sum of the GTIs"),
        ("EXPOSURE", float(np.sum(bins.exposure)), "[s] sum of the bin exposures"),
        ("BACKAPP", net, "background subtracted"),
        ("DEADAPP", False, "no dead-time correction (frame store CCD)"),
        ("VIGNAPP", False, "no vignetting or PSF correction: region rates"),
        ("HDUCLAS1", "LIGHTCURVE", "light curve"),
        ("HDUCLAS2", "NET" if net else "TOTAL", "background subtracted or not"),
        ("HDUCLAS3", "RATE", "rates, not counts"),
        ("HDUVERS", "1.1.0", "OGIP/93-003 version"),
    ]
    rate_columns = [
        fits.Column(name="TIME", format="D", unit="s", array=bins.time),
        fits.Column(name="TIMEDEL", format="D", unit="s", array=bins.timedel),
        fits.Column(name="RATE", format="E", unit="count/s", array=bins.rate),
        fits.Column(name="ERROR", format="E", unit="count/s", array=bins.error_hi),
        fits.Column(name="FRACEXP", format="E", array=bins.fracexp),
        fits.Column(name="COUNTS", format="J", unit="count", array=bins.counts),
        fits.Column(name="BACKV", format="E", unit="count/s", array=bins.backv),
        fits.Column(name="BACKE", format="E", unit="count/s", array=bins.backe),
    ]
    gti_cards: list[Card] = [
        *common,
        ("ONTIME", ontime, "[s] sum of the GTIs"),
        ("HDUCLAS1", "GTI", "good time intervals"),
        ("HDUCLAS2", "STANDARD", "standard GTIs"),
    ]
    gti_columns = [
        fits.Column(name="START", format="D", unit="s", array=start),
        fits.Column(name="STOP", format="D", unit="s", array=stop),
    ]
    gap_cards: list[Card] = [*common, ("COMMENT", f"CAUSE is one of: {', '.join(CAUSES)}", "")]
    gap_columns = [
        fits.Column(name="START", format="D", unit="s", array=gap_start),
        fits.Column(name="STOP", format="D", unit="s", array=gap_stop),
        fits.Column(name="CAUSE", format="16A", array=np.array(causes, dtype="U16")),
    ]
    reserved = reserved_keywords(rate_cards) | reserved_keywords(gti_cards)
    return fits.HDUList(
        [
            primary_hdu(header_extras, reserved),
            table_hdu(rate_columns, "RATE", rate_cards, header_extras),
            table_hdu(gti_columns, "GTI", gti_cards, header_extras),
            table_hdu(gap_columns, "GAPS", gap_cards, header_extras),
        ]
    )
