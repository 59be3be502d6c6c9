"""Simulated attitude: nominal pointing plus smooth seeded jitter, SAA flags, 1 s rows.

The attitude convention is docs/calibration_formats.md §2.1 step 5 (RA, Dec of the
spacecraft +Z axis and position angle of +Y). The jitter is Gaussian white noise at 1 s
smoothed by a Gaussian filter of ``JITTER_TIMESCALE_S`` and rescaled to the requested rms;
it is applied as small-angle offsets along east and north (RA offset divided by cos Dec)
and in roll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

__all__ = ["AttitudeTable", "in_intervals", "make_attitude"]

JITTER_TIMESCALE_S = 20.0  # correlation time of the pointing jitter
MARGIN_S = 10.0  # attitude rows before TSTART and after TSTOP


@dataclass(frozen=True)
class AttitudeTable:
    """The ATTITUDE rows (docs/event_formats.md §2).

    Attributes
    ----------
    time : numpy.ndarray
        Mission time [s], one row per second.
    ra, dec, roll : numpy.ndarray
        Spacecraft +Z direction and position angle of +Y [deg].
    settled, in_saa : numpy.ndarray
        Bool flags.
    """

    time: NDArray[np.float64]
    ra: NDArray[np.float64]
    dec: NDArray[np.float64]
    roll: NDArray[np.float64]
    settled: NDArray[np.bool_]
    in_saa: NDArray[np.bool_]


def in_intervals(
    offsets_s: NDArray[np.float64], intervals: Sequence[tuple[float, float]]
) -> NDArray[np.bool_]:
    """Whether each offset [s] lies in one of the half-open ``[start, stop)`` intervals."""
    inside = np.zeros(offsets_s.shape, dtype=bool)
    for start, stop in intervals:
        inside |= (offsets_s >= start) & (offsets_s < stop)
    return inside


def _smooth_noise(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Unit-rms smooth noise of ``n`` samples at 1 s."""
    pad = int(4 * JITTER_TIMESCALE_S)
    noise = gaussian_filter1d(rng.standard_normal(n + 2 * pad), JITTER_TIMESCALE_S)[pad:-pad]
    rms = float(np.sqrt(np.mean(noise**2))) if n > 1 else 0.0
    return noise / rms if rms > 0 else np.zeros(n)


def make_attitude(
    tstart: float,
    tstop: float,
    pointing: tuple[float, float, float],
    *,
    jitter_arcsec: float,
    saa_s: Sequence[tuple[float, float]],
    rng: np.random.Generator,
) -> AttitudeTable:
    """Attitude rows every second from ``tstart - MARGIN_S`` to at least ``tstop + MARGIN_S``.

    Parameters
    ----------
    tstart, tstop : float
        Observation interval [s, mission time].
    pointing : tuple of float
        Nominal RA, Dec of the spacecraft +Z axis and roll (position angle of +Y) [deg].
    jitter_arcsec : float
        rms of the pointing jitter along each of east, north and roll [arcsec].
    saa_s : sequence of (float, float)
        SAA passages ``[start, stop)`` in seconds from ``tstart``.
    rng : numpy.random.Generator
        Random stream of the jitter.

    Returns
    -------
    AttitudeTable
        ``SETTLED`` true everywhere, ``IN_SAA`` true inside the SAA intervals.
    """
    n = int(np.ceil(tstop - tstart + 2 * MARGIN_S)) + 1
    time = tstart - MARGIN_S + np.arange(n, dtype=np.float64)
    ra0, dec0, roll0 = pointing
    scale = jitter_arcsec / 3600.0
    east, north, twist = (scale * _smooth_noise(n, rng) for _ in range(3))
    cos_dec = max(np.cos(np.radians(dec0)), 1e-6)
    dec = np.clip(dec0 + north, -90.0, 90.0)
    return AttitudeTable(
        time=time,
        ra=(ra0 + east / cos_dec) % 360.0,
        dec=dec,
        roll=(roll0 + twist) % 360.0,
        settled=np.ones(n, dtype=bool),
        in_saa=in_intervals(time - tstart, saa_s),
    )
