"""The GRB afterglow: decaying count rate, absorbed power-law (or line) spectrum, PSF offsets.

Rate law: ``R(t) = rate * (t / t1) ** -decay`` [counts/s] for ``t`` [s after the trigger T0]
from ``t1 = start_offset`` to ``t2 = start_offset + duration``. ``rate`` is the on-axis
count rate at the observation start, ``rate = integral N(E) A(E) dE`` over the ARF grid
with ``A`` the SPECRESP effective area, which fixes the normalisation of the photon
spectrum ``N(E)`` [photons/cm²/s/keV].

Spectrum: ``N(E) = K E**-gamma exp(-NH sigma(E))`` with the toy photo-absorption cross
section ``sigma(E) = 2.4e-22 (E / 1 keV)**-2.5`` cm² per hydrogen atom (no edges; it gives
the optical depth of a tbabs-like absorber to within a factor ~2 between 0.3 and 3 keV),
or monochromatic lines of equal photon flux.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pipeline_bricks.mxt.caldata import EffectiveArea, Psf

__all__ = [
    "KEV_TO_ERG",
    "SIGMA_1KEV_CM2",
    "Spectrum",
    "arrival_times",
    "expected_counts",
    "psf_offsets",
    "sample_energies",
]

SIGMA_1KEV_CM2 = 2.4e-22  # toy photo-absorption cross section at 1 keV [cm² per H]
SIGMA_INDEX = 2.5  # sigma(E) ~ E**-2.5
KEV_TO_ERG = 1.602176634e-9
FLUX_BAND_KEV = (0.3, 8.0)


@dataclass(frozen=True)
class Spectrum:
    """Absorbed power law (``lines`` empty) or monochromatic lines of equal photon flux.

    Attributes
    ----------
    gamma : float
        Photon index of ``N(E) ~ E**-gamma``.
    nh_cm2 : float
        Hydrogen column density [cm⁻²].
    lines_kev : tuple of float
        Line energies [keV]; when given, the power law is not used.
    """

    gamma: float = 2.0
    nh_cm2: float = 3e21
    lines_kev: tuple[float, ...] = ()

    def shape(self, energy_kev: ArrayLike) -> NDArray[np.float64]:
        """Unnormalised absorbed power law ``E**-gamma exp(-NH sigma(E))`` (E in keV)."""
        energy = np.asarray(energy_kev, dtype=np.float64)
        sigma = SIGMA_1KEV_CM2 * energy**-SIGMA_INDEX
        return energy**-self.gamma * np.exp(-self.nh_cm2 * sigma)

    def bin_weights(self, arf: EffectiveArea) -> NDArray[np.float64]:
        """Counts/s per ARF bin for ``K = 1`` (``N(E) A(E) dE``, or ``A(E_line)`` per line)."""
        if self.lines_kev:
            weights = np.zeros(arf.area_cm2.size)
            for line in self.lines_kev:
                weights[_bin_of(arf, line)] += arf.area_cm2[_bin_of(arf, line)]
            return weights
        centre = 0.5 * (arf.energ_lo_kev + arf.energ_hi_kev)
        width = arf.energ_hi_kev - arf.energ_lo_kev
        return self.shape(centre) * arf.area_cm2 * width

    def normalisation(self, rate: float, arf: EffectiveArea) -> float:
        """``K`` [photons/cm²/s/keV at 1 keV, or photons/cm²/s per line] giving ``rate``."""
        total = float(self.bin_weights(arf).sum())
        if total <= 0:
            raise ValueError("the spectrum gives no counts through the effective area")
        return rate / total

    def energy_flux(self, norm: float, band_kev: tuple[float, float] = FLUX_BAND_KEV) -> float:
        """Absorbed energy flux [erg/cm²/s] in ``band_kev`` for normalisation ``norm``."""
        lo, hi = band_kev
        if self.lines_kev:
            inside = [e for e in self.lines_kev if lo <= e < hi]
            return norm * float(np.sum(inside)) * KEV_TO_ERG
        edges = np.geomspace(lo, hi, 20001)
        centre = np.sqrt(edges[1:] * edges[:-1])
        integral = np.sum(centre * self.shape(centre) * np.diff(edges))
        return norm * float(integral) * KEV_TO_ERG


def _bin_of(arf: EffectiveArea, energy_kev: float) -> int:
    index = int(np.searchsorted(arf.energ_hi_kev, energy_kev, side="right"))
    if energy_kev < arf.energ_lo_kev[0] or index >= arf.energ_lo_kev.size:
        raise ValueError(
            f"the line at {energy_kev} keV is outside the ARF "
            f"({arf.energ_lo_kev[0]:g}-{arf.energ_hi_kev[-1]:g} keV)"
        )
    return index


def sample_energies(
    spectrum: Spectrum, arf: EffectiveArea, n: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """True energies [keV] of ``n`` detected photons, from ``N(E) A(E)`` on the ARF grid.

    Continuum photons are uniform inside their ARF bin; lines are exact (equal weights in
    photons, so each line gets a share proportional to its effective area).
    """
    weights = spectrum.bin_weights(arf)
    if spectrum.lines_kev:
        lines = np.asarray(spectrum.lines_kev, dtype=np.float64)
        areas = np.array([arf.area_cm2[_bin_of(arf, e)] for e in lines])
        return lines[rng.choice(lines.size, size=n, p=areas / areas.sum())]
    cumulative = np.cumsum(weights) / weights.sum()
    uniform = rng.random((2, n))
    index = np.minimum(np.searchsorted(cumulative, uniform[0], side="right"), weights.size - 1)
    lo, hi = arf.energ_lo_kev[index], arf.energ_hi_kev[index]
    return lo + uniform[1] * (hi - lo)


def expected_counts(rate: float, decay: float, t1: float, t2: float) -> float:
    """Integral of ``rate (t / t1)**-decay`` from ``t1`` to ``t2`` [counts] (t in s)."""
    if np.isclose(decay, 1.0):
        return rate * t1 * float(np.log(t2 / t1))
    return rate * t1 * ((t2 / t1) ** (1.0 - decay) - 1.0) / (1.0 - decay)


def arrival_times(
    n: int, decay: float, t1: float, t2: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """``n`` arrival times [s after T0] of the rate ``(t / t1)**-decay`` on ``[t1, t2)``.

    Inverse of the cumulative distribution, sorted.
    """
    uniform = rng.random(n)
    if np.isclose(decay, 1.0):
        times = t1 * (t2 / t1) ** uniform
    else:
        power = 1.0 - decay
        times = t1 * (1.0 + uniform * ((t2 / t1) ** power - 1.0)) ** (1.0 / power)
    return np.sort(np.clip(times, t1, np.nextafter(t2, t1)))


def psf_offsets(
    psf: Psf, n: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Offsets ``(dDETX, dDETY)`` [DET pixel] of ``n`` photons drawn from the PSF image.

    A pixel is chosen with the image's probabilities (the few 1e-4 of the photons outside
    the image are not simulated), then a uniform position inside it.
    """
    cumulative = np.cumsum(psf.image.ravel())
    uniform = rng.random((3, n))
    flat = np.searchsorted(cumulative, uniform[0] * cumulative[-1], side="right")
    row, column = np.divmod(np.minimum(flat, cumulative.size - 1), psf.image.shape[1])
    dx = column - psf.centre[1] + uniform[1] - 0.5
    dy = row - psf.centre[0] + uniform[2] - 0.5
    return dx, dy
