"""MXT energy scale: gain/offset, CTI and PHA -> PI (pure numpy), after the patterns.

The science of the ``mxt-calibrate`` brick (docs/calibration_formats.md §3.3,
docs/event_formats.md §1 and §3); the 3 x 3 pattern analysis is :mod:`.patterns`. No FITS
I/O here and no loop over events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pipeline_bricks.mxt.patterns import PhasBox

__all__ = [
    "STATUS_INVALID_PATTERN",
    "STATUS_OUT_OF_BAND",
    "CalibratedEvents",
    "calibrate_events",
    "cti_correct",
    "to_pi",
]

STATUS_INVALID_PATTERN = 1
STATUS_OUT_OF_BAND = 16


@dataclass(frozen=True)
class CalibratedEvents:
    """The columns ``mxt-calibrate`` adds to the event list (docs/event_formats.md §3).

    Attributes
    ----------
    pha : numpy.ndarray
        (n,) int32 [ADU], offset-subtracted pattern sum, rounded (column ``PHA``, J).
    pattern, multiplicity : numpy.ndarray
        (n,) int16, see :class:`~pipeline_bricks.mxt.patterns.Patterns` (columns
        ``PATTERN``, ``MULTIPLICITY``, I).
    energy : numpy.ndarray
        (n,) float32 [keV] after gain, offset and CTI (column ``ENERGY``, E).
    pi : numpy.ndarray
        (n,) int32 10 eV channel (column ``PI``, J); see :func:`to_pi` out of the band.
    status : numpy.ndarray
        (n,) int16, the input STATUS with bit 1 (invalid pattern) and bit 16 (PI outside
        0..1023) set where they apply.
    """

    pha: NDArray[np.int32]
    pattern: NDArray[np.int16]
    multiplicity: NDArray[np.int16]
    energy: NDArray[np.float32]
    pi: NDArray[np.int32]
    status: NDArray[np.int16]


def cti_correct(
    energy_ev: ArrayLike,
    rawy: ArrayLike,
    cti_norm: float,
    cti_e0_kev: float,
    cti_index: float,
    *,
    n_offset: int = 0,
) -> NDArray[np.float64]:
    """Undo the parallel charge transfer loss: ``E = E_meas / (1 - CTI(E_meas)) ** N``.

    Parameters
    ----------
    energy_ev : array_like
        Measured energy ``E_meas`` [eV].
    rawy : array_like
        Row of the central pixel, 1..256 (broadcast against ``energy_ev``).
    cti_norm, cti_e0_kev, cti_index : float
        Keywords CTI_NORM, CTI_E0 [keV], CTI_IDX: ``CTI(E) = CTI_NORM * (E / CTI_E0) **
        -CTI_IDX``, fraction of the charge lost per transfer, E in keV.
    n_offset : int, optional
        CTI_NOFF: the number of transfers is ``N = RAWY + n_offset``.

    Returns
    -------
    numpy.ndarray
        Corrected energy [eV]; energies <= 0 are returned unchanged.
    """
    measured = np.asarray(energy_ev, dtype=np.float64)
    positive = measured > 0
    kev = np.where(positive, measured, 1000.0 * cti_e0_kev) / 1000.0
    cti = cti_norm * (kev / cti_e0_kev) ** (-cti_index)
    transfers = np.asarray(rawy, dtype=np.float64) + n_offset
    return np.where(positive, measured / (1.0 - cti) ** transfers, measured)


def to_pi(
    energy_ev: ArrayLike, ev_per_channel: float = 10.0, n_channels: int = 1024
) -> tuple[NDArray[np.int32], NDArray[np.bool_]]:
    """PI channel ``floor(E / ev_per_channel)`` on the EBOUNDS grid of the RMF.

    Parameters
    ----------
    energy_ev : array_like
        Calibrated energy [eV].
    ev_per_channel : float, optional
        Channel width [eV] (10 eV: channel k covers 0.01 k .. 0.01 (k + 1) keV).
    n_channels : int, optional
        Number of channels (DETCHANS; TLMIN = 0, TLMAX = n_channels - 1).

    Returns
    -------
    pi : numpy.ndarray
        int32 channel; out of the band it is -1 (below 0 eV, or not a number) or
        ``n_channels`` (at or above ``n_channels * ev_per_channel``), never a valid channel.
    valid : numpy.ndarray
        bool, ``0 <= pi <= n_channels - 1``.
    """
    energy = np.asarray(energy_ev, dtype=np.float64)
    channel = np.floor(energy / ev_per_channel)
    valid = (energy >= 0) & (channel <= n_channels - 1)
    pi = np.where(energy >= 0, np.minimum(channel, n_channels), -1).astype(np.int32)
    return pi, valid


def calibrate_events(
    phas: ArrayLike,
    rawx: ArrayLike,
    rawy: ArrayLike,
    gains: ArrayLike,
    offsets: ArrayLike,
    *,
    split_threshold_adu: float,
    cti_norm: float,
    cti_e0_kev: float,
    cti_index: float,
    cti_n_offset: int = 0,
    status: ArrayLike | None = None,
    ev_per_channel: float = 10.0,
    n_channels: int = 1024,
) -> CalibratedEvents:
    """PHAS -> PHA, PATTERN, MULTIPLICITY, ENERGY, PI, STATUS (calibration_formats.md §3.3).

    Parameters
    ----------
    phas : array_like
        (n, 9) raw amplitudes [ADU], offset included.
    rawx, rawy : array_like
        (n,) central pixel, 1..256.
    gains, offsets : array_like
        (256,) columns GAIN [eV/ADU] and OFFSET [ADU] of the GAIN table, RAWX = 1..256.
    split_threshold_adu : float
        SPLTHR [ADU], compared with ``a - OFFSET``.
    cti_norm, cti_e0_kev, cti_index, cti_n_offset
        CTI keywords CTI_NORM, CTI_E0 [keV], CTI_IDX, CTI_NOFF (see :func:`cti_correct`).
    status : array_like, optional
        (n,) STATUS read from the event list (0 if not given); its bits are kept.
    ev_per_channel, n_channels
        PI grid (see :func:`to_pi`).

    Returns
    -------
    CalibratedEvents
        The new columns. Invalid patterns still get an energy (sum over their pixels
        above the split threshold) and STATUS bit 1; PI outside 0..1023 sets bit 16.
    """
    box = PhasBox.build(phas, rawx, offsets, rawy)
    patterns, sums = box.patterns(split_threshold_adu)
    measured = box.energy_ev(sums, gains)
    energy = cti_correct(measured, rawy, cti_norm, cti_e0_kev, cti_index, n_offset=cti_n_offset)
    pi, valid = to_pi(energy, ev_per_channel, n_channels)
    n = patterns.pattern.shape[0]
    flags = np.zeros(n, np.int16) if status is None else np.array(status, np.int16).reshape(n)
    flags |= np.where(patterns.pattern < 0, STATUS_INVALID_PATTERN, 0).astype(np.int16)
    flags |= np.where(valid, 0, STATUS_OUT_OF_BAND).astype(np.int16)
    return CalibratedEvents(
        pha=np.rint(patterns.pha_adu).astype(np.int32),
        pattern=patterns.pattern,
        multiplicity=patterns.multiplicity,
        energy=(energy / 1000.0).astype(np.float32),
        pi=pi,
        status=flags,
    )
