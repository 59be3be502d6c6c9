"""mxt-screen science: bad/hot/flickering pixels, STATUS bits (docs/event_formats.md)."""

from __future__ import annotations

import numpy as np
import pytest

from caldb_demodata import mxt_detector
from pipeline_bricks.mxt import screen as sc

N_FRAMES = 10_000  # 1000 s of 100 ms frames


def test_bad_pixel_mask_with_column_segments() -> None:
    mask = sc.bad_pixel_mask([10, 20, 30, 256], [1, 100, 40, 256], [256, 50, 1, 1])
    assert mask.shape == (256, 256)
    assert mask.sum() == 256 + 50 + 1 + 1
    assert mask[:, 9].all()  # RAWX 10, the whole column
    assert mask[99:149, 19].all()  # RAWX 20, RAWY 100..149
    assert not mask[98, 19]
    assert not mask[149, 19]
    assert mask[39, 29]  # RAWX 30, RAWY 40
    assert mask[255, 255]
    with pytest.raises(ValueError, match="past the last row"):
        sc.bad_pixel_mask([1], [250], [10])
    with pytest.raises(ValueError, match="outside"):
        sc.bad_pixel_mask([0], [1], [1])
    with pytest.raises(ValueError, match="YEXTENT"):
        sc.bad_pixel_mask([1], [1], [0])


def test_bad_pixel_mask_of_the_demonstration_badpix() -> None:
    table = mxt_detector.bad_pixel_table(2024)
    mask = sc.bad_pixel_mask(table["RAWX"], table["RAWY"], table["YEXTENT"])
    assert mask[table["RAWY"] - 1, table["RAWX"] - 1].all()
    assert mask[table["RAWY"] + table["YEXTENT"] - 2, table["RAWX"] - 1].all()
    assert 256 < mask.sum() <= table["YEXTENT"].sum()
    assert (table["YEXTENT"] == 256).any()


def test_pixels_to_mask() -> None:
    mask = sc.pixels_to_mask([(1, 2), (256, 3)])
    assert np.argwhere(mask).tolist() == [[1, 0], [2, 255]]
    assert not sc.pixels_to_mask([]).any()


def uniform_background(rng: np.random.Generator, per_pixel: float) -> list[np.ndarray]:
    """Events uniform over the CCD and the frames: (RAWX, RAWY, FRAME)."""
    n = rng.poisson(per_pixel * 65536)
    return [rng.integers(1, 257, n), rng.integers(1, 257, n), rng.integers(0, N_FRAMES, n)]


def inject(
    events: list[np.ndarray], pixel: tuple[int, int], frames: np.ndarray
) -> list[np.ndarray]:
    """Add one event per frame in ``frames`` on ``pixel``."""
    n = len(frames)
    extra = [np.full(n, pixel[0]), np.full(n, pixel[1]), np.asarray(frames)]
    return [np.concatenate([a, b]) for a, b in zip(events, extra, strict=True)]


