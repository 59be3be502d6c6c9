"""Good time intervals (GTIs): normalising, intersecting, testing times, exposure, steps.

GTIs are half-open intervals ``START <= t < STOP`` [s] in mission time, given as a pair
``(starts, stops)``; every function normalises its input (sorted, overlapping or touching
intervals merged, empty ones dropped). Used by mxt-screen, the products and detection.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "Gti",
    "gti_exposure",
    "gti_from_attitude",
    "gti_steps",
    "in_gti",
    "intersect_gtis",
    "normalise_gti",
]

Gti = tuple[np.ndarray, np.ndarray]


def normalise_gti(starts: Any, stops: Any) -> Gti:
    """Sorted, disjoint, non-empty intervals (overlapping or touching ones merged).

    Raises
    ------
    ValueError
        START and STOP differ in length, a bound is not finite, or an interval ends
        before it starts.
    """
    start, stop = np.asarray(starts, float).ravel(), np.asarray(stops, float).ravel()
    if start.shape != stop.shape or not np.all(np.isfinite(start) & np.isfinite(stop)):
        raise ValueError("GTI START and STOP must be finite and of the same length")
    if np.any(stop < start):
        raise ValueError("a GTI ends before it starts")
    order = np.argsort(start, kind="stable")
    keep = stop[order] > start[order]
    start, stop = start[order][keep], stop[order][keep]
    if start.size == 0:
        return start, stop
    first = np.ones(start.size, dtype=bool)
    first[1:] = start[1:] > np.maximum.accumulate(stop)[:-1]
    return start[first], np.maximum.reduceat(stop, np.flatnonzero(first))


def _contains(times: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """``start <= t < stop`` for normalised intervals."""
    if start.size == 0:
        return np.zeros(np.shape(times), dtype=bool)
    index = np.searchsorted(start, times, side="right") - 1
    return (index >= 0) & (times < stop[np.clip(index, 0, None)])


def gti_from_attitude(
    time: Any,
    settled: Any,
    in_saa: Any,
    min_length_s: float = 1.0,
    max_gap_s: float | None = None,
) -> Gti:
    """GTIs ``(starts, stops)`` [s] where the attitude is settled and out of the SAA.

    An interval runs from the first to the last good sample of a run of good attitude rows
    (``SETTLED`` true, ``IN_SAA`` false; the state is known only at the samples, so this
    is conservative by up to one step at each edge). ``time`` [s] must increase strictly.
    Intervals shorter than ``min_length_s`` [s] are dropped (zero-length ones always are);
    a step longer than ``max_gap_s`` [s] (default 1.5 times the median step: missing rows)
    ends an interval.
    """
    t = np.asarray(time, float).ravel()
    settled, in_saa = np.asarray(settled, bool).ravel(), np.asarray(in_saa, bool).ravel()
    if not t.shape == settled.shape == in_saa.shape:
        raise ValueError("TIME, SETTLED and IN_SAA differ in length")
    good = settled & ~in_saa
    if np.any(np.diff(t) <= 0):
        raise ValueError("attitude TIME must be strictly increasing")
    if t.size < 2:
        return np.empty(0), np.empty(0)
    gap = 1.5 * float(np.median(np.diff(t))) if max_gap_s is None else max_gap_s
    linked = good[1:] & good[:-1] & (np.diff(t) <= gap)
    begins, ends = good.copy(), good.copy()
    begins[1:] &= ~linked
    ends[:-1] &= ~linked
    starts, stops = t[begins], t[ends]
    keep = (stops - starts >= min_length_s) & (stops > starts)
    return starts[keep], stops[keep]


def intersect_gtis(a: tuple[Any, Any], b: tuple[Any, Any], *more: tuple[Any, Any]) -> Gti:
    """Intersection of two (or more) GTI lists, each ``(starts, stops)`` [s]."""
    gtis = [normalise_gti(*g) for g in (a, b, *more)]
    edges = np.unique(np.concatenate([np.concatenate(g) for g in gtis]))
    if edges.size < 2:
        return np.empty(0), np.empty(0)
    low, high = edges[:-1], edges[1:]
    middle = 0.5 * (low + high)
    inside = np.logical_and.reduce([_contains(middle, *g) for g in gtis])
    return normalise_gti(low[inside], high[inside])


def in_gti(times: Any, starts: Any, stops: Any) -> np.ndarray:
    """Boolean mask of the times [s] inside the GTIs (``START <= t < STOP``)."""
    return _contains(np.asarray(times, float), *normalise_gti(starts, stops))


def gti_exposure(starts: Any, stops: Any) -> float:
    """Total length of the GTIs [s] (overlaps counted once): the ``ONTIME``."""
    start, stop = normalise_gti(starts, stops)
    return float(np.sum(stop - start))


def gti_steps(starts: Any, stops: Any, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The GTIs cut into steps of at most ``step_s`` [s]: their middles and lengths [s].

    Each interval is cut into ``ceil(length / step_s)`` equal steps, so no step spans a
    gap; used to sample the attitude over the good time (exposure maps, mean pointing).

    Raises
    ------
    ValueError
        ``step_s`` is not a positive number, or the GTIs are invalid (:func:`normalise_gti`).
    """
    if not (np.isfinite(step_s) and step_s > 0):
        raise ValueError(f"step_s must be a positive number of seconds, not {step_s}")
    start, stop = normalise_gti(starts, stops)
    n_steps = np.maximum(1, np.ceil((stop - start) / step_s)).astype(np.int64)
    which = np.repeat(np.arange(start.size), n_steps)
    index = np.arange(which.size) - np.repeat(np.cumsum(n_steps) - n_steps, n_steps)
    duration = ((stop - start) / n_steps)[which]
    return start[which] + (index + 0.5) * duration, duration
