"""MXT event screening: bad, hot and flickering pixels, STATUS bits (GTIs: :mod:`.gti`).

Pure science of the ``mxt-screen`` brick (docs/event_formats.md §3). Everything is
vectorised with numpy; times are mission seconds, RAWX/RAWY 1-based, pixel masks are numpy
arrays indexed ``mask[RAWY - 1, RAWX - 1]``.

Hot and flickering pixels (:func:`find_hot_pixels`) -- the statistics:

* Expected counts of pixel ``i``: ``lam_i = max(local_i, floor)`` with ``local_i`` the mean
  counts of the other pixels of the ``(2h+1)^2`` box around it (pixels already flagged
  excluded, ``h = 3``) and ``floor`` the larger of the CCD median of ``local`` and the CCD
  mean counts per unflagged pixel. The local mean follows sources (the MXT PSF core is ~19
  pixels FWHM, smooth at the pixel scale) so their pixels are not flagged; the floor keeps
  downward fluctuations of the local mean from creating detections.
* Hot: ``P(N >= c_i | Poisson(lam_i)) < threshold`` with ``c_i`` the counts of the pixel.
* Flickering (events bunched in time): frames are grouped in windows of ``W`` frames (each
  width twice, shifted by ``W/2``, so a burst cannot hide across a boundary). ``k`` events
  of the pixel in one window are flagged if ``P(N >= k | mu)`` times the number of windows
  tried per pixel (Bonferroni) is below ``threshold``, ``mu = max(lam_i W / n_frames, m)``
  with ``m`` the mean counts of the box neighbours in the same window: a flaring or fading
  source brightens its neighbours at the same time, a flickering pixel does not.
* Both need at least ``min_counts`` events (3) in the pixel / window; ``threshold`` is thus
  a per-pixel false-alarm probability of each test: on a clean 256 x 256 CCD the expected
  number of false detections is at most ``2 * 65536 * threshold`` (0.013 for 1e-7).
* Poisson tails use the bound ``P(N >= k) <= p(k) (k + 1)/(k + 1 - mu)`` (``k + 1 > mu``),
  tight where it matters (``k >> mu``) and conservative (never flags more than the exact
  tail would).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from pipeline_bricks.mxt.gti import in_gti

STATUS_INVALID_PATTERN = 1
STATUS_BAD_PIXEL = 2
STATUS_HOT_PIXEL = 4
STATUS_OUTSIDE_GTI = 8
STATUS_OUT_OF_BAND = 16
VALID_PATTERNS = (0, 12)  # X-ray patterns of mxt-calibrate; -1 = not an X-ray pattern
CCD_SHAPE = (256, 256)  # (RAWY, RAWX)
MAX_ITERATIONS = 5


def _pixel_index(rawx: Any, rawy: Any, shape: tuple[int, int]) -> np.ndarray:
    """Flat index ``(RAWY - 1) * nx + RAWX - 1``; ValueError off the CCD."""
    x, y = np.asarray(rawx).ravel(), np.asarray(rawy).ravel()
    if x.shape != y.shape:
        raise ValueError("RAWX and RAWY differ in length")
    if np.any((x < 1) | (x > shape[1]) | (y < 1) | (y > shape[0])):
        raise ValueError(f"RAWX/RAWY outside 1..{shape[1]} x 1..{shape[0]}")
    return (y.astype(np.int64) - 1) * shape[1] + (x.astype(np.int64) - 1)


def bad_pixel_mask(
    rawx: Any, rawy: Any, yextent: Any, shape: tuple[int, int] = CCD_SHAPE
) -> np.ndarray:
    """Mask of the BADPIX pixels (``RAWX``, ``RAWY .. RAWY + YEXTENT - 1``).

    ``rawx``, ``rawy``, ``yextent``: the BADPIX rows (1-based column, first row, number of
    pixels flagged upwards, >= 1); ``shape = (n_rows, n_columns)``. Returns a bool array of
    ``shape``, True at ``[RAWY - 1, RAWX - 1]`` of every bad pixel.
    """
    extent = np.asarray(yextent, np.int64).ravel()
    first = _pixel_index(rawx, rawy, shape)
    if extent.shape != first.shape or np.any(extent < 1):
        raise ValueError("YEXTENT must be >= 1, one per BADPIX row")
    if np.any(first // shape[1] + extent > shape[0]):
        raise ValueError("a BADPIX segment runs past the last row")
    offsets = np.arange(extent.sum()) - np.repeat(np.cumsum(extent) - extent, extent)
    mask = np.zeros(shape[0] * shape[1], dtype=bool)
    mask[np.repeat(first, extent) + offsets * shape[1]] = True
    return mask.reshape(shape)


def pixels_to_mask(
    pixels: Iterable[tuple[int, int]], shape: tuple[int, int] = CCD_SHAPE
) -> np.ndarray:
    """Mask of a list of ``(RAWX, RAWY)`` pixels (e.g. from :func:`find_hot_pixels`)."""
    xy = np.array(list(pixels), dtype=np.int64).reshape(-1, 2)
    return bad_pixel_mask(xy[:, 0], xy[:, 1], np.ones(len(xy), np.int64), shape)


def _box_sum(image: np.ndarray, half: int) -> np.ndarray:
    """Sum over the ``(2 half + 1)^2`` box around each pixel (zeros outside), via cumsums."""
    n = 2 * half + 1
    table = np.pad(image, ((half + 1, half), (half + 1, half))).cumsum(0).cumsum(1)
    return table[n:, n:] - table[:-n, n:] - table[n:, :-n] + table[:-n, :-n]


def _log_tail(k: np.ndarray, mu: np.ndarray, log_factorial: np.ndarray) -> np.ndarray:
    """Log of an upper bound of ``P(N >= k)``, ``N ~ Poisson(mu)``, for integers ``k >= 1``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = k * np.log(mu) - mu - log_factorial[k]
        bound = log_pmf - np.log1p(-mu / (k + 1))
    return np.where(mu < k + 1, np.minimum(bound, 0.0), 0.0)


