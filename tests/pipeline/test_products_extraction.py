"""Point-source extraction (products/extraction.py): regions with exclusions, the PSF fraction
a region collects (demonstration PSF), the SKY -> DET matrix, and the source/background split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_bricks.mxt.caldata import Psf
from pipeline_bricks.mxt.products.extraction import (
    ExtractionRegion,
    net_psf_fraction,
    region_psf_fraction,
    separate_source_and_background,
    sky_to_det_matrix,
)
from pipeline_bricks.mxt.products.regions import Region, backscal
from pipeline_bricks.mxt.products.spectrum import psf_enclosed_fraction
from pipeline_bricks.mxt.sky import sky_wcs
from tests.pipeline.teldefs import EPOCH1, EPOCH2, PIXEL_ARCSEC

PER_PIXEL = PIXEL_ARCSEC / 60.0  # [arcmin] a SKY (= DET) pixel
SHAPE = (512, 512)
CENTRE = (256.5, 256.5)  # the middle of the SKY image: np.rot90 maps the pixels about it
POINTING = (40.0, 30.0)
FULL = np.ones(SHAPE)
SOURCE = ExtractionRegion(Region.circle(*CENTRE, 5.0 / PER_PIXEL))
ANNULUS = ExtractionRegion(Region.annulus(*CENTRE, 10.0 / PER_PIXEL, 20.0 / PER_PIXEL))


def to_det(roll: float, teldef=EPOCH1, position=CENTRE) -> np.ndarray:
    """SKY -> DET matrix at ``position`` with the spacecraft pointed at the SKY centre."""
    wcs = sky_wcs(teldef, *POINTING)
    return sky_to_det_matrix(*position, wcs, teldef, *POINTING, roll)


def fraction(psf: Psf, region: ExtractionRegion, roll: float = 0.0, coverage=FULL) -> float:
    return region_psf_fraction(region, psf, to_det(roll), coverage, PER_PIXEL)


def wedge(half_width_deg: float, direction_deg: float = 0.0) -> np.ndarray:
    """Coverage 1 within ``half_width_deg`` of the direction (from +X towards +Y), else 0."""
    y, x = np.mgrid[1 : SHAPE[0] + 1, 1 : SHAPE[1] + 1]
    angle = np.degrees(np.arctan2(y - CENTRE[1], x - CENTRE[0])) - direction_deg
    return (np.abs((angle + 180.0) % 360.0 - 180.0) < half_width_deg).astype(np.float64)


# --- ExtractionRegion ------------------------------------------------------------------------

coordinate = st.floats(0.0, 100.0)


@given(
    include=st.tuples(coordinate, coordinate, st.floats(1.0, 40.0)),
    holes=st.lists(st.tuples(coordinate, coordinate, st.floats(1.0, 20.0)), max_size=3),
    points=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=30),
)
@settings(max_examples=150, deadline=None)
def test_a_position_is_in_the_region_when_in_the_circle_and_in_no_hole(include, holes, points):
    region = ExtractionRegion(Region.circle(*include), tuple(Region.circle(*h) for h in holes))
    x, y = (np.array(v) for v in zip(*points, strict=True))
    expected = [
        (px - include[0]) ** 2 + (py - include[1]) ** 2 < include[2] ** 2
        and all((px - hx) ** 2 + (py - hy) ** 2 >= hr**2 for hx, hy, hr in holes)
        for px, py in points
    ]
    assert region.contains(x, y).tolist() == expected


def test_the_pixel_mask_is_the_region_at_the_pixel_centres_and_backscal_measures_it():
    hole = Region.circle(60.0, 50.0, 8.0)
    region = ExtractionRegion(Region.annulus(50.0, 50.0, 5.0, 20.0), (hole,))
    mask = region.pixel_mask((100, 120))
    y, x = np.mgrid[1:101, 1:121]
    np.testing.assert_array_equal(mask, region.contains(x.astype(float), y.astype(float)))
    whole = Region.annulus(50.0, 50.0, 5.0, 20.0).pixel_mask((100, 120))
    cut = whole & hole.pixel_mask((100, 120))
    assert 150 < cut.sum() < 210  # most of the hole (pi 8^2 = 201) is in the annulus
    assert mask.sum() == whole.sum() - cut.sum()
    assert backscal(region, (100, 120)) == mask.sum()
    half = np.ones((100, 120))
    half[:, :50] = 0.5  # X <= 50 half exposed
    assert backscal(region, exposure=half) == pytest.approx(mask.sum() - 0.5 * mask[:, :50].sum())


# --- region_psf_fraction -----------------------------------------------------------------------


@given(roll=st.floats(0.0, 360.0))
@settings(max_examples=10, deadline=None)
def test_a_fully_covered_circle_collects_its_encircled_energy_at_any_roll(demo_psf, roll):
    expected = psf_enclosed_fraction(demo_psf, 5.0)
    assert 0.3 < expected < 0.8
    assert fraction(demo_psf, SOURCE, roll) == pytest.approx(expected, rel=1e-12)


def test_a_fully_covered_annulus_collects_the_difference_of_two_encircled_energies(demo_psf):
    inner, outer = psf_enclosed_fraction(demo_psf, [10.0, 20.0])
    assert fraction(demo_psf, ANNULUS, 33.0) == pytest.approx(outer - inner, rel=1e-12)
    assert 0.1 < outer - inner < 0.3  # the halo: why the background region needs care


def test_half_the_coverage_zeroed_collects_half_and_the_halves_add_up(demo_psf):
    left = FULL.copy()
    left[:, : SHAPE[1] // 2] = 0.0  # the pixels X < 256.5: half of the circle
    whole = fraction(demo_psf, SOURCE)
    for roll in (0.0, 61.0):
        first = fraction(demo_psf, SOURCE, roll, left)
        second = fraction(demo_psf, SOURCE, roll, FULL - left)
        assert first + second == pytest.approx(whole, rel=1e-12)
        assert first == pytest.approx(whole / 2, rel=0.05)
    assert fraction(demo_psf, SOURCE, 0.0, 0.5 * FULL) == pytest.approx(whole / 2, rel=1e-12)


def test_an_excluded_circle_removes_its_share_and_one_outside_removes_nothing(demo_psf):
    whole = fraction(demo_psf, SOURCE)
    inside = Region.circle(CENTRE[0] + 10.0, CENTRE[1], 6.0)
    outside = Region.circle(CENTRE[0] + 60.0, CENTRE[1], 6.0)
    cut = fraction(demo_psf, ExtractionRegion(SOURCE.include, (inside,)))
    assert 0.5 * whole < cut < 0.95 * whole
    assert fraction(demo_psf, ExtractionRegion(SOURCE.include, (outside,))) == whole
    # The same hole on the core costs more than near the edge of the circle.
    core = Region.circle(*CENTRE, 6.0)
    assert fraction(demo_psf, ExtractionRegion(SOURCE.include, (core,))) < cut


def test_the_psf_arms_turn_with_the_roll(demo_psf):
    """The demonstration PSF has arms along the DET axes: a narrow wedge of coverage about
    SKY +X catches them at roll 0 and 90, misses them at 45; the same wedge turned by 90 deg
    at a roll 90 deg more sees the same PSF; the arms turn in the sense of the roll."""
    along = wedge(10.0)
    at_0, at_45, at_90 = (fraction(demo_psf, ANNULUS, r, along) for r in (0.0, 45.0, 90.0))
    assert at_0 > 3.0 * at_45
    assert at_90 == pytest.approx(at_0, rel=1e-9)
    for roll in (20.0, 45.0):
        turned = fraction(demo_psf, ANNULUS, roll + 90.0, np.rot90(along, -1))
        assert turned == pytest.approx(fraction(demo_psf, ANNULUS, roll, along), rel=1e-9)
    # The sense: SKY angle phi (from +X to +Y) is DET (-cos(phi - r), sin(phi - r)), so a
    # wedge at phi = 20 deg holds an arm at roll 20 deg, not at roll -20 deg.
    tilted = wedge(10.0, 20.0)
    assert fraction(demo_psf, ANNULUS, 20.0, tilted) == pytest.approx(at_0, rel=0.02)
    assert fraction(demo_psf, ANNULUS, 340.0, tilted) < at_0 / 3.0


def test_a_symmetric_coverage_gives_a_circle_nearly_the_same_fraction_at_any_roll(demo_psf):
    disc = Region.circle(*CENTRE, 2.5 / PER_PIXEL).pixel_mask(SHAPE).astype(np.float64)
    values = [fraction(demo_psf, SOURCE, r, disc) for r in (0.0, 37.0, 90.0, 200.0)]
    assert max(values) - min(values) < 0.03 * max(values)  # nearest-pixel resampling only
    assert 0.4 * fraction(demo_psf, SOURCE) < min(values)


def test_a_region_off_the_image_collects_nothing(demo_psf):
    away = ExtractionRegion(Region.circle(-500.0, -500.0, 20.0))
    assert region_psf_fraction(away, demo_psf, to_det(0.0), FULL, PER_PIXEL) == 0.0


@pytest.mark.parametrize(
    ("coverage", "per_pixel", "message"),
    [
        (2.0 * FULL, PER_PIXEL, "coverage must be a 2-d image of values in"),
        (-FULL, PER_PIXEL, "coverage must be a 2-d image of values in"),
        (np.ones(10), PER_PIXEL, "coverage must be a 2-d image of values in"),
        (np.full(SHAPE, np.nan), PER_PIXEL, "coverage must be a 2-d image of values in"),
        (FULL, 0.0, "pixel size must be positive"),
        (FULL, np.nan, "pixel size must be positive"),
    ],
)
def test_region_psf_fraction_refuses_bad_coverage_and_pixel_size(
    demo_psf, coverage, per_pixel, message
):
    with pytest.raises(ValueError, match=message):
        region_psf_fraction(SOURCE, demo_psf, to_det(0.0), coverage, per_pixel)


# --- sky_to_det_matrix -------------------------------------------------------------------------


@given(
    roll=st.floats(0.0, 360.0),
    offset=st.tuples(st.floats(-100.0, 100.0), st.floats(-100.0, 100.0)),
    epoch2=st.booleans(),
)
@settings(max_examples=100, deadline=None)
def test_sky_to_det_is_the_roll_rotation_of_a_mirror_image_of_unit_scale(roll, offset, epoch2):
    """SKY X grows to the west, DETX points at position angle roll + 90 deg and DETY at roll:
    SKY +X goes to (-cos r, -sin r) in DET and SKY +Y to (-sin r, cos r)."""
    position = (CENTRE[0] + offset[0], CENTRE[1] + offset[1])
    matrix = to_det(roll, EPOCH2 if epoch2 else EPOCH1, position)
    r = np.radians(roll)
    expected = np.array([[-np.cos(r), -np.sin(r)], [-np.sin(r), np.cos(r)]])
    np.testing.assert_allclose(matrix, expected, atol=2e-3)  # TAN and the 1' alignment
    np.testing.assert_allclose(matrix @ matrix.T, np.eye(2), atol=2e-3)
    assert np.linalg.det(matrix) == pytest.approx(-1.0, abs=2e-3)


# --- net_psf_fraction and the source/background split -------------------------------------------


def test_the_net_psf_fraction_subtracts_the_halo_scaled_to_the_source_area():
    assert net_psf_fraction(0.5, 0.2, 1 / 12) == pytest.approx(0.5 - 0.2 / 12)
    assert net_psf_fraction(0.5, 0.0, 0.3) == 0.5
    for eef_background, ratio in ((0.5, 1.0), (0.6, 1.0), (0.25, 2.0)):
        with pytest.raises(ValueError, match="background region holds too much of the source"):
            net_psf_fraction(0.5, eef_background, ratio)


noiseless = {
    "source": st.floats(0.0, 1e5, allow_subnormal=False),
    "per_pixel": st.floats(0.0, 10.0, allow_subnormal=False),
    "areas": st.tuples(st.floats(10.0, 1e4), st.floats(10.0, 1e5)),
    "eefs": st.tuples(st.floats(0.05, 0.95), st.floats(0.0, 0.5)),
}


@given(**noiseless)
@settings(max_examples=300, deadline=None)
def test_noiseless_counts_give_back_the_source_and_the_background(source, per_pixel, areas, eefs):
    (a_s, a_b), (e_s, e_b) = areas, eefs
    if a_b * e_s - a_s * e_b < 0.05 * a_b * e_s:  # nearly indistinguishable regions
        return
    n_s, n_b = source * e_s + per_pixel * a_s, source * e_b + per_pixel * a_b
    split = separate_source_and_background(n_s, n_b, a_s, a_b, e_s, e_b)
    assert split.source_counts == pytest.approx(source, rel=1e-9, abs=1e-6 * (n_s + n_b))
    assert split.background_counts == pytest.approx(
        per_pixel * a_b, rel=1e-9, abs=1e-6 * (n_s + n_b)
    )
    if n_s > 0 and n_b > 0:
        assert split.source_counts_err > 0
        assert split.background_counts_err > 0


def test_the_errors_are_the_spread_of_poisson_counts():
    areas, eefs = (1500.0, 18000.0), (0.51, 0.20)
    source, per_pixel = 300.0, 0.005
    n_s = source * eefs[0] + per_pixel * areas[0]
    n_b = source * eefs[1] + per_pixel * areas[1]
    expected = separate_source_and_background(n_s, n_b, *areas, *eefs)
    rng = np.random.default_rng(7)
    draws = [
        separate_source_and_background(int(s), int(b), *areas, *eefs)
        for s, b in zip(rng.poisson(n_s, 4000), rng.poisson(n_b, 4000), strict=True)
    ]
    spread_source = np.std([d.source_counts for d in draws])
    spread_background = np.std([d.background_counts for d in draws])
    assert spread_source == pytest.approx(expected.source_counts_err, rel=0.06)
    assert spread_background == pytest.approx(expected.background_counts_err, rel=0.06)
    assert np.mean([d.source_counts for d in draws]) == pytest.approx(source, rel=0.02)


def test_a_negative_solution_is_clipped_at_zero():
    split = separate_source_and_background(0, 400, 100.0, 1000.0, 0.5, 0.1)
    assert split.source_counts == 0.0
    assert split.source_counts_err > 0
    split = separate_source_and_background(200, 0, 100.0, 1000.0, 0.5, 0.1)
    assert split.background_counts == 0.0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((-1, 10, 100.0, 1000.0, 0.5, 0.1), "counts must be >= 0"),
        ((10, -1, 100.0, 1000.0, 0.5, 0.1), "counts must be >= 0"),
        ((10, 10, 0.0, 1000.0, 0.5, 0.1), "areas must be positive"),
        ((10, 10, 100.0, -5.0, 0.5, 0.1), "areas must be positive"),
        ((10, 10, np.nan, 1000.0, 0.5, 0.1), "areas must be positive"),
        ((10, 10, 100.0, 1000.0, 0.05, 0.5), "cannot be told apart"),
        ((10, 10, 100.0, 100.0, 0.3, 0.3), "cannot be told apart"),
        ((10, 10, 100.0, 1000.0, np.nan, 0.1), "cannot be told apart"),
    ],
)
def test_the_split_refuses_bad_inputs(arguments, message):
    with pytest.raises(ValueError, match=message):
        separate_source_and_background(*arguments)
