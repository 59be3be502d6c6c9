"""mxt-calibrate science: pattern grading, gain/offset per column, CTI, PI, and line closure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_bricks.mxt.calibrate import (
    STATUS_INVALID_PATTERN,
    STATUS_OUT_OF_BAND,
    calibrate_events,
    cti_correct,
    to_pi,
)
from pipeline_bricks.mxt.patterns import (
    MULTIPLICITY_OF_PATTERN,
    PATTERN_TABLE,
    pattern_energy_ev,
    reconstruct_patterns,
)
from tests.pipeline.mxt_values import CTI_EPOCH, SPLIT

FUZZ = settings(max_examples=200, deadline=None)
EDGES = [(1, 0), (0, 1), (-1, 0), (0, -1)]  # +x, +y, -x, -y
QUADRANTS = [((1, 0), (0, 1)), ((-1, 0), (0, 1)), ((-1, 0), (0, -1)), ((1, 0), (0, -1))]


def index(dx: int, dy: int) -> int:
    return 3 * (dy + 1) + (dx + 1)


def mask_of(cells: set[tuple[int, int]]) -> int:
    return sum(1 << index(dx, dy) for dx, dy in cells)


def classify(cells: set[tuple[int, int]]) -> int:
    """The grading rules of docs/event_formats.md §3, written out case by case."""
    if (0, 0) not in cells:
        return -1
    others = cells - {(0, 0)}
    if not others:
        return 0
    if len(others) == 1 and next(iter(others)) in EDGES:
        return 1 + EDGES.index(next(iter(others)))
    for quadrant, (ex, ey) in enumerate(QUADRANTS):
        if others == {ex, ey}:
            return 5 + quadrant
        if others == {ex, ey, (ex[0], ey[1])}:
            return 9 + quadrant
    return -1


def cells_of(mask: int) -> set[tuple[int, int]]:
    return {(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if mask >> index(dx, dy) & 1}


def transform(mask: int, matrix: tuple[tuple[int, int], tuple[int, int]]) -> int:
    (a, b), (c, d) = matrix
    return mask_of({(a * dx + b * dy, c * dx + d * dy) for dx, dy in cells_of(mask)})


ROTATE = ((0, -1), (1, 0))  # (dx, dy) -> (-dy, dx): +x -> +y -> -x -> -y
MIRROR_X = ((-1, 0), (0, 1))
SYMMETRIES = [ROTATE, MIRROR_X, ((0, 1), (1, 0)), ((-1, 0), (0, -1))]


# --- the lookup table -----------------------------------------------------------------------


def test_table_holds_the_thirteen_valid_patterns():
    expected = {
        0: set(),
        1: {(1, 0)},
        2: {(0, 1)},
        3: {(-1, 0)},
        4: {(0, -1)},
        5: {(1, 0), (0, 1)},
        6: {(-1, 0), (0, 1)},
        7: {(-1, 0), (0, -1)},
        8: {(1, 0), (0, -1)},
        9: {(1, 0), (0, 1), (1, 1)},
        10: {(-1, 0), (0, 1), (-1, 1)},
        11: {(-1, 0), (0, -1), (-1, -1)},
        12: {(1, 0), (0, -1), (1, -1)},
    }
    for code, cells in expected.items():
        assert PATTERN_TABLE[mask_of(cells | {(0, 0)})] == code
    assert np.count_nonzero(PATTERN_TABLE >= 0) == 13
    assert PATTERN_TABLE.dtype == np.int16
    assert list(MULTIPLICITY_OF_PATTERN) == [1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param({(1, 1)}, id="corner-alone"),
        pytest.param({(1, 0), (1, 1)}, id="corner-with-one-edge"),
        pytest.param({(1, 0), (-1, 0)}, id="opposite-x"),
        pytest.param({(0, 1), (0, -1)}, id="opposite-y"),
        pytest.param({(1, 0), (0, 1), (-1, 0)}, id="three-edges"),
        pytest.param({(1, 0), (0, 1), (1, 1), (-1, -1)}, id="five-pixels"),
        pytest.param({(1, 0), (0, 1), (-1, 1)}, id="L-with-wrong-corner"),
    ],
)
def test_table_rejects_non_x_ray_patterns(cells):
    assert PATTERN_TABLE[mask_of(cells | {(0, 0)})] == -1
    assert PATTERN_TABLE[mask_of(cells)] == -1  # and without the centre


def test_table_equals_the_written_rules_for_every_mask():
    assert [int(code) for code in PATTERN_TABLE] == [classify(cells_of(m)) for m in range(512)]


@pytest.mark.parametrize("matrix", SYMMETRIES)
def test_table_is_symmetric(matrix):
    for mask in range(512):
        code = PATTERN_TABLE[mask]
        image = PATTERN_TABLE[transform(mask, matrix)]
        assert (code < 0) == (image < 0)
        if code >= 0:
            assert MULTIPLICITY_OF_PATTERN[code] == MULTIPLICITY_OF_PATTERN[image]


def test_rotation_by_90_degrees_cycles_the_directions():
    cycle = {0: 0, 1: 2, 2: 3, 3: 4, 4: 1, 5: 6, 6: 7, 7: 8, 8: 5, 9: 10, 10: 11, 11: 12, 12: 9}
    for mask in np.flatnonzero(PATTERN_TABLE >= 0):
        assert PATTERN_TABLE[transform(int(mask), ROTATE)] == cycle[PATTERN_TABLE[mask]]


# --- vectorised = per-event reference ------------------------------------------------------


def reference(phas, rawx, rawy, gains, offsets, split):
    """One event at a time, straight from the documents."""
    out = []
    for event, x, y in zip(phas, rawx, rawy, strict=True):
        net, cells = {}, set()
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                if 1 <= x + dx <= 256 and 1 <= y + dy <= 256:
                    net[dx, dy] = event[index(dx, dy)] - offsets[x + dx - 1]
                    if net[dx, dy] >= split:
                        cells.add((dx, dy))
        code = classify(cells) if net[0, 0] >= max(net.values()) else -1
        pha = sum(net[c] for c in cells)
        energy = sum(gains[x + dx - 1] * net[dx, dy] for dx, dy in cells)
        out.append((pha, code, energy))
    return out


def random_events(rng: np.random.Generator, n: int, offsets: np.ndarray):
    """Boxes with a random set of pixels above or near the split threshold, some at the edges."""
    rawx = rng.integers(1, 257, n)
    rawy = rng.integers(1, 257, n)
    rawx[: n // 10] = rng.choice([1, 256], n // 10)
    rawy[n // 20 : n // 5] = rng.choice([1, 256], n // 5 - n // 20)
    above = rng.random((n, 9)) < 0.35
    above[:, 4] |= rng.random(n) < 0.95
    net = np.where(above, rng.uniform(SPLIT, 400, (n, 9)), rng.uniform(-10, SPLIT, (n, 9)))
    lead = rng.random(n) < 0.9
    net[lead, 4] = np.maximum(net[lead, 4], net[lead].max(axis=1) + rng.integers(0, 2, lead.sum()))
    columns = np.clip(rawx[:, None] + np.tile([-1, 0, 1], 3), 1, 256) - 1
    phas = np.rint(net + offsets[columns]).astype(np.int64)
    cols = rawx[:, None] + np.tile([-1, 0, 1], 3)
    rows = rawy[:, None] + np.repeat([-1, 0, 1], 3)
    phas[(cols < 1) | (cols > 256) | (rows < 1) | (rows > 256)] = 0
    return phas, rawx, rawy


def test_vectorised_equals_reference_on_random_boxes(columns):
    gains, offsets = columns
    phas, rawx, rawy = random_events(np.random.default_rng(5), 3000, offsets)
    patterns = reconstruct_patterns(phas, rawx, offsets, SPLIT, rawy)
    energy = pattern_energy_ev(phas, rawx, patterns.mask, gains, offsets)
    expected = reference(phas, rawx, rawy, gains, offsets, SPLIT)
    np.testing.assert_allclose(patterns.pha_adu, [e[0] for e in expected], atol=1e-9)
    np.testing.assert_array_equal(patterns.pattern, [e[1] for e in expected])
    np.testing.assert_allclose(energy, [e[2] for e in expected], atol=1e-9)
    valid = patterns.pattern >= 0
    np.testing.assert_array_equal(patterns.multiplicity[valid], patterns.mask[valid].sum(axis=1))
    assert (patterns.multiplicity[~valid] == 0).all()
    assert len(set(patterns.pattern.tolist())) == 14  # every code and -1 was exercised


@FUZZ
@given(
    net=st.lists(st.integers(-20, 3000), min_size=9, max_size=9),
    rawx=st.integers(1, 256),
    rawy=st.integers(1, 256),
)
def test_one_event_equals_reference(columns, net, rawx, rawy):
    gains, offsets = columns
    phas = np.array([net]) + 4
    result = calibrate_events(
        phas, [rawx], [rawy], gains, offsets, split_threshold_adu=SPLIT,
        cti_norm=1e-4, cti_e0_kev=1.0, cti_index=0.3,
    )  # fmt: skip
    pha, code, energy = reference(phas, [rawx], [rawy], gains, offsets, SPLIT)[0]
    assert result.pattern[0] == code
    assert result.pha[0] == np.rint(pha)
    assert bool(result.status[0] & STATUS_INVALID_PATTERN) == (code < 0)
    expected = cti_correct(energy, rawy, 1e-4, 1.0, 0.3) / 1000.0
    np.testing.assert_allclose(result.energy[0], expected, rtol=1e-6, atol=1e-6)


def test_centre_not_the_maximum_is_invalid():
    offsets = np.zeros(256)
    box = np.zeros((1, 9), int)
    box[0, 4], box[0, 5] = 100, 101
    assert reconstruct_patterns(box, [100], offsets, SPLIT).pattern[0] == -1
    box[0, 5] = 100  # a tie keeps the centre as the maximum
    assert reconstruct_patterns(box, [100], offsets, SPLIT).pattern[0] == 1


def test_a_pixel_exactly_on_the_split_threshold_belongs_to_the_pattern():
    offsets = np.full(256, 4.0)
    box = np.full((2, 9), 4)
    box[:, 4] = 500
    box[0, 7], box[1, 7] = 4 + 12, 4 + 11
    patterns = reconstruct_patterns(box, [30, 30], offsets, SPLIT)
    assert patterns.pattern.tolist() == [2, 0]
    assert patterns.pha_adu.tolist() == [508.0, 496.0]


def test_phas_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(n, 9\)"):
        reconstruct_patterns(np.zeros((2, 3, 3)), [1, 2], np.zeros(256), SPLIT)


def test_float_phas_grade_as_integer_phas(columns):
    gains, offsets = columns
    phas, rawx, rawy = random_events(np.random.default_rng(9), 2000, offsets)
    options = {"split_threshold_adu": SPLIT, "cti_norm": 1e-4, "cti_e0_kev": 1.0, "cti_index": 0.3}
    as_int = calibrate_events(phas.astype(np.int16), rawx, rawy, gains, offsets, **options)
    as_float = calibrate_events(phas.astype(np.float64), rawx, rawy, gains, offsets, **options)
    for name in ("pha", "pattern", "multiplicity", "energy", "pi", "status"):
        np.testing.assert_array_equal(getattr(as_int, name), getattr(as_float, name))


def test_a_non_finite_pixel_outside_the_pattern_stays_out_of_the_sums():
    """NaN leaves no maximum (invalid pattern), -inf is below everything; neither is summed."""
    offsets, gains = np.full(256, 4.0), np.full(256, 5.0)
    box = np.full((2, 9), 4.0)
    box[:, 4], box[:, 5] = 504.0, 204.0  # centre and its +x neighbour
    box[0, 0], box[1, 0] = np.nan, -np.inf
    patterns = reconstruct_patterns(box, [100, 100], offsets, SPLIT)
    assert patterns.pattern.tolist() == [-1, 1]
    assert patterns.pha_adu.tolist() == [700.0, 700.0]
    energy = pattern_energy_ev(box, [100, 100], patterns.mask, gains, offsets)
    assert energy.tolist() == [3500.0, 3500.0]


# --- gain and offset of each pixel's own column ---------------------------------------------


@pytest.mark.parametrize(("rawx", "dx"), [(100, 1), (100, -1), (1, 1), (256, -1)])
def test_split_across_columns_uses_each_pixels_column(rawx, dx):
    gains = np.full(256, 5.0)
    offsets = np.full(256, 4.0)
    gains[rawx + dx - 1], offsets[rawx + dx - 1] = 7.0, 30.0
    box = np.zeros((1, 9), int)
    box[0, 4] = 4 + 800
    box[0, index(dx, 0)] = 30 + 200
    patterns = reconstruct_patterns(box, [rawx], offsets, SPLIT)
    assert patterns.pattern[0] == (1 if dx == 1 else 3)
    assert patterns.pha_adu[0] == 1000.0
    energy = pattern_energy_ev(box, [rawx], patterns.mask, gains, offsets)
    assert energy[0] == pytest.approx(5.0 * 800 + 7.0 * 200)


def test_off_ccd_neighbours_never_count():
    offsets = np.full(256, -50.0)  # an off-CCD 0 would otherwise be 50 ADU above threshold
    box = np.zeros((1, 9), int)
    box[0, 4] = 500
    patterns = reconstruct_patterns(box, [1], offsets, SPLIT, rawy=[1])
    assert patterns.pattern[0] == 9  # on-CCD zeros (+x, +y, corner) count, the off-CCD ones not
    assert patterns.pha_adu[0] == 700.0
    box[0, [5, 7, 8]] = -60
    patterns = reconstruct_patterns(box, [1], offsets, SPLIT, rawy=[1])
    assert patterns.pattern[0] == 0
    assert patterns.pha_adu[0] == 550.0


# --- CTI ------------------------------------------------------------------------------------


@FUZZ
@given(
    energy=st.floats(200.0, 10_000.0),
    rawy=st.integers(1, 256),
    epoch=st.sampled_from([1, 2]),
    n_offset=st.integers(0, 5),
)
def test_cti_correction_inverts_the_cti_loss(energy, rawy, epoch, n_offset):
    norm, e0, idx = CTI_EPOCH[epoch]
    transfers = rawy + n_offset
    measured = energy * (1 - norm * (energy / 1000 / e0) ** -idx) ** transfers
    corrected = cti_correct(measured, rawy, norm, e0, idx, n_offset=n_offset)
    assert abs(corrected - energy) < 1.0  # CTI at E_meas instead of E: < 1 eV (§3.3)
    formula = measured / (1 - norm * (measured / 1000 / e0) ** -idx) ** transfers
    assert corrected == pytest.approx(formula, rel=1e-12)


def test_cti_losses_of_the_documented_table():
    for epoch, (loss_128, loss_256) in {1: (5, 11), 2: (54, 107)}.items():
        norm, e0, idx = CTI_EPOCH[epoch]
        measured = 6000 * (1 - norm * 6.0**-idx) ** np.array([128, 256])
        np.testing.assert_allclose(6000 - measured, [loss_128, loss_256], atol=0.6)
        np.testing.assert_allclose(cti_correct(measured, [128, 256], norm, e0, idx), 6000, atol=1)


def test_cti_leaves_non_positive_energies():
    np.testing.assert_array_equal(cti_correct([0.0, -30.0], 200, 1.2e-4, 1.0, 0.3), [0.0, -30.0])


# --- PI -------------------------------------------------------------------------------------


def test_pi_channels_and_band():
    pi, valid = to_pi([0.0, 9.99, 10.0, 5904.0, 10239.9, 10240.0, -0.1, 50_000.0, np.nan])
    assert pi.dtype == np.int32
    assert pi.tolist() == [0, 0, 1, 590, 1023, 1024, -1, 1024, -1]
    assert valid.tolist() == [True] * 5 + [False] * 4


@FUZZ
@given(energy=st.floats(-1e5, 1e5, allow_nan=False))
def test_pi_is_the_10_ev_bin(energy):
    pi, valid = to_pi(energy)
    if valid:
        assert 10 * pi <= energy < 10 * (pi + 1)
    else:
        assert int(pi) in {-1, 1024}
        assert energy < 0 or energy >= 10240


def test_status_bits_are_added_to_the_input():
    offsets = np.zeros(256)
    box = np.zeros((3, 9), int)
    box[0, 4] = 300  # a single at 1.5 keV
    box[1, [4, 8]] = 300  # corner without its edges
    box[2, 4] = 4000  # 20 keV
    result = calibrate_events(
        box, [50] * 3, [1] * 3, np.full(256, 5.0), offsets, split_threshold_adu=SPLIT,
        cti_norm=0.0, cti_e0_kev=1.0, cti_index=0.0, status=[8, 0, 2],
    )  # fmt: skip
    assert result.status.tolist() == [8, STATUS_INVALID_PATTERN, 2 | STATUS_OUT_OF_BAND]
    assert result.pattern.tolist() == [0, -1, 0]
    assert result.multiplicity.tolist() == [1, 0, 1]
    assert result.energy.dtype == np.float32
    assert result.energy.tolist() == [1.5, 3.0, 20.0]
    assert result.pi.tolist() == [150, 300, 1024]
