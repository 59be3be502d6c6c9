"""The Cash statistic of binned DET events under "flat background + point sources".

Shared engine of both detection stages. The CCD is binned in ``b x b`` DET pixels (``b = 1``
in the maximum-likelihood stage, 4 in the histogram stage); in bin ``i`` the model expects

    mu_i = B * L_i + sum_k N_k * (L_i / b^2) * P_b(bin_i - p_k)

with ``L_i`` the live pixels of the bin, ``B`` the background [counts per live DET pixel],
``N_k`` the counts of source ``k`` over the whole focal plane and ``P_b`` the PSF fraction in a
bin (:mod:`.psf_model`, exact for ``b = 1``; for ``b > 1`` a partly dead bin takes its live
share of the bin's fraction). The statistic is ``C = 2 sum_i (mu_i - n_i ln mu_i)`` over the
live bins; the first sum is linear in the amplitudes ``a = (N_1 .. N_K, B)`` through the PSF
fraction on the live CCD (:meth:`PsfModel.live_fraction_map`), so only the occupied bins are
visited: the cost scales with the number of events, not of pixels.

For fixed positions ``C`` is convex in ``a``: the amplitudes are solved by a projected Newton
method (``a >= 0``). Positions are fitted with bounds on the profile ``C(p) = min_a C(p, a)``
-- the CCD widened on every side by the PSF's reach, so that a source off the CCD whose core
edge or arms fall on it is modelled where it is --, whose gradient is the partial derivative
at the optimal ``a`` (envelope theorem), by scipy's truncated Newton (TNC): scipy's L-BFGS-B
gives the same fits but spends about a millisecond per iteration in tiny multi-threaded BLAS
calls on a busy machine, more than the whole likelihood evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline_bricks.mxt.detect.psf_model import PsfModel, bilinear

__all__ = ["BinnedEvents", "CashModel", "FitResult", "bin_events"]

_NEWTON_ITERATIONS = 60
_NEWTON_TOLERANCE = 1e-9  # Newton decrement [C units] at which the amplitudes are solved


@dataclass(frozen=True, eq=False)
class BinnedEvents:
    """Events binned on the CCD (only the occupied bins are listed).

    Attributes
    ----------
    binning : int
        Bin size ``b`` [DET pixel].
    rows, cols : numpy.ndarray
        0-based DET pixel row and column of the first pixel of each occupied bin.
    counts : numpy.ndarray
        Events in each occupied bin.
    live : numpy.ndarray
        Live DET pixels in each occupied bin.
    live_bins : numpy.ndarray
        Live DET pixels of every bin of the binned CCD, ``(rows // b, columns // b)``.
    """

    binning: int
    rows: np.ndarray
    cols: np.ndarray
    counts: np.ndarray
    live: np.ndarray
    live_bins: np.ndarray

    @property
    def live_total(self) -> float:
        """Live DET pixels of the CCD."""
        return float(self.live_bins.sum())


def bin_events(x: np.ndarray, y: np.ndarray, live_mask: np.ndarray, binning: int) -> BinnedEvents:
    """Bin events given in 0-based DET pixel coordinates (pixel ``floor(x + 0.5)``).

    The events must lie on live pixels of ``live_mask`` (``[row, column]``, dimensions
    multiples of ``binning``); the caller filters them.
    """
    b = int(binning)
    n_rows, n_cols = live_mask.shape[0] // b, live_mask.shape[1] // b
    column = np.floor(x + 0.5).astype(np.intp) // b
    row = np.floor(y + 0.5).astype(np.intp) // b
    histogram = np.bincount(row * n_cols + column, minlength=n_rows * n_cols)
    live_bins = live_mask.reshape(n_rows, b, n_cols, b).sum(axis=(1, 3)).astype(float)
    occupied = np.flatnonzero(histogram)
    bin_row, bin_col = np.divmod(occupied, n_cols)
    return BinnedEvents(
        b,
        (b * bin_row).astype(float),
        (b * bin_col).astype(float),
        histogram[occupied].astype(float),
        live_bins.ravel()[occupied],
        live_bins,
    )


@dataclass(frozen=True)
class FitResult:
    """A fit: ``positions`` ``(K, 2)`` 0-based ``(x, y)``, ``amplitudes`` ``(N_1..N_K, B)``."""

    positions: np.ndarray
    amplitudes: np.ndarray
    cstat: float


class CashModel:
    """``C`` of one binned event set for any source positions and amplitudes.

    Parameters
    ----------
    data : BinnedEvents
        The binned events.
    psf : PsfModel
        The PSF.
    """

    def __init__(self, data: BinnedEvents, psf: PsfModel) -> None:
        b = data.binning
        self.data = data
        self.kernel = psf.kernel(b)
        self.map, self.map_offset = psf.live_fraction_map(data.live_bins / b**2, b)
        self.weight = data.live / b**2
        n_rows, n_cols = data.live_bins.shape
        self.ccd = (-0.5, b * n_cols - 0.5, -0.5, b * n_rows - 0.5)  # x_lo, x_hi, y_lo, y_hi
        # Sources may sit off the CCD as far as the PSF reaches onto it: a bright source just
        # outside scatters its core's edge and its arms onto the CCD, which sources pinned at
        # the edge cannot model (the rest would be taken for more sources).
        reach = psf.reach
        self.bounds = (-reach, b * n_cols - 1 + reach, -reach, b * n_rows - 1 + reach)

    def on_ccd(self, positions: np.ndarray) -> np.ndarray:
        """Bool per 0-based ``(x, y)`` position ``(K, 2)``: on the CCD (not beyond its edge)."""
        x_lo, x_hi, y_lo, y_hi = self.ccd
        x, y = np.asarray(positions, float).reshape(-1, 2).T
        return (x >= x_lo) & (x <= x_hi) & (y >= y_lo) & (y <= y_hi)

    # -- the model ------------------------------------------------------------------------
    def columns(self, positions: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per unit amplitude: expected counts in the occupied bins and on the live CCD.

        Returns
        -------
        design : numpy.ndarray
            ``(n_bins, K + 1)``: PSF columns then the background column ``L_i``.
        d_x, d_y : numpy.ndarray
            ``(n_bins, K)``: derivatives of the PSF columns with respect to ``x_k``, ``y_k``.
        totals : numpy.ndarray
            ``(K + 1,)``: expected counts on the live CCD (PSF live fraction, live pixels).
        t_x, t_y : numpy.ndarray
            ``(K,)``: derivatives of the PSF totals.
        """
        positions = np.asarray(positions, float).reshape(-1, 2)
        x, y = positions[:, 0], positions[:, 1]
        value, d_row, d_col = self.kernel.fraction(
            self.data.rows[:, None] - y[None, :], self.data.cols[:, None] - x[None, :]
        )
        design = np.empty((self.data.counts.size, x.size + 1))
        design[:, :-1] = self.weight[:, None] * value
        design[:, -1] = self.data.live
        total, t_row, t_col = bilinear(self.map, self.map_offset + y, self.map_offset + x)
        totals = np.append(total, self.data.live_total)
        return (
            design,
            -self.weight[:, None] * d_col,
            -self.weight[:, None] * d_row,
            totals,
            t_col,
            t_row,
        )

    def cstat(self, design: np.ndarray, totals: np.ndarray, amplitudes: np.ndarray) -> float:
        """``C = 2 (sum mu - sum n ln mu)`` (infinite where a model value is not positive)."""
        mu = design @ amplitudes
        if not np.all(mu > 0):
            return float("inf")
        return float(2.0 * (totals @ amplitudes - self.data.counts @ np.log(mu)))

    # -- amplitudes -----------------------------------------------------------------------
    def solve_amplitudes(
        self, design: np.ndarray, totals: np.ndarray, start: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """Amplitudes ``a >= 0`` minimising ``C`` for fixed positions, and that ``C``.

        Projected Newton steps with backtracking (``C`` is convex in ``a``); variables at 0
        whose gradient is positive stay fixed.
        """
        n = self.data.counts
        scale = max(float(n.sum()), 1.0)
        a = np.maximum(np.asarray(start, float), 1e-9 * scale / np.maximum(totals, 1e-6))
        current = self.cstat(design, totals, a)
        if not np.isfinite(current):  # only a positive background makes mu > 0 everywhere
            a[-1] = max(a[-1], scale / max(totals[-1], 1.0))
            current = self.cstat(design, totals, a)
        for _ in range(_NEWTON_ITERATIONS):
            mu = design @ a
            ratio = n / mu
            gradient = 2.0 * (totals - design.T @ ratio)
            hessian = 2.0 * (design.T * (ratio / mu)) @ design
            free = (a > 0) | (gradient < 0)
            step = np.zeros_like(a)
            sub = hessian[np.ix_(free, free)]
            try:
                step[free] = np.linalg.solve(sub, -gradient[free])
            except np.linalg.LinAlgError:
                step[free] = np.linalg.lstsq(sub, -gradient[free], rcond=None)[0]
            decrement = -float(gradient @ step)
            if not decrement > _NEWTON_TOLERANCE:
                break
            reach = np.full_like(a, np.inf)  # step fraction at which a variable reaches 0
            shrinking = step < 0
            reach[shrinking] = -a[shrinking] / step[shrinking]
            limit = min(1.0, float(reach.min()))
            t = limit
            while t > 1e-12:
                trial = np.maximum(a + t * step, 0.0)
                if t == limit < 1.0:
                    trial[reach <= limit] = 0.0  # the blocking variables land exactly on 0
                value = self.cstat(design, totals, trial)
                if value <= current - 1e-4 * t * decrement:
                    break
                t *= 0.5
            else:
                break
            a, current = trial, value
        return a, current

    def profile(self, positions: np.ndarray, start: np.ndarray) -> tuple[float, np.ndarray]:
        """``min_a C`` at fixed ``positions`` ``(K, 2)`` (``start``: amplitudes to begin with)."""
        design, _, _, totals, _, _ = self.columns(positions)
        amplitudes, value = self.solve_amplitudes(design, totals, start)
        return value, amplitudes

    def information(self, positions: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
        """Observed information ``(1/2) d2C/da2`` of the amplitudes at fixed positions."""
        design, _, _, _, _, _ = self.columns(positions)
        mu = design @ amplitudes
        return (design.T * (self.data.counts / mu**2)) @ design

    # -- positions ------------------------------------------------------------------------
    def fit(self, positions: Sequence[Sequence[float]] | np.ndarray, amplitudes: Any) -> FitResult:
        """Fit all positions and amplitudes together (TNC on the profile ``C``).

        Parameters
        ----------
        positions : array_like
            ``(K, 2)`` starting 0-based ``(x, y)`` [DET pixel]; ``K`` may be 0.
        amplitudes : array_like
            ``(K + 1,)`` starting ``(N_1 .. N_K, B)``.
        """
        start = np.asarray(positions, float).reshape(-1, 2)
        best = {"a": np.asarray(amplitudes, float).copy()}
        k = start.shape[0]
        if k == 0:
            value, a = self.profile(start, best["a"])
            return FitResult(start, a, value)

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            design, d_x, d_y, totals, t_x, t_y = self.columns(theta.reshape(k, 2))
            a, value = self.solve_amplitudes(design, totals, best["a"])
            if not np.isfinite(value):
                return 1e300, np.zeros_like(theta)
            best["a"] = a
            ratio = self.data.counts / (design @ a)
            gradient = np.empty((k, 2))
            gradient[:, 0] = 2.0 * a[:k] * (t_x - ratio @ d_x)
            gradient[:, 1] = 2.0 * a[:k] * (t_y - ratio @ d_y)
            return value, gradient.ravel()

        # scipy.optimize costs ~0.3 s to import: paid only by a fit, not by importing the
        # detect package (mxt-products reads its source list helpers, and never fits).
        from scipy.optimize import minimize  # noqa: PLC0415

        x_lo, x_hi, y_lo, y_hi = self.bounds
        theta0 = np.clip(start, [x_lo, y_lo], [x_hi, y_hi]).ravel()
        result = minimize(
            objective,
            theta0,
            jac=True,
            method="TNC",
            bounds=[(x_lo, x_hi), (y_lo, y_hi)] * k,
            options={"maxfun": 100 * k + 100, "xtol": 1e-4, "ftol": 1e-9, "gtol": 1e-6},
        )
        final = result.x.reshape(k, 2)
        value, a = self.profile(final, best["a"])
        return FitResult(final, a, value)