def _expected_counts(counts: np.ndarray, flagged: np.ndarray, half: int) -> np.ndarray:
    """``lam_i``: local mean of the other unflagged pixels of the box, floored (module doc)."""
    good = (~flagged).astype(float)
    total = _box_sum(counts * good, half) - counts * good
    number = _box_sum(good, half) - good
    local = np.divide(total, number, out=np.zeros_like(total), where=number > 0)
    floor = max(float(np.median(local[~flagged])), float(counts[~flagged].mean()))
    return np.maximum(local, floor)


def _window_mean(
    pix: np.ndarray,
    win: np.ndarray,
    scan: tuple[np.ndarray, np.ndarray, int],
    good: np.ndarray,
    half: int,
) -> np.ndarray:
    """Mean counts in window ``win`` of the other ``good`` pixels of the box around ``pix``."""
    keys, k, n_windows = scan
    shape, good = good.shape, good.ravel()
    dy, dx = (d.ravel() for d in np.mgrid[-half : half + 1, -half : half + 1])
    centre = (dy == 0) & (dx == 0)
    rows, columns = (
        a[:, None] + d[~centre] for a, d in zip(np.divmod(pix, shape[1]), (dy, dx), strict=True)
    )
    inside = (rows >= 0) & (rows < shape[0]) & (columns >= 0) & (columns < shape[1])
    neighbour = np.where(inside, rows * shape[1] + columns, 0)
    inside &= good[neighbour]
    key = neighbour * n_windows + win[:, None]
    index = np.clip(np.searchsorted(keys, key), 0, max(keys.size - 1, 0))
    total = np.where(inside & (keys[index] == key), k[index], 0).sum(axis=1)
    number = inside.sum(axis=1)
    return np.divide(total, number, out=np.zeros(pix.size), where=number > 0)


