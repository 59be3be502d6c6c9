"""Maximum-likelihood fits of Poisson counts: the minimiser, and the decay of a light curve.

Every fit minimises a Cash-type statistic (``-2 ln L`` up to a constant) with scipy's
Nelder-Mead, then takes the covariance from the curvature at the minimum (twice the
inverse Hessian, central differences): the ``1 sigma`` errors are those of a parabolic
``Delta C = 1``, as XSPEC's ``covariance``. The spectral fit is in
:mod:`pipeline_bricks.campaign.spectral_fit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import exprel, xlogy

__all__ = ["DecayFit", "cash", "fit_decay_index", "minimise", "power_law_integral"]

Statistic = Callable[[NDArray[np.float64]], float]
DECAY_BOUNDS = (-5.0, 10.0)  # decay indices tried: a constant source is 0, afterglows 0.5-2.5


def cash(model: NDArray[np.float64], counts: NDArray[np.float64]) -> float:
    """Cash's C-statistic ``2 sum(model - counts + counts ln(counts / model))``.

    Parameters
    ----------
    model, counts : numpy.ndarray
        Expected and observed counts per bin [ct]; ``model > 0`` wherever ``counts > 0``.

    Returns
    -------
    float
        ``-2 ln L`` of Poisson counts, shifted so that a perfect model gives 0.
    """
    return float(2.0 * np.sum(model - counts + xlogy(counts, counts) - xlogy(counts, model)))


def _hessian(
    function: Statistic, point: NDArray[np.float64], steps: NDArray[np.float64]
) -> NDArray:
    """Central-difference Hessian of ``function`` at ``point`` (one step per parameter)."""
    n = point.size
    hessian = np.empty((n, n))
    for i in range(n):  # n <= 3 parameters: 4 n**2 evaluations
        for j in range(i, n):
            di, dj = np.zeros(n), np.zeros(n)
            di[i], dj[j] = steps[i], steps[j]
            value = (
                function(point + di + dj)
                - function(point + di - dj)
                - function(point - di + dj)
                + function(point - di - dj)
            ) / (4.0 * steps[i] * steps[j])
            hessian[i, j] = hessian[j, i] = value
    return hessian


def minimise(
    statistic: Statistic,
    start: ArrayLike,
    bounds: list[tuple[float, float]],
    steps: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Best parameters, their covariance and the minimum of a ``-2 ln L`` statistic.

    Parameters
    ----------
    statistic : callable
        ``-2 ln L`` of a parameter vector (a Cash statistic).
    start : array_like
        First guess of the parameters.
    bounds : list of (float, float)
        Range searched for each parameter.
    steps : array_like
        Finite-difference step of each parameter for the curvature (about a tenth of
        its expected error).

    Returns
    -------
    best : numpy.ndarray
        Parameters at the minimum.
    covariance : numpy.ndarray
        ``2 H**-1`` at the minimum (``H`` the Hessian of ``statistic``).
    minimum : float
        The statistic at ``best``.

    Raises
    ------
    ValueError
        The minimiser did not converge, stopped on a bound, or the curvature at the
        minimum is not positive definite (the likelihood does not constrain a parameter).
    """
    low, high = np.array(bounds, dtype=np.float64).T
    first = np.asarray(start, dtype=np.float64)
    result = minimize(
        statistic, first, method="Nelder-Mead", bounds=bounds,
        options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 4000},
    )  # fmt: skip
    if not result.success or not np.isfinite(result.fun):
        raise ValueError(f"the fit did not converge: {result.message}")
    best = np.asarray(result.x, dtype=np.float64)
    step = np.asarray(steps, dtype=np.float64)
    if np.any(best - step <= low) or np.any(best + step >= high):
        raise ValueError(f"the fit stopped on a bound of its parameters: {best.tolist()}")
    hessian = _hessian(statistic, best, step)
    try:
        covariance = 2.0 * np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        raise ValueError("the likelihood is flat at the minimum: no error") from None
    if not np.all(np.isfinite(covariance)) or np.any(np.diag(covariance) <= 0):
        raise ValueError("the curvature at the minimum is not positive: no error")
    return best, covariance, float(result.fun)


def power_law_integral(
    start_s: ArrayLike, stop_s: ArrayLike, decay: float, reference_s: float
) -> NDArray[np.float64]:
    """``integral of (t / reference)**-decay dt`` over each ``[start, stop]`` [s].

    Parameters
    ----------
    start_s, stop_s : array_like
        Bounds [s after T0], ``0 < start < stop``.
    decay : float
        Decay index ``alpha`` (any value: ``alpha = 1`` is the logarithm).
    reference_s : float
        Time [s after T0] where the power law is 1.

    Returns
    -------
    numpy.ndarray
        The integrals [s].
    """
    low = np.log(np.asarray(start_s, dtype=np.float64) / reference_s)
    width = np.log(np.asarray(stop_s, dtype=np.float64) / reference_s) - low
    power = 1.0 - decay
    # t_ref e^{p ln u1} (e^{p w} - 1) / p = t_ref u1^p w exprel(p w): smooth through p = 0
    return reference_s * np.exp(power * low) * width * exprel(power * width)


