"""MXT detector response, inverted: RMF redistribution, CTI loss, charge split, ADU, thresholds.

The inverse of ``mxt-calibrate`` (docs/calibration_formats.md §3.3). For a photon of true
energy ``E_t`` landing at sub-pixel position ``(sx, sy)`` [pixel, -0.5..0.5] in pixel
``(RAWX, RAWY)``:

1. ``E_m`` is drawn from the RMF row of the photon's energy bin: a channel with the row's
   probabilities, uniform within that channel's EBOUNDS, shifted by ``E_t`` minus the bin
   centre so that a line sits at its true energy (the RMF already holds the detector noise:
   ENC and Fano).
2. CTI: ``E_m * (1 - CTI(E_t)) ** (RAWY + CTI_NOFF)``.
3. A Gaussian charge cloud of width ``sigma`` [pixel] shares the charge among the 5 x 5
   pixels around the photon (integral of the cloud over each pixel); dead pixels collect
   nothing.
4. Per pixel ``a = round(f * E / GAIN(col) + OFFSET(col))`` [ADU]; pixels off the CCD hold 0.
5. The event is centred on the brightest offset-subtracted pixel of the 3 x 3 box around the
   photon, and kept when that pixel is a local maximum of its own 3 x 3 box with
   ``EVTTHR <= a - OFFSET <= UPPERTHR``.

Everything is vectorised over the photons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import erf

from pipeline_bricks.mxt.caldata import CtiLaw, EventThresholds, Redistribution
from pipeline_bricks.mxt.patterns import BOX_DX, BOX_DY

__all__ = [
    "DetectedEvents",
    "charge_fractions",
    "cti_loss",
    "detect_events",
    "redistribute",
    "simulate_phas",
]

N_PIXELS = 256  # RAWX, RAWY run over 1..256
INT16 = np.iinfo(np.int16)


def charge_fractions(
    sub_x: ArrayLike, sub_y: ArrayLike, sigma_px: ArrayLike, half_width: int = 1
) -> NDArray[np.float64]:
    """Fractions of a Gaussian charge cloud collected by the pixels around its centre.

    Parameters
    ----------
    sub_x, sub_y : array_like
        (n,) cloud centre [pixel] relative to the centre of its pixel, in -0.5..0.5.
    sigma_px : array_like
        Standard deviation of the cloud [pixel], one for all or (n,) one per photon (0: all
        the charge in the central pixel).
    half_width : int
        The box is ``2 * half_width + 1`` pixels wide (1: 3 x 3, 2: 5 x 5).

    Returns
    -------
    numpy.ndarray
        (n, w, w) fractions indexed ``[dy + half_width, dx + half_width]``.
    """
    sx = np.asarray(sub_x, dtype=np.float64).reshape(-1, 1)
    sy = np.asarray(sub_y, dtype=np.float64).reshape(-1, 1)
    edges = np.arange(-half_width - 0.5, half_width + 1.0)[None, :]
    scale = np.sqrt(2.0) * np.maximum(np.asarray(sigma_px, dtype=np.float64), 1e-9)
    scale = np.broadcast_to(scale.reshape(-1, 1) if scale.ndim else scale, sx.shape)
    fx = np.diff(0.5 * erf((edges - sx) / scale), axis=1)
    fy = np.diff(0.5 * erf((edges - sy) / scale), axis=1)
    return fy[:, :, None] * fx[:, None, :]


def redistribute(
    energy_kev: ArrayLike, rmf: Redistribution, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Measured energies drawn from the RMF rows of the photons' energy bins.

    Parameters
    ----------
    energy_kev : array_like
        (n,) true photon energies [keV].
    rmf : Redistribution
        The MATRIX and EBOUNDS of the RMF (:func:`pipeline_bricks.mxt.caldata.read_rmf`).
    rng : numpy.random.Generator
        Random stream (two uniforms per photon).

    Returns
    -------
    energy : numpy.ndarray
        (n,) measured energy [keV]: channel drawn with the row's probabilities, uniform in
        the channel's ``E_MIN .. E_MAX``, plus (true energy - bin centre).
    valid : numpy.ndarray
        (n,) bool: the photon lies in a bin of the RMF whose row is not empty.
    """
    energy = np.asarray(energy_kev, dtype=np.float64).ravel()
    row = np.searchsorted(rmf.energ_hi_kev, energy, side="right")
    valid = (energy >= rmf.energ_lo_kev[0]) & (row < rmf.energ_lo_kev.size)
    row = np.clip(row, 0, rmf.energ_lo_kev.size - 1)
    totals = rmf.matrix.sum(axis=1)
    valid &= totals[row] > 0
    # One monotonic table for all rows: row b spans [b, b + 1] (normalised cumulative sums).
    n_channels = rmf.matrix.shape[1]
    cumulative = np.cumsum(rmf.matrix, axis=1) / np.where(totals > 0, totals, 1.0)[:, None]
    cumulative[:, -1] = 1.0
    cumulative += np.arange(rmf.matrix.shape[0])[:, None]
    uniform = rng.random((2, energy.size))
    flat = np.searchsorted(cumulative.ravel(), row + uniform[0], side="right")
    channel = np.clip(flat - row * n_channels, 0, n_channels - 1)
    lo, hi = rmf.channel_lo_kev[channel], rmf.channel_hi_kev[channel]
    centre = 0.5 * (rmf.energ_lo_kev[row] + rmf.energ_hi_kev[row])
    return lo + uniform[1] * (hi - lo) + (energy - centre), valid


