"""Gaps of a light curve between its GTIs, each with its cause (from the attitude flags).

A gap is an interval between two GTIs (and, given the observation's ``tstart``/``tstop``,
before the first or after the last one). Its parts are labelled from the attitude rows
(``SETTLED``, ``IN_SAA``, one per second in the MXT attitude file):

* ``'SAA'``: an attitude row in the gap is flagged ``IN_SAA``;
* ``'slew/not settled'``: a row is not ``SETTLED`` (and not in the SAA);
* ``'no data'``: neither (settled and out of the SAA but no good time: telemetry loss,
  a GTI shorter than the screening minimum...), or no attitude row at all.

The state is known only at the rows, so a flagged row stands for the whole time to its
neighbouring rows (the state may have changed just after the previous one). The
SAA has priority over the slew where both apply. Parts of one gap are split where the
cause changes, so a gap made of a slew followed by an SAA passage gives two gaps.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from pipeline_bricks.mxt.products._common import checked_gti

__all__ = ["CAUSES", "Gap", "find_gaps"]

CAUSES = ("SAA", "slew/not settled", "no data")
_SAA, _SLEW, _NO_DATA = range(3)


class Gap(NamedTuple):
    """A gap ``[start, stop)`` [s] of the light curve and its cause (one of :data:`CAUSES`)."""

    start: float
    stop: float
    cause: str


def _gap_intervals(
    start: np.ndarray, stop: np.ndarray, tstart: float | None, tstop: float | None
) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = stop[:-1], start[1:]
    if tstart is not None and tstart < start[0]:
        lo, hi = np.concatenate([[tstart], lo]), np.concatenate([[start[0]], hi])
    if tstop is not None and tstop > stop[-1]:
        lo, hi = np.concatenate([lo, [stop[-1]]]), np.concatenate([hi, [tstop]])
    return lo, hi


def _coverage(
    att_time: np.ndarray, flagged: np.ndarray, max_step: float
) -> tuple[np.ndarray, np.ndarray]:
    """Intervals ``[t_(i-1), t_(i+1)]`` around the flagged rows (at most ``max_step`` away)."""
    index = np.flatnonzero(flagged)
    before = np.concatenate([[-np.inf], att_time[:-1]])[index]
    after = np.concatenate([att_time[1:], [np.inf]])[index]
    t = att_time[index]
    return np.maximum(before, t - max_step), np.minimum(after, t + max_step)


def _covered(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether each point lies in the union of the intervals ``[lo, hi)``."""
    return np.searchsorted(np.sort(lo), points, "right") > np.searchsorted(
        np.sort(hi), points, "right"
    )


def _checked_attitude(
    att_time: Any, settled: Any, in_saa: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(att_time, dtype=np.float64).ravel()
    flags = [np.asarray(f).ravel() for f in (settled, in_saa)]
    if any(f.shape != t.shape for f in flags):
        raise ValueError("attitude TIME, SETTLED and IN_SAA differ in length")
    if any(f.dtype != bool for f in flags):
        raise ValueError("SETTLED and IN_SAA must be boolean arrays")
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError("attitude TIME must be non-empty, finite and strictly increasing")
    return t, flags[0], flags[1]


def find_gaps(
    gti: tuple[Any, Any],
    att_time: Any = None,
    settled: Any = None,
    in_saa: Any = None,
    *,
    tstart: float | None = None,
    tstop: float | None = None,
    max_step_s: float | None = None,
) -> list[Gap]:
    """The gaps between the GTIs and their causes (module doc).

    Parameters
    ----------
    gti : tuple of array_like
        ``(starts, stops)`` [s] of the light curve.
    att_time, settled, in_saa : array_like, optional
        Attitude ``TIME`` [s] (strictly increasing) and the bool ``SETTLED``, ``IN_SAA``
        columns. Without them every gap is ``'no data'``.
    tstart, tstop : float, optional
        Observation start and stop [s]: the time before the first and after the last GTI
        also counts as a gap.
    max_step_s : float, optional
        Longest time a row stands for on each side [s]; default 1.5 times the median step
        of the attitude table (missing rows are then ``'no data'``).

    Returns
    -------
    list of Gap
        Sorted, non-overlapping ``(start, stop, cause)``; empty when the GTIs leave no gap.

    Raises
    ------
    ValueError
        Empty GTIs, ``tstart`` not before ``tstop``, attitude arrays of different
        lengths, not boolean flags, a non-increasing attitude time, or
        ``max_step_s <= 0``.
    """
    start, stop = checked_gti(gti)
    if tstart is not None and tstop is not None and not tstart < tstop:
        raise ValueError(f"tstart {tstart} must be before tstop {tstop}")
    lo, hi = _gap_intervals(start, stop, tstart, tstop)
    if lo.size == 0:
        return []
    given = [a is not None for a in (att_time, settled, in_saa)]
    if any(given) and not all(given):
        raise ValueError("give the attitude TIME, SETTLED and IN_SAA together (or none)")
    if not all(given):
        return [Gap(float(a), float(b), CAUSES[_NO_DATA]) for a, b in zip(lo, hi, strict=True)]
    t, good, saa = _checked_attitude(att_time, settled, in_saa)
    median_step = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    step = 1.5 * median_step if max_step_s is None else float(max_step_s)
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"max_step_s must be positive, not {max_step_s}")
    saa_lo, saa_hi = _coverage(t, saa, step)
    slew_lo, slew_hi = _coverage(t, ~good & ~saa, step)
    # Elementary pieces between every boundary inside the gaps, then one cause each.
    edges = np.unique(np.concatenate([lo, hi, saa_lo, saa_hi, slew_lo, slew_hi]))
    edges = edges[np.isfinite(edges)]
    left, right = edges[:-1], edges[1:]
    middle = 0.5 * (left + right)
    in_gap = _covered(middle, lo, hi)
    left, right, middle = left[in_gap], right[in_gap], middle[in_gap]
    cause = np.full(middle.size, _NO_DATA)
    cause[_covered(middle, slew_lo, slew_hi)] = _SLEW
    cause[_covered(middle, saa_lo, saa_hi)] = _SAA
    # Merge touching pieces of the same cause.
    new = np.ones(middle.size, dtype=bool)
    new[1:] = (cause[1:] != cause[:-1]) | (left[1:] > right[:-1])
    first = np.flatnonzero(new)
    last = np.append(first[1:], middle.size) - 1
    return [
        Gap(float(left[i]), float(right[j]), CAUSES[cause[i]])
        for i, j in zip(first, last, strict=True)
    ]