@dataclass(frozen=True)
class DecayFit:
    """A power-law decline ``rate (t / reference)**-decay`` fitted to a light curve.

    Attributes
    ----------
    decay, decay_err : float
        Decay index and its 1 sigma error.
    rate_cts_s, rate_err_cts_s : float
        Net source rate in the extraction region at ``reference_s`` [ct/s].
    reference_s : float
        Reference time [s after T0]: the geometric middle of the light curve.
    statistic : float
        Cash statistic at the minimum.
    bins : int
        Number of light-curve bins fitted.
    """

    decay: float
    decay_err: float
    rate_cts_s: float
    rate_err_cts_s: float
    reference_s: float
    statistic: float
    bins: int


def _checked_bins(
    start_s: ArrayLike, stop_s: ArrayLike, exposure_s: ArrayLike, counts: ArrayLike,
    background: ArrayLike,
) -> tuple[NDArray[np.float64], ...]:  # fmt: skip
    arrays = tuple(np.asarray(a, dtype=np.float64) for a in (start_s, stop_s, exposure_s,
                                                              counts, background))  # fmt: skip
    start, stop, exposure, n, b = arrays
    if start.ndim != 1 or any(a.shape != start.shape for a in arrays):
        raise ValueError("the light-curve columns must be 1-d arrays of one length")
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("the light-curve columns must be finite")
    if start.size < 3:
        raise ValueError(f"a decay fit needs at least 3 light-curve bins, not {start.size}")
    if np.any(start <= 0) or np.any(stop <= start):
        raise ValueError("light-curve bins must start after T0 and have stop > start")
    if np.any(exposure <= 0) or np.any(exposure > (stop - start) * (1 + 1e-9)):
        raise ValueError("bin exposures must be positive and at most the bin width [s]")
    if np.any(n < 0) or np.any(b < 0):
        raise ValueError("bin counts and background must be >= 0")
    return arrays


def fit_decay_index(
    start_s: ArrayLike,
    stop_s: ArrayLike,
    exposure_s: ArrayLike,
    counts: ArrayLike,
    background: ArrayLike,
) -> DecayFit:
    """Fit ``rate (t / t_ref)**-decay`` to binned counts by Poisson likelihood (C-statistic).

    The expected counts of bin ``i`` are ``fracexp_i integral_i rate (t / t_ref)**-decay dt
    + background_i``, with ``fracexp = exposure / (stop - start)``: the good-time share
    of the bin, the source assumed steady within it. The background is taken as known (it
    comes from an annulus ten times the source region: its error is small next to the
    Poisson error of the bin).

    Parameters
    ----------
    start_s, stop_s : array_like
        Bin bounds [s after T0] (all after T0).
    exposure_s : array_like
        Good time in each bin [s].
    counts : array_like
        Counts in the source region in each bin [ct] (total, not net).
    background : array_like
        Expected background counts in the source region in each bin [ct]
        (``BACKV * exposure`` of an OGIP light curve).

    Returns
    -------
    DecayFit
        The decay index with its 1 sigma error (curvature of the likelihood).

    Raises
    ------
    ValueError
        Inputs of different lengths, fewer than 3 bins, a bin before T0, a bad exposure
        or negative counts; a fit that does not converge or constrain the decay.
    """
    start, stop, exposure, n, b = _checked_bins(start_s, stop_s, exposure_s, counts, background)
    if n.sum() <= b.sum():
        raise ValueError("the light curve has no net counts to fit")
    reference = float(np.sqrt(start[0] * stop[-1]))
    fracexp = exposure / (stop - start)

    def statistic(parameters: NDArray[np.float64]) -> float:
        decay, log_rate = parameters
        source = 10.0**log_rate * fracexp * power_law_integral(start, stop, decay, reference)
        return cash(source + b, n)

    guess = np.log10((n.sum() - b.sum()) / exposure.sum())
    best, covariance, minimum = minimise(
        statistic, [1.0, guess], [DECAY_BOUNDS, (guess - 4.0, guess + 4.0)], [1e-3, 1e-3]
    )
    errors = np.sqrt(np.diag(covariance))
    rate = 10.0 ** best[1]
    return DecayFit(
        decay=float(best[0]),
        decay_err=float(errors[0]),
        rate_cts_s=float(rate),
        rate_err_cts_s=float(rate * np.log(10.0) * errors[1]),
        reference_s=reference,
        statistic=minimum,
        bins=int(start.size),
    )