def cti_loss(
    measured_ev: ArrayLike, true_ev: ArrayLike, rawy: ArrayLike, cti: CtiLaw
) -> NDArray[np.float64]:
    """Charge left after the parallel transfers: ``E_m * (1 - CTI(E_t)) ** (RAWY + NOFF)``.

    Parameters
    ----------
    measured_ev, true_ev : array_like
        Energy before the transfers and the true energy (where CTI is evaluated) [eV].
    rawy : array_like
        Row of the photon, 1..256.
    cti : CtiLaw
        The CTI calibration (:func:`pipeline_bricks.mxt.caldata.read_cti`).

    Returns
    -------
    numpy.ndarray
        Energy [eV] reaching the readout node.
    """
    loss = cti.at(np.maximum(np.asarray(true_ev, dtype=np.float64), 1.0) / 1000.0)
    transfers = np.asarray(rawy, dtype=np.float64) + cti.n_offset
    return np.asarray(measured_ev, dtype=np.float64) * (1.0 - loss) ** transfers


@dataclass(frozen=True)
class DetectedEvents:
    """The onboard event finder's answer for each photon (:func:`detect_events`).

    Attributes
    ----------
    kept : numpy.ndarray
        (n,) bool: the photon makes an event (thresholds and local maximum).
    rawx, rawy : numpy.ndarray
        (n,) int64 central (brightest) pixel, 1-based.
    phas : numpy.ndarray
        (n, 9) int16 raw amplitudes [ADU, offset included] of the 3 x 3 box, index
        ``3 * (dy + 1) + (dx + 1)``, 0 off the CCD.
    """

    kept: NDArray[np.bool_]
    rawx: NDArray[np.int64]
    rawy: NDArray[np.int64]
    phas: NDArray[np.int16]


