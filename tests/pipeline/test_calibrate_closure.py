"""mxt-calibrate closure: simulated monochromatic lines come back within the MXT ±20 eV
energy-scale requirement with the right calibration epoch, and not with the other."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline_bricks.mxt.calibrate import calibrate_events, cti_correct
from pipeline_bricks.mxt.patterns import N_COLUMNS, pattern_energy_ev, reconstruct_patterns
from pipeline_bricks.simulator.detector import simulate_phas
from tests.pipeline.mxt_values import CTI_EPOCH, SPLIT


def sigma_ev(energy_ev: np.ndarray) -> np.ndarray:
    """Detector noise [eV], the RMF model of calibration_formats.md §4.4."""
    return 3.68 * np.sqrt(4.9**2 + 0.131 * energy_ev / 3.68)


def line(energy_ev: float, gains, offsets, seed: int, n: int = 5000):
    rng = np.random.default_rng(seed)
    rawx, rawy = rng.integers(1, 257, n), rng.integers(1, 257, n)
    sub_x, sub_y = rng.uniform(-0.5, 0.5, (2, n))
    phas = simulate_phas(
        np.full(n, energy_ev), rawx, rawy, sub_x, sub_y, gains, offsets, CTI_EPOCH[2],
        sigma_ev, 0.1, rng,
    )  # fmt: skip
    return phas, rawx, rawy


def calibrated_median_ev(phas, rawx, rawy, gains, offsets, cti) -> tuple[float, np.ndarray]:
    norm, e0, idx = cti
    result = calibrate_events(
        phas, rawx, rawy, gains, offsets, split_threshold_adu=SPLIT,
        cti_norm=norm, cti_e0_kev=e0, cti_index=idx,
    )  # fmt: skip
    good = result.pattern >= 0
    assert good.mean() > 0.99
    return float(np.median(result.energy[good].astype(np.float64)) * 1000.0), result.pi[good]


@pytest.mark.parametrize(("energy_ev", "seed"), [(1490.0, 1), (5900.0, 2)])
def test_closure_of_a_line_with_the_right_epoch_and_not_the_other(columns, energy_ev, seed):
    gains, offsets = columns
    phas, rawx, rawy = line(energy_ev, gains, offsets, seed)
    right, pi = calibrated_median_ev(phas, rawx, rawy, gains, offsets, CTI_EPOCH[2])
    assert abs(right - energy_ev) <= 20.0, right
    assert abs(np.median(pi) - energy_ev / 10) <= 2
    wrong, _ = calibrated_median_ev(phas, rawx, rawy, gains / 1.015, offsets, CTI_EPOCH[2])
    assert wrong < right - 0.01 * energy_ev  # the 1.5 % gain change shows
    if energy_ev > 5000:
        assert abs(wrong - energy_ev) > 20.0, wrong
    no_cti, _ = calibrated_median_ev(phas, rawx, rawy, gains, offsets, CTI_EPOCH[1])
    assert no_cti < right


def test_the_line_has_the_expected_split_fractions(columns):
    gains, offsets = columns
    phas, rawx, rawy = line(5900.0, gains, offsets, 3)
    patterns = reconstruct_patterns(phas, rawx, offsets, SPLIT, rawy)
    counts = np.bincount(patterns.multiplicity, minlength=5)
    assert counts[0] < 50  # only CCD-edge losses
    assert counts[1:].min() > 300  # singles, doubles, triples and quads all present


def test_the_offset_of_the_line_is_the_charge_below_the_split_threshold(columns):
    """Summing all 9 pixels closes within the ADU quantisation (§3.3); the pattern sum
    loses the charge of the neighbours below SPLTHR (about 11 eV at 12 ADU)."""
    gains, offsets = columns
    phas, rawx, rawy = line(5900.0, gains, offsets, 2)
    inside = (rawx > 1) & (rawx < N_COLUMNS) & (rawy > 1) & (rawy < N_COLUMNS)
    everything = np.ones(phas.shape, bool)
    total = pattern_energy_ev(phas, rawx, everything, gains, offsets)
    total = cti_correct(total, rawy, *CTI_EPOCH[2])
    assert abs(np.median(total[inside]) - 5900.0) < 2.0
    patterns = reconstruct_patterns(phas, rawx, offsets, SPLIT, rawy)
    in_pattern = pattern_energy_ev(phas, rawx, patterns.mask, gains, offsets)
    loss = total - cti_correct(in_pattern, rawy, *CTI_EPOCH[2])
    assert 5.0 < loss[inside].mean() < 20.0
