"""Good time intervals: from the attitude flags, intersections, membership, exposure, steps."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline_bricks.mxt import gti as gt


def attitude_with_slews_and_saa() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1 s attitude rows 0..2999: slewing before 120 s and in 2500..2559 s, SAA 1000..1399 s."""
    time = np.arange(3000.0)
    settled = ~((time < 120) | ((time >= 2500) & (time < 2560)))
    in_saa = (time >= 1000) & (time < 1400)
    return time, settled, in_saa


def test_gti_from_attitude_with_slews_and_an_saa_passage() -> None:
    starts, stops = gt.gti_from_attitude(*attitude_with_slews_and_saa())
    np.testing.assert_array_equal(starts, [120.0, 1400.0, 2560.0])
    np.testing.assert_array_equal(stops, [999.0, 2499.0, 2999.0])
    assert gt.gti_exposure(starts, stops) == 879.0 + 1099.0 + 439.0


def test_gti_from_attitude_short_intervals_and_missing_rows() -> None:
    time, settled, in_saa = attitude_with_slews_and_saa()
    settled[50:53] = True  # a 2 s settled blip during the first slew
    starts, _ = gt.gti_from_attitude(time, settled, in_saa)
    assert starts[0] == 50.0
    starts, _ = gt.gti_from_attitude(time, settled, in_saa, min_length_s=10.0)
    assert starts[0] == 120.0
    settled[60] = True  # a single good sample: zero length, always dropped
    assert 60.0 not in gt.gti_from_attitude(time, settled, in_saa, min_length_s=0.0)[0]
    keep = (time < 1500) | (time >= 1510)  # ten missing attitude rows
    starts, stops = gt.gti_from_attitude(time[keep], settled[keep], in_saa[keep])
    np.testing.assert_array_equal(starts, [50.0, 120.0, 1400.0, 1510.0, 2560.0])
    np.testing.assert_array_equal(stops, [52.0, 999.0, 1499.0, 2499.0, 2999.0])
    starts, _ = gt.gti_from_attitude(time[keep], settled[keep], in_saa[keep], max_gap_s=20.0)
    assert 1510.0 not in starts
    assert gt.gti_from_attitude(time, np.zeros(3000, bool), in_saa)[0].size == 0


def test_gti_from_attitude_refuses_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="length"):
        gt.gti_from_attitude([0.0, 1.0], [True], [False, False])
    with pytest.raises(ValueError, match="increasing"):
        gt.gti_from_attitude([0.0, 0.0], [True, True], [False, False])


def test_intersect_gtis() -> None:
    a = ([20.0, 0.0], [30.0, 10.0])  # unsorted
    b = ([5.0, 24.0], [25.0, 40.0])  # overlapping: [5, 40)
    starts, stops = gt.intersect_gtis(a, b)
    np.testing.assert_array_equal(starts, [5.0, 20.0])
    np.testing.assert_array_equal(stops, [10.0, 30.0])
    np.testing.assert_array_equal(gt.intersect_gtis(b, a)[0], starts)
    three = gt.intersect_gtis(a, b, ([8.0], [22.0]))
    np.testing.assert_array_equal(np.column_stack(three), [[8.0, 10.0], [20.0, 22.0]])
    assert gt.intersect_gtis(a, ([], []))[0].size == 0
    assert gt.intersect_gtis(a, ([10.0], [20.0]))[0].size == 0  # touching, no overlap


def test_in_gti_is_half_open_and_exposure_counts_overlaps_once() -> None:
    mask = gt.in_gti([-1.0, 0.0, 9.999, 10.0, 15.0, 25.0], [0.0, 20.0], [10.0, 30.0])
    assert mask.tolist() == [False, True, True, False, False, True]
    assert not gt.in_gti([1.0], [], []).any()
    assert gt.gti_exposure([0.0, 5.0, 20.0], [10.0, 15.0, 21.5]) == 16.5
    assert gt.gti_exposure([], []) == 0.0
    with pytest.raises(ValueError, match="ends before"):
        gt.gti_exposure([10.0], [0.0])


def test_gti_steps_cut_each_interval_into_equal_steps_without_crossing_gaps() -> None:
    middle, duration = gt.gti_steps([0.0, 100.0], [25.0, 104.0], 10.0)
    np.testing.assert_allclose(duration, [25 / 3] * 3 + [4.0])
    np.testing.assert_allclose(middle, [25 / 6, 25 / 2, 125 / 6, 102.0])
    assert duration.sum() == pytest.approx(gt.gti_exposure([0.0, 100.0], [25.0, 104.0]))
    assert gt.gti_steps([], [], 10.0)[0].size == 0
    with pytest.raises(ValueError, match="step_s must be a positive"):
        gt.gti_steps([0.0], [1.0], 0.0)
    with pytest.raises(ValueError, match="ends before it starts"):
        gt.gti_steps([5.0], [1.0], 1.0)