def _amplitudes(
    fractions: NDArray[np.float64],
    charge_ev: NDArray[np.float64],
    columns: NDArray[np.int64],
    *,
    rows: NDArray[np.int64],
    gains: NDArray[np.float64],
    offsets: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Raw ADU ``round(f E / GAIN + OFFSET)`` of each box pixel (0 off the CCD)."""
    on_ccd = (columns >= 1) & (columns <= N_PIXELS) & (rows >= 1) & (rows <= N_PIXELS)
    index = np.clip(columns, 1, N_PIXELS) - 1
    adu = np.rint(fractions * charge_ev[:, None, None] / gains[index] + offsets[index])
    return np.where(on_ccd, np.clip(adu, INT16.min, INT16.max), 0.0), on_ccd


def detect_events(
    rawx: ArrayLike,
    rawy: ArrayLike,
    sub_x: ArrayLike,
    sub_y: ArrayLike,
    charge_ev: ArrayLike,
    *,
    gains: ArrayLike,
    offsets: ArrayLike,
    cloud_sigma_px: ArrayLike,
    thresholds: EventThresholds,
    dead: NDArray[np.bool_] | None = None,
) -> DetectedEvents:
    """Split the charge of each photon, digitise it and run the onboard event finder.

    Parameters
    ----------
    rawx, rawy : array_like
        (n,) pixel hit by the photon, 1..256.
    sub_x, sub_y : array_like
        (n,) position in that pixel [pixel], -0.5..0.5 from its centre.
    charge_ev : array_like
        (n,) charge reaching the readout, in eV of equivalent energy (after CTI).
    gains, offsets : array_like
        (256,) GAIN [eV/ADU] and OFFSET [ADU] of RAWX = 1..256.
    cloud_sigma_px : array_like
        Charge cloud standard deviation [pixel], scalar or (n,).
    thresholds : EventThresholds
        EVTTHR and UPPERTHR [ADU], compared with ``a - OFFSET`` of the central pixel.
    dead : numpy.ndarray, optional
        (256, 256) bool mask ``[RAWY - 1, RAWX - 1]`` of pixels that collect no charge.

    Returns
    -------
    DetectedEvents
        Central pixel, PHAS and whether the event is kept.
    """
    x = np.asarray(rawx, dtype=np.int64).ravel()
    y = np.asarray(rawy, dtype=np.int64).ravel()
    gain = np.asarray(gains, dtype=np.float64)
    offset = np.asarray(offsets, dtype=np.float64)
    grid = np.arange(-2, 3)
    columns = x[:, None, None] + grid[None, None, :]  # (n, 1, 5), broadcast along rows
    rows = y[:, None, None] + grid[None, :, None]  # (n, 5, 1)
    fractions = charge_fractions(sub_x, sub_y, cloud_sigma_px, half_width=2)
    if dead is not None:
        inside = (columns >= 1) & (columns <= N_PIXELS) & (rows >= 1) & (rows <= N_PIXELS)
        is_dead = dead[np.clip(rows, 1, N_PIXELS) - 1, np.clip(columns, 1, N_PIXELS) - 1]
        fractions = np.where(inside & is_dead, 0.0, fractions)
    charge = np.asarray(charge_ev, dtype=np.float64).ravel()
    adu, on_ccd = _amplitudes(fractions, charge, columns, rows=rows, gains=gain, offsets=offset)
    net = np.where(on_ccd, adu - offset[np.clip(columns, 1, N_PIXELS) - 1], -np.inf)
    # Recentre on the brightest pixel of the inner 3 x 3 (index 0..8, row-major dy, dx).
    brightest = np.argmax(net[:, 1:4, 1:4].reshape(-1, 9), axis=1)
    cy, cx = 2 + BOX_DY[brightest], 2 + BOX_DX[brightest]
    box_rows = cy[:, None] + BOX_DY[None, :]
    box_cols = cx[:, None] + BOX_DX[None, :]
    events = np.arange(x.size)[:, None]
    phas = adu[events, box_rows, box_cols].astype(np.int16)
    box_net = net[events, box_rows, box_cols]
    centre = box_net[:, 4]
    kept = (
        (centre >= thresholds.event_adu)
        & (centre <= thresholds.upper_adu)
        & (centre >= box_net.max(axis=1))
    )
    return DetectedEvents(kept, x + BOX_DX[brightest], y + BOX_DY[brightest], phas)


def simulate_phas(  # noqa: PLR0917 (the closure tests call it positionally)
    energy_ev: ArrayLike,
    rawx: ArrayLike,
    rawy: ArrayLike,
    sub_x: ArrayLike,
    sub_y: ArrayLike,
    gains: ArrayLike,
    offsets: ArrayLike,
    cti: tuple[float, float, float],
    noise_sigma_ev: Callable[[np.ndarray], np.ndarray] | None,
    cloud_sigma_px: float,
    rng: np.random.Generator,
    *,
    cti_n_offset: int = 0,
) -> NDArray[np.int16]:
    """PHAS of photons in a fixed 3 x 3 box (no RMF, no event finder): for closure tests.

    Photons of ``energy_ev`` land at ``(sub_x, sub_y)`` [pixel, -0.5..0.5] from the centre
    of pixel (rawx, rawy); the charge loses CTI over ``RAWY + cti_n_offset`` transfers
    (CTI at the true energy), gets Gaussian noise of standard deviation
    ``noise_sigma_ev(energy_ev)`` [eV] (none if ``None``), and is shared among the 3 x 3
    pixels by the integral of the cloud (``cloud_sigma_px`` [pixel]) over each.

    Parameters
    ----------
    energy_ev, rawx, rawy, sub_x, sub_y : array_like
        (n,) true energy [eV], pixel (1-based) and position in the pixel [pixel].
    gains, offsets : array_like
        (256,) GAIN [eV/ADU] and OFFSET [ADU] of RAWX = 1..256.
    cti : tuple of float
        ``(CTI_NORM, CTI_E0 [keV], CTI_IDX)``.
    noise_sigma_ev : callable or None
        Detector noise [eV] as a function of the energy [eV].
    cloud_sigma_px : float
        Charge cloud standard deviation [pixel].
    rng : numpy.random.Generator
        Random stream (one normal per photon when there is noise).
    cti_n_offset : int
        CTI_NOFF.

    Returns
    -------
    numpy.ndarray
        (n, 9) int16 raw ADU (offset included), index ``3 * (dy + 1) + (dx + 1)``, 0 off
        the CCD.
    """
    energy = np.asarray(energy_ev, dtype=np.float64)
    law = CtiLaw(*cti, n_offset=cti_n_offset)
    measured = cti_loss(energy, energy, rawy, law)
    if noise_sigma_ev is not None:
        measured = measured + rng.normal(0.0, 1.0, measured.shape) * noise_sigma_ev(energy)
    fractions = charge_fractions(sub_x, sub_y, cloud_sigma_px, half_width=1)
    x = np.asarray(rawx, dtype=np.int64).reshape(-1, 1, 1)
    y = np.asarray(rawy, dtype=np.int64).reshape(-1, 1, 1)
    columns = x + BOX_DX.reshape(1, 3, 3)
    rows = y + BOX_DY.reshape(1, 3, 3)
    adu, _ = _amplitudes(
        fractions,
        measured,
        columns,
        rows=rows,
        gains=np.asarray(gains, dtype=np.float64),
        offsets=np.asarray(offsets, dtype=np.float64),
    )
    return adu.reshape(-1, 9).astype(np.int16)
