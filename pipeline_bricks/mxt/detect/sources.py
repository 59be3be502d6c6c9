"""MXT source detection in DET coordinates: both stages in one call.

:func:`detect_sources` runs stage 1 (:mod:`.histogram_fit`: PSF fits of a 4 x 4-binned DET
image, sources added where the residuals are most significant) and stage 2
(:mod:`.likelihood`: Cash maximum likelihood of all sources and the background on the DET
pixels, ``DETML``, counts errors and 90 % radii from ``Delta C``). Sources may be fitted off
the CCD, as far as the PSF reaches onto it, so that a bright source just outside the field is
modelled rather than mistaken for broad sources on the CCD; they are not listed. The DET frame
is used because the lobster-eye PSF is the same everywhere in it, its arms along the DET axes;
the attitude jitter (~2″) is negligible against the 13.45″ pixels. :mod:`.srclist` turns the
result into RA, Dec and the ``SRCLIST`` FITS table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline_bricks.mxt.caldata import Psf
from pipeline_bricks.mxt.detect.histogram_fit import Candidate, histogram_fit
from pipeline_bricks.mxt.detect.likelihood import ml_fit
from pipeline_bricks.mxt.detect.psf_model import PsfModel

__all__ = ["DetectParams", "Detection", "Source", "detect", "detect_sources"]


@dataclass(frozen=True)
class DetectParams:
    """Parameters of the detection.

    Attributes
    ----------
    binning : int
        Stage-1 bin size [DET pixel]; must divide the CCD size.
    candidate_ts : float
        Stage 1: smallest likelihood ratio ``Delta C`` (one amplitude at a fixed trial
        position) for a new candidate.
    max_sources : int
        Most candidates of stage 1.
    n_peaks : int
        Stage 1: score-map maxima tested with the exact likelihood ratio at each step.
    detml_min : float
        Stage 2: sources whose ``DETML`` (``-ln P``, 3 free parameters) is smaller are
        dropped. With the defaults, 0.5 % of source-free nominal exposures (200 background
        counts on the CCD) give a detection, and a source of 40 counts is found 95 % of
        the time.
    n_directions : int
        Rays along which the ``Delta C = 4.605`` contour is found.
    systematic_r90_px : float
        Systematic 90 % radius [DET pixel] added in quadrature to the statistical one.
    max_r90_px : float
        Largest statistical radius searched [DET pixel].
    """

    binning: int = 4
    candidate_ts: float = 8.0
    max_sources: int = 10
    n_peaks: int = 5
    detml_min: float = 8.0
    n_directions: int = 8
    systematic_r90_px: float = 0.0
    max_r90_px: float = 64.0


@dataclass(frozen=True)
class Source:
    """A detected source.

    Attributes
    ----------
    detx, dety : float
        Position [DET pixel, 1-based, continuous].
    err_r90_det_px : float
        90 % position radius [DET pixel], systematic included.
    counts, counts_err : float
        Source counts over the whole focal plane -- the detected counts divided by the
        fraction of the PSF on live pixels -- and their 1-sigma error.
    rate, rate_err : float
        ``counts / exposure`` and its error [counts/s].
    detml : float
        Detection likelihood ``-ln P`` (:func:`.likelihood.detection_likelihood`).
    live_fraction : float
        Fraction of the PSF on the live pixels of the CCD.
    """

    detx: float
    dety: float
    err_r90_det_px: float
    counts: float
    counts_err: float
    rate: float
    detml: float
    rate_err: float = 0.0
    live_fraction: float = 1.0


@dataclass(frozen=True)
class Detection:
    """Everything :func:`detect` found.

    Attributes
    ----------
    sources : list of Source
        By decreasing ``DETML``.
    background, background_err : float
        Flat background [counts per live DET pixel] and its 1-sigma error.
    background_rate : float
        Background [counts/s per live DET pixel].
    candidates : list of Candidate
        Stage-1 sources.
    n_events, n_dropped : int
        Events used, and events dropped because they are not on a live pixel.
    n_outside : int
        Sources fitted off the CCD (a bright source just outside the field whose PSF falls
        on it): part of the model, not in ``sources``.
    """

    sources: list[Source]
    background: float
    background_err: float
    background_rate: float
    candidates: list[Candidate] = field(default_factory=list)
    n_events: int = 0
    n_dropped: int = 0
    n_outside: int = 0


def _checked(
    detx: Any, dety: Any, live_mask: Any, exposure_s: float, params: DetectParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``detx``, ``dety``, mask, and the bool 'on a live pixel' of each event."""
    x, y = np.asarray(detx, dtype=float), np.asarray(dety, dtype=float)
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ValueError("detx and dety must be 1-d arrays of the same length")
    if x.size == 0:
        raise ValueError("there is no event")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("detx and dety must be finite")
    mask = np.asarray(live_mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError("live_mask must be a 2-d bool array [DETY - 1, DETX - 1]")
    if mask.shape[0] % params.binning or mask.shape[1] % params.binning:
        raise ValueError(f"the CCD shape {mask.shape} is not a multiple of {params.binning}")
    if not np.any(mask):
        raise ValueError("live_mask has no live pixel")
    if not (np.isfinite(exposure_s) and exposure_s > 0):
        raise ValueError("exposure_s must be positive")
    column, row = np.floor(x - 0.5).astype(np.int64), np.floor(y - 0.5).astype(np.int64)
    if np.any((column < 0) | (row < 0) | (column >= mask.shape[1]) | (row >= mask.shape[0])):
        raise ValueError("events outside the CCD (DETX, DETY must be in 0.5 .. size + 0.5)")
    return x, y, mask, mask[row, column]


def detect(
    detx: Any,
    dety: Any,
    live_mask: Any,
    psf: Psf | PsfModel,
    exposure_s: float,
    *,
    params: DetectParams | None = None,
) -> Detection:
    """Detect the point sources of an MXT event list (both stages).

    Parameters
    ----------
    detx, dety : array_like
        Event positions [DET pixel, 1-based continuous, 0.5 .. 256.5] of the screened list.
    live_mask : numpy.ndarray
        Bool ``[DETY - 1, DETX - 1]``: pixels that collect events (not bad). Events on other
        pixels are dropped.
    psf : Psf or PsfModel
        The PSF (a :class:`PsfModel` can be reused between calls: it caches its maps).
    exposure_s : float
        Exposure of the events [s].
    params : DetectParams, optional
        Detection parameters.

    Returns
    -------
    Detection
        The sources on the CCD and the background.

    Raises
    ------
    ValueError
        No event, non-finite or mismatched coordinates, events off the CCD, a mask that is
        not a bool 2-d array with a live pixel, a non-positive exposure.
    """
    params = params or DetectParams()
    x, y, mask, live = _checked(detx, dety, live_mask, exposure_s, params)
    if not np.any(live):
        raise ValueError("no event falls on a live pixel")
    x, y = x[live], y[live]
    model = psf if isinstance(psf, PsfModel) else PsfModel.from_psf(psf)
    stage1 = histogram_fit(
        x,
        y,
        mask,
        model,
        binning=params.binning,
        ts_min=params.candidate_ts,
        max_sources=params.max_sources,
        n_peaks=params.n_peaks,
    )
    stage2 = ml_fit(
        x,
        y,
        mask,
        model,
        [(c.detx, c.dety, c.counts) for c in stage1.candidates],
        stage1.background,
        detml_min=params.detml_min,
        n_directions=params.n_directions,
        systematic_r90=params.systematic_r90_px,
        max_r90=params.max_r90_px,
    )
    sources = [
        Source(
            detx=s.detx,
            dety=s.dety,
            err_r90_det_px=s.err_r90,
            counts=s.counts,
            counts_err=s.counts_err,
            rate=s.counts / exposure_s,
            detml=s.detml,
            rate_err=s.counts_err / exposure_s,
            live_fraction=s.live_fraction,
        )
        for s in stage2.sources
    ]
    return Detection(
        sources,
        stage2.background,
        stage2.background_err,
        stage2.background / exposure_s,
        stage1.candidates,
        int(x.size),
        int(live.size - x.size),
        stage2.n_outside,
    )


def detect_sources(
    detx: Any,
    dety: Any,
    live_mask: Any,
    psf: Psf | PsfModel,
    exposure_s: float,
    *,
    params: DetectParams | None = None,
) -> list[Source]:
    """The sources of :func:`detect` (by decreasing ``DETML``); same arguments."""
    return detect(detx, dety, live_mask, psf, exposure_s, params=params).sources
