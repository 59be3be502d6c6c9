"""Stage 2 of the MXT source detection: maximum likelihood of all sources together.

The events are binned in single DET pixels -- the CCD's own resolution: the continuous
``DETX``, ``DETY`` of the event list are the RAW pixel plus a uniform random offset, which
carries no information -- and the Cash statistic ``C = 2 sum (mu - n ln mu)`` of the model
``mu = B L + sum_k N_k PSF(pixel - p_k)`` (:mod:`.cash`, exact PSF fraction per pixel, the
PSF on dead pixels and off the CCD accounted for) is minimised over every position, every
source's counts and the background at once, from the stage-1 values.

Derived quantities (all profile likelihoods: the amplitudes -- every ``N`` and ``B`` -- are
re-fitted wherever ``C`` is evaluated; the other sources' positions stay at their best fit):

* ``DETML``: with ``Delta C_k`` = ``C`` without source ``k`` minus ``C`` with it, ``DETML =
  -ln Q(nu/2, Delta C_k/2)`` with ``nu = 3`` free parameters of a source (x, y, counts) and
  ``Q`` the regularised upper incomplete gamma function: minus the log of the chance
  probability of such a ``Delta C`` under Wilks' theorem, the ``DET_ML`` of XMM-Newton's
  emldetect and eROSITA's ermldet (for ``nu = 2`` it would be exactly ``Delta C / 2``). Sources
  below ``detml_min`` are dropped one at a time (the weakest first) and the rest refitted.
  ``P`` is the chance probability at one position: the search over the whole CCD makes
  larger values occur by chance (on simulated source-free nominal exposures the largest
  ``DETML`` of a field exceeds 7 in about 1 % of them), hence the default threshold of 8.
* ``COUNTS_ERR``: from the curvature of ``C`` in the amplitudes at the best fit
  (``sigma^2 = [(1/2) d2C/da2]^-1``, positions fixed; by the PSF's symmetry the counts and the
  position are nearly uncorrelated).
* ``ERR_R90``: the 90 % region of the position is ``Delta C <= 4.605`` (chi-square, 2 degrees
  of freedom). Its boundary is found along ``n_directions`` rays from the best fit (root of
  ``Delta C(r) - 4.605`` by Brent's method after doubling steps), which follows the
  non-Gaussian shape the lobster-eye PSF can give, and ``R90`` is the radius of the circle of
  the same area, ``sqrt(mean r^2)`` (the region is nearly round: the PSF has the symmetry of a
  square, which makes the position's information matrix isotropic). A systematic radius is
  added in quadrature.
* Sources off the CCD: a position may lie beyond the CCD's edge, as far as the PSF reaches
  onto it (:class:`.cash.CashModel`). Such a source -- a bright one just outside the field,
  whose core edge and lobster-eye arms fall on the CCD -- stays in the model, so that its
  photons are not taken for sources on the CCD (fitting it at the edge, as when positions
  were bounded by the CCD, left its arms to be fitted by spurious broad sources along them),
  but it is not in the field of view and is not listed (``MlResult.n_outside``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline_bricks.mxt.detect.cash import CashModel, FitResult, bin_events
from pipeline_bricks.mxt.detect.psf_model import PsfModel

__all__ = ["DELTA_C_90", "MlResult", "MlSource", "detection_likelihood", "ml_fit"]

DELTA_C_90 = 4.605170185988092  # chi-square quantile 0.90 for 2 degrees of freedom


@dataclass(frozen=True)
class MlSource:
    """A source of stage 2.

    Attributes
    ----------
    detx, dety : float
        Position [DET pixel, 1-based].
    counts, counts_err : float
        Source counts over the whole focal plane (corrected for the PSF off the CCD and on
        dead pixels) and their 1-sigma error.
    detml : float
        Detection likelihood ``-ln P`` (see the module notes).
    delta_c : float
        ``C`` without the source minus ``C`` with it.
    err_r90 : float
        90 % position radius [DET pixel], systematic included.
    live_fraction : float
        Fraction of the PSF on live pixels of the CCD.
    """

    detx: float
    dety: float
    counts: float
    counts_err: float
    detml: float
    delta_c: float
    err_r90: float
    live_fraction: float


@dataclass(frozen=True)
class MlResult:
    """Result of stage 2.

    Attributes
    ----------
    sources : list of MlSource
        Sources on the CCD, by decreasing ``DETML``.
    background, background_err : float
        Flat background [counts per live DET pixel] and its 1-sigma error.
    cstat : float
        The minimum ``C``.
    n_outside : int
        Sources kept in the model (``DETML`` above the threshold) but fitted off the CCD:
        not listed.
    """

    sources: list[MlSource]
    background: float
    background_err: float
    cstat: float
    n_outside: int = 0


def detection_likelihood(delta_c: float, n_free: int = 3) -> float:
    """``-ln Q(n_free/2, Delta C/2)``: ``DET_ML`` of a likelihood-ratio ``Delta C``.

    Parameters
    ----------
    delta_c : float
        ``C`` without the source minus ``C`` with it (0 or less gives 0).
    n_free : int
        Free parameters of a source.

    Returns
    -------
    float
        The detection likelihood (asymptotic expansion where ``Q`` underflows).
    """
    # Deferred, as scipy.optimize below: importing the detect package costs no scipy.
    from scipy.special import gammaincc, gammaln  # noqa: PLC0415

    x, a = 0.5 * max(float(delta_c), 0.0), 0.5 * n_free
    q = float(gammaincc(a, x))
    if q > 1e-280:
        return float(-np.log(q))
    series = 1.0 + (a - 1.0) / x + (a - 1.0) * (a - 2.0) / x**2
    return float(x - (a - 1.0) * np.log(x) + gammaln(a) - np.log(series))


def _without(fit: FitResult, k: int) -> tuple[np.ndarray, np.ndarray]:
    keep = np.arange(fit.positions.shape[0]) != k
    return fit.positions[keep], np.append(fit.amplitudes[:-1][keep], fit.amplitudes[-1])


def _delta_c(model: CashModel, fit: FitResult) -> np.ndarray:
    """``C`` without each source (amplitudes refitted) minus the best ``C``."""
    out = np.empty(fit.positions.shape[0])
    for k in range(out.size):
        positions, start = _without(fit, k)
        out[k] = model.profile(positions, start)[0] - fit.cstat
    return out


def _r90(model: CashModel, fit: FitResult, k: int, n_directions: int, max_radius: float) -> float:
    """Radius [pixel] of the circle with the area of the ``Delta C <= 4.605`` region."""
    # scipy.optimize costs ~0.3 s to import: paid only when a source is localised.
    from scipy.optimize import brentq  # noqa: PLC0415

    x_lo, x_hi, y_lo, y_hi = model.bounds
    centre = fit.positions[k].copy()
    state = {"a": fit.amplitudes.copy()}

    def excess(radius: float, direction: np.ndarray) -> float:
        positions = fit.positions.copy()
        positions[k] = centre + radius * direction
        value, amplitudes = model.profile(positions, state["a"])
        state["a"] = amplitudes
        return value - fit.cstat - DELTA_C_90

    radii = []
    for angle in 2.0 * np.pi * (np.arange(n_directions) + 0.5) / n_directions:
        direction = np.array([np.cos(angle), np.sin(angle)])
        with np.errstate(divide="ignore"):  # distance to the CCD edge along the ray
            reach = [
                (x_hi - centre[0]) / direction[0] if direction[0] > 0 else np.inf,
                (x_lo - centre[0]) / direction[0] if direction[0] < 0 else np.inf,
                (y_hi - centre[1]) / direction[1] if direction[1] > 0 else np.inf,
                (y_lo - centre[1]) / direction[1] if direction[1] < 0 else np.inf,
            ]
        limit = min(max_radius, *reach)
        inner, outer = 0.0, min(0.5, limit)
        state["a"] = fit.amplitudes.copy()
        value = excess(outer, direction)
        while value < 0.0 and outer < limit:
            inner, outer = outer, min(2.0 * outer, limit)
            value = excess(outer, direction)
        if value < 0.0:  # the region reaches the limit
            radii.append(limit)
            continue
        radii.append(brentq(excess, inner, outer, args=(direction,), xtol=1e-3, rtol=1e-6))
    return float(np.sqrt(np.mean(np.square(radii))))


def ml_fit(  # noqa: PLR0917 (events, mask, PSF and starting values, as in stage 1)
    detx: np.ndarray,
    dety: np.ndarray,
    live_mask: np.ndarray,
    psf: PsfModel,
    starts: Sequence[tuple[float, float, float]],
    background: float,
    *,
    detml_min: float = 8.0,
    n_directions: int = 8,
    systematic_r90: float = 0.0,
    max_r90: float = 64.0,
) -> MlResult:
    """Maximum-likelihood fit of all sources together on the DET pixels (stage 2).

    Parameters
    ----------
    detx, dety : numpy.ndarray
        Event positions [DET pixel, 1-based], finite, on live pixels of ``live_mask``.
    live_mask : numpy.ndarray
        Bool ``[DETY - 1, DETX - 1]``.
    psf : PsfModel
        The PSF.
    starts : sequence of (float, float, float)
        Starting ``(detx, dety, counts)`` of the sources (stage 1).
    background : float
        Starting background [counts per live DET pixel].
    detml_min : float
        Sources with a smaller ``DETML`` are dropped.
    n_directions : int
        Rays along which the 90 % contour is found.
    systematic_r90 : float
        Systematic 90 % radius [DET pixel] added in quadrature.
    max_r90 : float
        Largest statistical radius searched [DET pixel].

    Returns
    -------
    MlResult
        The sources kept on the CCD and the background.
    """
    mask = np.asarray(live_mask, bool)
    data = bin_events(np.asarray(detx, float) - 1.0, np.asarray(dety, float) - 1.0, mask, 1)
    model = CashModel(data, psf)
    positions = np.array([[s[0] - 1.0, s[1] - 1.0] for s in starts], float).reshape(-1, 2)
    amplitudes = np.array([max(float(s[2]), 1.0) for s in starts] + [max(background, 1e-12)])
    fit = model.fit(positions, amplitudes)
    delta_c = _delta_c(model, fit)
    while delta_c.size:
        detml = np.array([detection_likelihood(d) for d in delta_c])
        worst = int(np.argmin(detml))
        if detml[worst] >= detml_min:
            break
        fit = model.fit(*_without(fit, worst))
        delta_c = _delta_c(model, fit)
    covariance = np.linalg.pinv(model.information(fit.positions, fit.amplitudes))
    errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    live_fraction = model.columns(fit.positions)[3]
    on_ccd = model.on_ccd(fit.positions)
    sources = []
    for k in np.flatnonzero(on_ccd).tolist():
        r90 = _r90(model, fit, k, n_directions, max_r90)
        sources.append(
            MlSource(
                detx=float(fit.positions[k, 0] + 1.0),
                dety=float(fit.positions[k, 1] + 1.0),
                counts=float(fit.amplitudes[k]),
                counts_err=float(errors[k]),
                detml=detection_likelihood(delta_c[k]),
                delta_c=float(delta_c[k]),
                err_r90=float(np.hypot(r90, systematic_r90)),
                live_fraction=float(live_fraction[k]),
            )
        )
    sources.sort(key=lambda s: -s.detml)
    n_outside = int(on_ccd.size - np.count_nonzero(on_ccd))
    return MlResult(sources, float(fit.amplitudes[-1]), float(errors[-1]), fit.cstat, n_outside)