def background_with_bad_pixels(
    seed: int, per_pixel: float
) -> tuple[list[np.ndarray], list[tuple[int, int]], list[tuple[int, int]]]:
    """Background + 3 hot pixels (60 counts spread in time) + 2 flickering pixels (a burst of
    6 events in 6 consecutive frames: too few counts to be hot)."""
    rng = np.random.default_rng(seed)
    events = uniform_background(rng, per_pixel)
    chosen = rng.choice(65536, 5, replace=False)
    pixels = [(int(p % 256) + 1, int(p // 256) + 1) for p in chosen]
    for pixel in pixels[:3]:
        events = inject(events, pixel, rng.choice(N_FRAMES, 60, replace=False))
    for pixel in pixels[3:]:
        events = inject(events, pixel, rng.integers(0, N_FRAMES - 6) + np.arange(6))
    return events, sorted(pixels[:3]), sorted(pixels[3:])


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("per_pixel", [0.3, 2.0])
def test_find_hot_and_flickering_pixels(seed: int, per_pixel: float) -> None:
    events, hot, flickering = background_with_bad_pixels(seed, per_pixel)
    assert sc.find_hot_pixels(*events, N_FRAMES) == sorted(hot + flickering)
    if per_pixel == 2.0:  # the flickering pixels are found by their timing, not their counts
        assert sc.find_hot_pixels(*events, N_FRAMES, windows=()) == hot


def test_no_false_positive_on_a_clean_ccd() -> None:
    for seed in range(10, 16):
        for per_pixel in (0.05, 1.0, 8.0):
            events = uniform_background(np.random.default_rng(seed), per_pixel)
            assert sc.find_hot_pixels(*events, N_FRAMES) == []


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_a_bright_fading_source_is_neither_hot_nor_flickering(seed: int) -> None:
    """An afterglow-like source: 30 000 counts, core sigma 8 pixels, rate ~ 1/(1 + 100 t/T)
    (most counts at the start), over a background of 2 counts per pixel."""
    rng = np.random.default_rng(seed)
    events = uniform_background(rng, 2.0)
    n = 30_000
    x, y = np.rint(rng.normal(100, 8, n)).astype(int), np.rint(rng.normal(150, 8, n)).astype(int)
    start = (np.exp(rng.uniform(size=n) * np.log(101.0)) - 1.0) / 100.0
    frames = np.minimum((start * N_FRAMES).astype(int), N_FRAMES - 1)
    events = [np.concatenate([a, b]) for a, b in zip(events, [x, y, frames], strict=True)]
    events = inject(events, (200, 40), rng.choice(N_FRAMES, 60, replace=False))
    events = inject(events, (30, 220), 5000 + np.arange(6))
    assert sc.find_hot_pixels(*events, N_FRAMES) == [(30, 220), (200, 40)]


def test_a_silent_bad_column_beside_a_source_makes_no_hot_pixel() -> None:
    """A source next to a bad column that records nothing: without BADPIX the column's
    zeros pull the local background of its neighbours down and they look hot; known as
    bad, the column is left out of the background and is not reported either."""
    rng = np.random.default_rng(31)
    events = uniform_background(rng, 2.0)
    n = 100_000
    x, y = np.rint(rng.normal(118, 8, n)).astype(int), np.rint(rng.normal(128, 8, n)).astype(int)
    events = [np.concatenate([a, b]) for a, b in zip(events, [x, y, rng.integers(0, N_FRAMES, n)],
                                                     strict=True)]  # fmt: skip
    silent = events[0] != 120
    events = [column[silent] for column in events]
    events = inject(events, (200, 40), rng.choice(N_FRAMES, 60, replace=False))
    bad = sc.bad_pixel_mask([120], [1], [256])
    assert len(sc.find_hot_pixels(*events, N_FRAMES)) > 1  # the flanks of the column
    assert sc.find_hot_pixels(*events, N_FRAMES, known_bad=bad) == [(200, 40)]
    with pytest.raises(ValueError, match="CCD shape"):
        sc.find_hot_pixels(*events, N_FRAMES, known_bad=np.zeros((4, 4), bool))


def test_find_hot_pixels_edge_cases() -> None:
    assert sc.find_hot_pixels([], [], [], N_FRAMES) == []
    with pytest.raises(ValueError, match="FRAME"):
        sc.find_hot_pixels([1], [1], [N_FRAMES], N_FRAMES)
    with pytest.raises(ValueError, match="outside"):
        sc.find_hot_pixels([257], [1], [0], N_FRAMES)
    # a pixel in a corner: the box is truncated by the CCD edges
    events = inject(
        uniform_background(np.random.default_rng(7), 1.0), (1, 1), np.arange(0, 5000, 100)
    )
    assert sc.find_hot_pixels(*events, N_FRAMES) == [(1, 1)]


def test_screen_events_status_bits_and_selection() -> None:
    #        ok    bad   hot   late  soft  hard  nan   pat-1 pat7  status-in
    time = [10.0, 10.0, 10.0, 60.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]
    rawx = [5, 1, 2, 5, 5, 5, 5, 5, 5, 5]
    rawy = [5, 1, 2, 5, 5, 5, 5, 5, 5, 5]
    pattern = [0, 0, 0, 0, 0, 0, 0, -1, 7, 0]
    energy = [1.0, 1.0, 1.0, 1.0, 0.1999, 10.0, np.nan, 1.0, 1.0, 1.0]
    status_in = [0, 0, 0, 0, 0, 0, 0, 1, 0, 32]
    bad = sc.pixels_to_mask([(1, 1), (2, 2)])
    hot = sc.pixels_to_mask([(2, 2)])
    keep, status = sc.screen_events(
        time,
        rawx,
        rawy,
        pattern,
        energy,
        gti=([0.0], [50.0]),
        bad_mask=bad,
        hot_mask=hot,
        status=status_in,
    )
    assert status.dtype == np.int16
    assert status.tolist() == [0, 2, 6, 8, 16, 16, 16, 1, 0, 32]
    assert keep.tolist() == [True] + [False] * 7 + [True, False]
    keep, _ = sc.screen_events(
        time, rawx, rawy, pattern, energy, gti=([0.0], [50.0]), patterns=(0, 4)
    )
    assert keep.tolist()[8] is False  # a valid triple, not in the 0..4 selection
    keep, status = sc.screen_events(
        time, rawx, rawy, pattern, energy, gti=([0.0], [100.0]), energy_band=(0.1, 20.0)
    )
    assert status.tolist() == [0, 0, 0, 0, 0, 0, 16, 1, 0, 0]
    assert keep.tolist() == [True] * 6 + [False, False, True, True]


def test_screen_events_refuses_mismatched_columns() -> None:
    with pytest.raises(ValueError, match="length"):
        sc.screen_events([1.0, 2.0], [1, 1], [1, 1], [0], [1.0, 1.0], gti=([0.0], [5.0]))
    with pytest.raises(ValueError, match="STATUS"):
        sc.screen_events([1.0], [1], [1], [0], [1.0], gti=([0.0], [5.0]), status=[0, 0])
