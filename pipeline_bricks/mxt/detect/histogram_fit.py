"""Stage 1 of the MXT source detection: PSF fits of a binned DET image.

The events are binned in ``b x b`` DET pixels (``b = 4`` by default: 64 x 64 bins of 54 arcsec,
about a fifth of the 4.2 arcmin FWHM of the PSF core). Sources are then added one at a time,
each time where the current model (flat background + the sources found so far) fits the
image worst:

1. **Score map.** For a trial source at each bin centre ``t`` with the current model ``mu``
   fixed, the Cash statistic of adding ``N`` counts there has the slope
   ``S_t = sum_i n_i P_it / mu_i - f_t`` and curvature ``I_t = sum_i n_i P_it^2 / mu_i^2`` at
   ``N = 0`` (``P_it`` the PSF fraction of bin ``i``, ``f_t`` the PSF fraction on the live
   CCD). Both are correlations of images with the PSF (one FFT each); ``S_t^2 / I_t`` (for
   ``S_t > 0``) is the score statistic, a cheap stand-in for the likelihood ratio.
2. **Likelihood ratio.** At the ``n_peaks`` highest local maxima of the score map the exact
   ``TS = 2 max_N [sum_i n_i ln(1 + N P_it / mu_i) - N f_t]`` is computed (Newton's method
   from ``N = 0``, monotone because the slope is convex and decreasing in ``N``).
3. If the largest ``TS`` is at least ``ts_min``, a source is added there and all sources and
   the background are fitted together on the binned image (:class:`.cash.CashModel`:
   Poisson likelihood of positions, counts and a flat background). Otherwise, or after
   ``max_sources`` sources, the search stops.

Fitting before searching again makes the second of two close sources (5 arcmin
= 5.5 bins apart, 1.2 core FWHM) stand out in the score map of the residuals.

The trial positions extend beyond the CCD as far as the PSF reaches onto it (``reach // b``
bins on every side), as the fitted positions do (:class:`.cash.CashModel`): a bright source
just outside the field puts the edge of its core and its lobster-eye arms on the CCD, and is
then found where it is, not as sources on the CCD along its arms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline_bricks.mxt.detect.cash import BinnedEvents, CashModel, bin_events
from pipeline_bricks.mxt.detect.psf_model import PsfModel

__all__ = ["Candidate", "HistogramResult", "histogram_fit"]

_NEWTON_STEPS = 40
_MIN_ON_CCD = 1e-3  # least PSF fraction on the live CCD of a trial source


@dataclass(frozen=True)
class Candidate:
    """A source of stage 1.

    Attributes
    ----------
    detx, dety : float
        Fitted position [DET pixel, 1-based].
    counts : float
        Fitted source counts over the whole focal plane.
    ts : float
        Likelihood ratio ``TS`` (a ``Delta C``) with which it was added.
    """

    detx: float
    dety: float
    counts: float
    ts: float


@dataclass(frozen=True)
class HistogramResult:
    """Stage-1 sources and the flat background [counts per live DET pixel]."""

    candidates: list[Candidate]
    background: float


def _trial_kernel(model: CashModel, margin: int) -> np.ndarray:
    """The trial kernel ``Q``: PSF fraction in the bins around a source at a bin centre.

    ``Q[dI + n + margin - 1, dJ + m + margin - 1]`` is the fraction in bin ``t + (dI, dJ)``
    of a source at the centre of bin ``t`` (full bins, live or not), for trial bins ``t`` up
    to ``margin`` bins off the ``n x m`` CCD.
    """
    kernel, (n, m) = model.kernel, model.data.live_bins.shape
    b, half = kernel.binning, (kernel.binning - 1) / 2.0
    d_rows = b * np.arange(-(n + margin - 1), n + margin, dtype=float)[:, None] - half
    d_cols = b * np.arange(-(m + margin - 1), m + margin, dtype=float)[None, :] - half
    return kernel.fraction(d_rows, d_cols)[0]


def _correlate(image: np.ndarray, kernel: np.ndarray, margin: int) -> np.ndarray:
    """Correlation of a bin image with the trial kernel on the widened grid of trials.

    ``out[t + margin] = sum_i image[i] kernel[i - t + n + margin - 1]``, ``t`` from
    ``-margin`` to ``n - 1 + margin`` (the bin grid widened by ``margin`` on every side).
    """
    # scipy is imported where the fit runs: importing the detect package (mxt-products reads
    # its source list helpers) then costs no scipy.
    from scipy import fft as sp_fft  # noqa: PLC0415

    n, m = image.shape
    # The full convolution with the flipped kernel by real FFTs (scipy.signal.fftconvolve
    # does the same, but importing scipy.signal costs each brick process ~0.5 s).
    shape = (n + kernel.shape[0] - 1, m + kernel.shape[1] - 1)
    fast = [sp_fft.next_fast_len(size, real=True) for size in shape]
    spectrum = sp_fft.rfft2(image, fast) * sp_fft.rfft2(kernel[::-1, ::-1], fast)
    full = sp_fft.irfft2(spectrum, fast)
    return full[n - 1 : 2 * n - 1 + 2 * margin, m - 1 : 2 * m - 1 + 2 * margin]


def _likelihood_ratio(
    data: BinnedEvents, weight: np.ndarray, mu: np.ndarray, trial: np.ndarray, total: float
) -> tuple[float, float]:
    """``(TS, N)`` of one trial: ``trial`` = PSF fraction of the occupied bins."""
    ratio = weight * trial / mu
    n = data.counts
    amplitude = 0.0
    for _ in range(_NEWTON_STEPS):
        share = ratio / (1.0 + amplitude * ratio)
        slope = float(n @ share) - total
        curvature = float(n @ share**2)
        if slope <= 0.0 or curvature <= 0.0:
            break
        step = slope / curvature
        amplitude += step
        if step < 1e-6 * max(amplitude, 1.0):
            break
    ts = 2.0 * (float(n @ np.log1p(amplitude * ratio)) - amplitude * total)
    return max(ts, 0.0), amplitude


def _next_source(
    model: CashModel, trial_kernel: np.ndarray, mu: np.ndarray, n_peaks: int, margin: int
) -> tuple[float, float, float, float]:
    """Best new source given the model ``mu`` of the occupied bins: ``(TS, x, y, N)``.

    The trials are the bin centres of the CCD and of ``margin`` bins around it.
    """
    data = model.data
    b = data.binning
    shape = data.live_bins.shape
    row, col = (data.rows // b).astype(np.intp), (data.cols // b).astype(np.intp)
    weight = data.live_bins / b**2
    first, second = np.zeros(shape), np.zeros(shape)
    np.add.at(first, (row, col), data.counts * model.weight / mu)
    np.add.at(second, (row, col), data.counts * (model.weight / mu) ** 2)
    totals = _correlate(weight, trial_kernel, margin)
    slope = _correlate(first, trial_kernel, margin) - totals
    curvature = np.maximum(_correlate(second, trial_kernel**2, margin), 1e-300)
    # not on a dead bin, and off the CCD only where the PSF reaches it (FFT round-off is all
    # there is further out, and its ratios are noise)
    allowed = np.pad(weight > 0, margin, constant_values=True) & (totals > _MIN_ON_CCD)
    score = np.where((slope > 0) & allowed, slope**2 / curvature, 0.0)
    from scipy.ndimage import maximum_filter  # noqa: PLC0415 (as in _correlate)

    peaks = (score == maximum_filter(score, size=3, mode="constant")) & (score > 0)
    order = np.argsort(score[peaks])[::-1][:n_peaks]
    best = (0.0, 0.0, 0.0, 0.0)
    n, m = shape
    for flat in np.flatnonzero(peaks)[order]:
        t_row, t_col = divmod(int(flat), m + 2 * margin)
        trial = trial_kernel[row - t_row + n + 2 * margin - 1, col - t_col + m + 2 * margin - 1]
        ts, amplitude = _likelihood_ratio(data, model.weight, mu, trial, totals[t_row, t_col])
        if ts > best[0]:
            centre = (b - 1) / 2.0
            best = (ts, b * (t_col - margin) + centre, b * (t_row - margin) + centre, amplitude)
    return best


def histogram_fit(
    detx: np.ndarray,
    dety: np.ndarray,
    live_mask: np.ndarray,
    psf: PsfModel,
    *,
    binning: int = 4,
    ts_min: float = 8.0,
    max_sources: int = 10,
    n_peaks: int = 5,
) -> HistogramResult:
    """Initial sources and background from a binned DET image (stage 1).

    Parameters
    ----------
    detx, dety : numpy.ndarray
        Event positions [DET pixel, 1-based], finite, on live pixels of ``live_mask``.
    live_mask : numpy.ndarray
        Bool ``[DETY - 1, DETX - 1]``; its dimensions must be multiples of ``binning``.
    psf : PsfModel
        The PSF.
    binning : int
        Bin size [DET pixel].
    ts_min : float
        Smallest likelihood ratio ``TS`` (``Delta C``, one free amplitude at a fixed trial
        position) of a new source.
    max_sources : int
        Most sources kept.
    n_peaks : int
        Score-map maxima tested with the exact likelihood ratio at each step.

    Returns
    -------
    HistogramResult
        Sources by decreasing ``TS`` of discovery and the background [counts per live DET
        pixel].
    """
    mask = np.asarray(live_mask, bool)
    if mask.shape[0] % binning or mask.shape[1] % binning:
        raise ValueError(f"the CCD shape {mask.shape} is not a multiple of the binning")
    data = bin_events(np.asarray(detx, float) - 1.0, np.asarray(dety, float) - 1.0, mask, binning)
    model = CashModel(data, psf)
    margin = psf.reach // binning  # trial bins off the CCD (inside the fit's bounds)
    trial_kernel = _trial_kernel(model, margin)
    positions = np.empty((0, 2))
    amplitudes = np.array([data.counts.sum() / max(data.live_total, 1.0)])
    found: list[float] = []
    while positions.shape[0] < max_sources:
        design = model.columns(positions)[0]
        ts, x, y, amplitude = _next_source(
            model, trial_kernel, design @ amplitudes, n_peaks, margin
        )
        if ts < ts_min:
            break
        fit = model.fit(
            np.vstack([positions, [x, y]]),
            np.concatenate([amplitudes[:-1], [amplitude], amplitudes[-1:]]),
        )
        positions, amplitudes = fit.positions, fit.amplitudes
        found.append(ts)
    candidates = [
        Candidate(float(p[0] + 1.0), float(p[1] + 1.0), float(a), ts)
        for p, a, ts in zip(positions, amplitudes[:-1], found, strict=True)
    ]
    return HistogramResult(candidates, float(amplitudes[-1]))