def _run_lengths(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and their counts (``np.unique`` without a sort)."""
    change = np.empty(values.size, dtype=bool)
    change[:1] = True
    np.not_equal(values[1:], values[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    return values[starts], np.diff(np.append(starts, values.size))


def find_hot_pixels(
    rawx: Any,
    rawy: Any,
    frame: Any,
    n_frames: int,
    threshold_probability: float = 1e-7,
    *,
    windows: Sequence[int] = (4, 16, 64),
    min_counts: int = 3,
    box_half_width: int = 3,
    shape: tuple[int, int] = CCD_SHAPE,
    known_bad: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """Hot and flickering pixels found in the events themselves (statistics: module doc).

    Parameters
    ----------
    rawx, rawy, frame : array_like of int
        Central pixel (1-based) and ``FRAME`` (0 .. ``n_frames - 1``) of each event.
    n_frames : int
        Number of frames of the observation.
    threshold_probability : float
        Per-pixel false-alarm probability of each test.
    windows : sequence of int
        Widths [frames] of the windows of the flickering test.
    min_counts : int
        Fewest events (pixel total, or in one window) that can be flagged (>= 1).
    box_half_width : int
        Half-width ``h`` [pixel] of the local background box.
    shape : tuple of int
        ``(n_rows, n_columns)`` of the CCD.
    known_bad : numpy.ndarray, optional
        Bool mask ``[RAWY - 1, RAWX - 1]`` of pixels already known bad (BADPIX): left out
        of the background of the others from the start (a dead or silent bad column would
        otherwise make its neighbours look hot) and not reported.

    Returns
    -------
    list of tuple of int
        ``(RAWX, RAWY)`` of the hot or flickering pixels found, sorted.
    """
    pixel = _pixel_index(rawx, rawy, shape)
    frames = np.asarray(frame, np.int64).ravel()
    if frames.shape != pixel.shape or np.any((frames < 0) | (frames >= n_frames)):
        raise ValueError(f"FRAME must be in 0..{n_frames - 1}, one per event")
    if min_counts < 1 or threshold_probability <= 0 or any(w < 1 for w in windows):
        raise ValueError("min_counts and windows must be >= 1, threshold_probability > 0")
    counts = np.bincount(pixel, minlength=shape[0] * shape[1]).astype(float)
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1.0, counts.max() + 1)))])
    log_threshold = np.log(threshold_probability)
    # One sort by (pixel, frame): the window keys of every scan are then already sorted.
    pixel_sorted, frame_sorted = np.divmod(np.sort(pixel * n_frames + frames), n_frames)
    scans = []
    for width in windows:
        for shift in sorted({0, width // 2}):
            n_windows = (n_frames - 1 + shift) // width + 1
            keys, k = _run_lengths(pixel_sorted * n_windows + (frame_sorted + shift) // width)
            busy = np.flatnonzero(k >= min_counts)  # the only windows that can be flagged
            pix, win = np.divmod(keys[busy], n_windows)
            scans.append((keys, k, n_windows, width, pix, win, k[busy]))
    log_trials = np.log(max(1, sum(scan[2] for scan in scans)))
    known = np.zeros(counts.size, bool) if known_bad is None else np.asarray(known_bad, bool)
    if known.size != counts.size:
        raise ValueError(f"known_bad must have the CCD shape {shape}")
    flagged = known.ravel().copy()
    for _ in range(MAX_ITERATIONS):  # flagged pixels leave the background of the others
        lam = _expected_counts(counts.reshape(shape), flagged.reshape(shape), box_half_width)
        lam = lam.ravel()
        found = (counts >= min_counts) & (
            _log_tail(counts.astype(np.int64), lam, log_factorial) < log_threshold
        )
        for keys, k, n_windows, width, pix, win, k_busy in scans:
            mu = lam[pix] * width / n_frames
            log_p = _log_tail(k_busy, mu, log_factorial) + log_trials
            cand = np.flatnonzero(log_p < log_threshold)
            scan = (keys, k, n_windows)
            good = ~flagged.reshape(shape)
            mean = _window_mean(pix[cand], win[cand], scan, good, box_half_width)
            log_p = _log_tail(k_busy[cand], np.maximum(mu[cand], mean), log_factorial)
            found[pix[cand[log_p + log_trials < log_threshold]]] = True
        if not np.any(found & ~flagged):
            break
        flagged |= found
    rows, columns = np.divmod(np.flatnonzero(flagged & ~known.ravel()), shape[1])
    return sorted(zip((columns + 1).tolist(), (rows + 1).tolist(), strict=True))


def screen_events(
    time: Any,
    rawx: Any,
    rawy: Any,
    pattern: Any,
    energy: Any,
    *,
    gti: tuple[Any, Any],
    bad_mask: np.ndarray | None = None,
    hot_mask: np.ndarray | None = None,
    energy_band: tuple[float, float] = (0.2, 10.0),
    patterns: tuple[int, int] = VALID_PATTERNS,
    status: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """STATUS bits of each event and the mask of the events kept.

    Parameters
    ----------
    time, rawx, rawy, pattern, energy : array_like
        Event ``TIME`` [s], central pixel (1-based), ``PATTERN`` from mxt-calibrate (0..12
        X-ray patterns, -1 invalid) and ``ENERGY`` [keV] (NaN counts as out of band).
    gti : tuple
        ``(starts, stops)`` [s].
    bad_mask, hot_mask : numpy.ndarray, optional
        Pixel masks ``[RAWY - 1, RAWX - 1]`` (:func:`bad_pixel_mask`, :func:`pixels_to_mask`).
    energy_band : tuple of float
        Kept band ``lo <= ENERGY < hi`` [keV].
    patterns : tuple of int
        Kept ``PATTERN`` range, inclusive (0..12 all X-ray patterns, 0..4 singles+doubles).
    status : array_like of int, optional
        Incoming ``STATUS`` (bits kept, OR-ed with the new ones).

    Returns
    -------
    keep : numpy.ndarray
        Bool: ``STATUS == 0`` and ``PATTERN`` within ``patterns``.
    status : numpy.ndarray
        int16 ``STATUS``: bit 1 pattern outside 0..12 (as mxt-calibrate sets it), 2 BADPIX
        pixel, 4 hot or flickering pixel, 8 outside the GTIs, 16 energy out of the band.
    """
    t = np.asarray(time, float).ravel()
    pat = np.asarray(pattern, np.int64).ravel()
    e = np.asarray(energy, float).ravel()
    shape = CCD_SHAPE if bad_mask is None else np.shape(bad_mask)
    index = _pixel_index(rawx, rawy, shape)
    if not (t.shape == pat.shape == e.shape == index.shape):
        raise ValueError("event columns differ in length")
    bits = np.zeros(t.size, np.int16) if status is None else np.array(status, np.int16).ravel()
    if bits.shape != t.shape:
        raise ValueError("STATUS differs in length from the events")
    bits[(pat < VALID_PATTERNS[0]) | (pat > VALID_PATTERNS[1])] |= STATUS_INVALID_PATTERN
    for mask, bit in ((bad_mask, STATUS_BAD_PIXEL), (hot_mask, STATUS_HOT_PIXEL)):
        if mask is not None:
            bits[np.asarray(mask, bool).ravel()[index]] |= bit
    bits[~in_gti(t, *gti)] |= STATUS_OUTSIDE_GTI
    bits[~((e >= energy_band[0]) & (e < energy_band[1]))] |= STATUS_OUT_OF_BAND
    keep = (bits == 0) & (pat >= patterns[0]) & (pat <= patterns[1])
    return keep, bits
