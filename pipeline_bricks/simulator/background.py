"""Background photons and noisy pixels.

* Background: X-ray-like events uniform over the CCD, ``bkg_rate`` [counts/s over the
  detector] with a flat spectrum of true energies 0.2-10 keV; they go through the same
  detector response as the source (RMF, CTI, charge split) but not through the optics.
* Noisy pixels: the BADPIX pixels of TYPE hot or flickering (the onboard pixel mask is not
  simulated, so screening with BADPIX has something to remove; bad columns and dead pixels
  stay silent and dead pixels collect no charge), plus new hot
  pixels at seeded positions outside BADPIX, emit ``hot_rate`` [counts/s per pixel]
  low-energy single-pixel events; new flickering pixels fire in a short burst of frames.
  A noise event has an offset-subtracted amplitude ``EVTTHR + 1 + Exponential(NOISE_MEAN_ADU)``
  in its pixel and nothing in its neighbours; one pixel makes at most one event per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline_bricks.mxt.caldata import BadPixels, EventThresholds
from pipeline_bricks.mxt.patterns import BOX_DX, BOX_DY

__all__ = [
    "BAD_NOISY_TYPES",
    "NoisyPixels",
    "choose_noisy_pixels",
    "noise_events",
    "noise_phas",
    "uniform_positions",
]

BAD_NOISY_TYPES = 2 | 4  # BADPIX TYPE bits hot, flickering
NOISE_MEAN_ADU = 15.0  # mean excess of a noise event over EVTTHR [ADU]
FLICKER_PROBABILITY = 0.5  # chance a flickering pixel fires in each frame of its burst
KIND_BADPIX, KIND_HOT, KIND_FLICKERING = "badpix", "hot", "flickering"


@dataclass(frozen=True)
class NoisyPixels:
    """Noisy pixels: RAWX, RAWY (1-based), kind, and the burst of the flickering ones.

    Attributes
    ----------
    rawx, rawy : numpy.ndarray
        int64 pixel, 1-based.
    kind : list of str
        ``badpix`` (listed in BADPIX), ``hot`` or ``flickering`` (new, not in BADPIX).
    burst_start : numpy.ndarray
        First frame of the burst of a flickering pixel (-1 for the others).
    """

    rawx: NDArray[np.int64]
    rawy: NDArray[np.int64]
    kind: list[str]
    burst_start: NDArray[np.int64]


def uniform_positions(
    n: int, rng: np.random.Generator, size: int = 256
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """``n`` positions uniform over the CCD: pixel (1-based) and sub-pixel offsets -0.5..0.5."""
    x, y = rng.uniform(0.5, size + 0.5, (2, n))
    rawx, rawy = np.floor(x + 0.5).astype(np.int64), np.floor(y + 0.5).astype(np.int64)
    rawx, rawy = np.clip(rawx, 1, size), np.clip(rawy, 1, size)
    return rawx, rawy, x - rawx, y - rawy


def choose_noisy_pixels(
    badpix: BadPixels,
    *,
    n_hot: int,
    n_flickering: int,
    n_frames: int,
    burst_frames: int,
    avoid: Sequence[tuple[float, float]],
    rng: np.random.Generator,
) -> NoisyPixels:
    """The BADPIX noisy pixels and ``n_hot + n_flickering`` new ones.

    Parameters
    ----------
    badpix : BadPixels
        The BADPIX table.
    n_hot, n_flickering : int
        Number of new hot and flickering pixels (seeded positions outside BADPIX).
    n_frames, burst_frames : int
        Frames of the observation and length of a flickering burst [frames].
    avoid : sequence of (float, float)
        (RAWX, RAWY) of the sources: new pixels are kept more than 10 pixels away from each.
    rng : numpy.random.Generator
        Random stream.
    """
    mask = badpix.mask(BAD_NOISY_TYPES)
    rows, columns = np.nonzero(mask)
    listed = badpix.mask()
    free = ~listed
    yy, xx = np.mgrid[1 : listed.shape[0] + 1, 1 : listed.shape[1] + 1]
    for x, y in avoid:
        free &= np.hypot(xx - x, yy - y) > 10.0
    candidates = np.flatnonzero(free)
    n_new = n_hot + n_flickering
    chosen = rng.choice(candidates, size=min(n_new, candidates.size), replace=False)
    new_rows, new_columns = np.divmod(chosen, listed.shape[1])
    last_start = max(n_frames - burst_frames, 0)
    bursts = rng.integers(0, last_start + 1, size=n_flickering)
    return NoisyPixels(
        rawx=np.concatenate([columns, new_columns]).astype(np.int64) + 1,
        rawy=np.concatenate([rows, new_rows]).astype(np.int64) + 1,
        kind=[KIND_BADPIX] * rows.size + [KIND_HOT] * n_hot + [KIND_FLICKERING] * n_flickering,
        burst_start=np.concatenate([np.full(rows.size + n_hot, -1), bursts]).astype(np.int64),
    )


def noise_events(
    pixels: NoisyPixels,
    *,
    hot_rate: float,
    n_frames: int,
    frame_time_s: float,
    burst_frames: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Frames and pixels of the noise events (at most one per pixel and frame).

    Steady pixels fire at ``hot_rate`` [counts/s]; a flickering pixel fires with probability
    ``FLICKER_PROBABILITY`` in each of the ``burst_frames`` frames of its burst.

    Returns
    -------
    frame, rawx, rawy : numpy.ndarray
        int64, sorted by frame then pixel.
    """
    steady = pixels.burst_start < 0
    per_pixel = rng.poisson(hot_rate * n_frames * frame_time_s, size=int(steady.sum()))
    owner = np.repeat(np.flatnonzero(steady), per_pixel)
    frames = rng.integers(0, n_frames, size=owner.size)
    flicker = np.flatnonzero(~steady)
    length = min(burst_frames, n_frames)
    fires = rng.random((flicker.size, length)) < FLICKER_PROBABILITY
    which, step = np.nonzero(fires)
    owner = np.concatenate([owner, flicker[which]])
    frames = np.concatenate([frames, pixels.burst_start[flicker[which]] + step])
    key = np.unique(frames * len(pixels.kind) + owner)
    frames, owner = np.divmod(key, len(pixels.kind))
    return frames, pixels.rawx[owner], pixels.rawy[owner]


def noise_phas(
    rawx: NDArray[np.int64],
    rawy: NDArray[np.int64],
    offsets: NDArray[np.float64],
    thresholds: EventThresholds,
    rng: np.random.Generator,
) -> NDArray[np.int16]:
    """PHAS of single-pixel noise events: ``EVTTHR + 1 + Exp(NOISE_MEAN_ADU)`` over the offset.

    Neighbours hold their rounded offset; pixels off the CCD hold 0.
    """
    dx, dy = BOX_DX, BOX_DY
    columns, rows = rawx[:, None] + dx, rawy[:, None] + dy
    on_ccd = (columns >= 1) & (columns <= offsets.size) & (rows >= 1) & (rows <= offsets.size)
    level = offsets[np.clip(columns, 1, offsets.size) - 1]
    # + 1: after rounding the offset-subtracted amplitude is still above EVTTHR.
    excess = thresholds.event_adu + 1 + np.floor(rng.exponential(NOISE_MEAN_ADU, rawx.size))
    level[:, 4] += np.minimum(excess, thresholds.upper_adu - 1)
    return np.where(on_ccd, np.rint(level), 0).astype(np.int16)
