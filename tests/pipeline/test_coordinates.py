"""mxt-coordinates science: RAW -> DET -> RA/Dec -> SKY (docs/calibration_formats.md §2)."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from hypothesis import given, settings
from hypothesis import strategies as st

from caldb_demodata import mxt_detector
from pipeline_bricks.mxt import coordinates as co
from tests.pipeline.teldefs import (
    EPOCH1,
    EPOCH2,
    EPOCH2_ALIGNM,
    IDENTITY_ALIGNM,
    PIXEL_ARCSEC,
    teldef_header,
)


def test_from_header_reads_the_section_2_keywords() -> None:
    assert EPOCH1.coe_x == (0.0, 1.0, 0.0)
    assert EPOCH1.coe_y == (0.0, 0.0, 1.0)
    assert (EPOCH1.optaxisx, EPOCH1.optaxisy, EPOCH1.focallen) == (128.5, 128.5, 1150.0)
    assert (EPOCH1.det_xscl, EPOCH1.sky_xcen, EPOCH1.sky_yscl) == (0.075, 256.5, 13.452053)
    assert EPOCH1.imageinv is False
    np.testing.assert_array_equal(EPOCH1.alignm, np.eye(3))
    assert EPOCH2.alignm[0, 2] == EPOCH2_ALIGNM["ALIGNM13"]
    assert EPOCH2.alignm[2, 0] == EPOCH2_ALIGNM["ALIGNM31"]
    assert co.Teldef.from_header(teldef_header(IMAGEINV="T")).imageinv is True


@pytest.mark.parametrize(("epoch", "alignm"), [(1, IDENTITY_ALIGNM), (2, EPOCH2_ALIGNM)])
def test_from_header_of_the_demonstration_teldef(epoch: int, alignm: dict[str, float]) -> None:
    header = mxt_detector.teldef_hdus(epoch, "2024-06-22", 2024)[0].header
    teldef = co.Teldef.from_header(header)
    expected = np.array([[alignm[f"ALIGNM{i}{j}"] for j in (1, 2, 3)] for i in (1, 2, 3)])
    np.testing.assert_allclose(teldef.alignm, expected, rtol=0, atol=1e-15)
    assert teldef.sky_xscl == pytest.approx(PIXEL_ARCSEC, abs=1e-6)
    assert teldef.imageinv is False


def test_from_header_refuses_bad_teldefs() -> None:
    header = teldef_header()
    del header["FOCALLEN"]
    with pytest.raises(KeyError, match="FOCALLEN"):
        co.Teldef.from_header(header)
    with pytest.raises(ValueError, match="rotation"):
        co.Teldef.from_header(teldef_header(ALIGNM11=1.01))
    with pytest.raises(ValueError, match="rotation"):
        co.Teldef.from_header(teldef_header(ALIGNM33=-1.0))  # a reflection
    with pytest.raises(ValueError, match="SEG_NUM"):
        co.Teldef.from_header(teldef_header(SEG_NUM=2))


def test_raw_to_det_identity_and_randomisation() -> None:
    rawx, rawy = np.array([1, 128, 256]), np.array([256, 1, 128])
    detx, dety = co.raw_to_det(rawx, rawy, EPOCH1)
    np.testing.assert_array_equal(detx, rawx)
    np.testing.assert_array_equal(dety, rawy)
    rng = np.random.default_rng(1)
    detx, dety = co.raw_to_det(np.full(100_000, 10), np.full(100_000, 20), EPOCH1, rng=rng)
    assert detx.min() >= 9.5
    assert detx.max() < 10.5
    assert dety.min() >= 19.5
    assert dety.max() < 20.5
    assert abs(detx.mean() - 10.0) < 0.005
    assert abs(detx.std() - math.sqrt(1 / 12)) < 0.005


def test_det_to_raw_inverts_a_flipping_transform() -> None:
    flipped = co.Teldef.from_header(teldef_header(COE_X0_A=257.0, COE_X0_B=-1.0))
    rawx, rawy = np.array([1, 17, 256]), np.array([3, 200, 256])
    detx, dety = co.raw_to_det(rawx, rawy, flipped, rng=np.random.default_rng(2))
    back_x, back_y, on_ccd = co.det_to_raw(detx, dety, flipped)
    np.testing.assert_array_equal(back_x, rawx)
    np.testing.assert_array_equal(back_y, rawy)
    assert on_ccd.all()
    _, _, on_ccd = co.det_to_raw([0.49, 0.51, 256.49, 256.51, np.nan], 100.0, EPOCH1)
    assert on_ccd.tolist() == [False, True, True, False, False]


def random_attitudes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Pointings uniform on the sphere and rolls uniform in [0, 360)."""
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    return ra, dec, rng.uniform(0.0, 360.0, n)


@pytest.mark.parametrize("teldef", [EPOCH1, EPOCH2], ids=["epoch1", "epoch2"])
def test_round_trip_raw_det_radec_det(teldef: co.Teldef) -> None:
    rng = np.random.default_rng(3)
    rawx, rawy = rng.integers(1, 257, 5000), rng.integers(1, 257, 5000)
    detx, dety = co.raw_to_det(rawx, rawy, teldef, rng=rng)
    ra_pnt, dec_pnt, roll = random_attitudes(rng, 5000)
    ra, dec = co.det_to_radec(detx, dety, teldef, ra_pnt, dec_pnt, roll)
    assert ra.min() >= 0.0
    assert ra.max() < 360.0
    back_x, back_y = co.radec_to_det(ra, dec, teldef, ra_pnt, dec_pnt, roll)
    assert np.max(np.abs(back_x - detx)) < 1e-6
    assert np.max(np.abs(back_y - dety)) < 1e-6
    raw_back = co.det_to_raw(back_x, back_y, teldef)
    np.testing.assert_array_equal(raw_back[0], rawx)
    np.testing.assert_array_equal(raw_back[1], rawy)


@given(
    rawx=st.integers(1, 256),
    rawy=st.integers(1, 256),
    sub=st.tuples(st.floats(-0.5, 0.4999), st.floats(-0.5, 0.4999)),
    ra=st.floats(0.0, 360.0, exclude_max=True),
    dec=st.floats(-90.0, 90.0),
    roll=st.floats(-360.0, 720.0),
    epoch2=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_round_trip_property(
    rawx: int,
    rawy: int,
    sub: tuple[float, float],
    ra: float,
    dec: float,
    roll: float,
    epoch2: bool,
) -> None:
    teldef = EPOCH2 if epoch2 else EPOCH1
    detx, dety = rawx + sub[0], rawy + sub[1]
    src_ra, src_dec = co.det_to_radec(detx, dety, teldef, ra, dec, roll)
    back_x, back_y = co.radec_to_det(src_ra, src_dec, teldef, ra, dec, roll)
    assert abs(back_x - detx) < 1e-6
    assert abs(back_y - dety) < 1e-6


def test_spacecraft_z_axis_lands_on_the_optical_axis_or_off_it_by_the_alignment() -> None:
    for ra, dec, roll in [(10.0, 20.0, 33.0), (250.0, -80.0, 300.0), (0.0, 90.0, 0.0)]:
        detx, dety = co.radec_to_det(ra, dec, EPOCH1, ra, dec, roll)
        assert detx == pytest.approx(128.5, abs=1e-9)
        assert dety == pytest.approx(128.5, abs=1e-9)
        detx, dety = co.radec_to_det(ra, dec, EPOCH2, ra, dec, roll)
        assert detx == pytest.approx(124.93, abs=0.005)  # the values of §2
        assert dety == pytest.approx(131.18, abs=0.005)
        # exactly: u_inst = ALIGNM^T z = third row of ALIGNM
        a = EPOCH2_ALIGNM
        assert detx == pytest.approx(128.5 + 1150 * a["ALIGNM31"] / a["ALIGNM33"] / 0.075)
        assert dety == pytest.approx(128.5 + 1150 * a["ALIGNM32"] / a["ALIGNM33"] / 0.075)
    # ... and the optical axis points 1.0' away from the spacecraft +Z axis
    ra, dec = co.det_to_radec(128.5, 128.5, EPOCH2, 10.0, 20.0, 33.0)
    offset = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(10 * u.deg, 20 * u.deg))
    assert offset.arcmin == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(("ra", "dec"), [(0.0, 0.0), (123.0, 45.0), (300.0, -89.0)])
def test_plate_scale_one_pixel_is_13_452_arcsec(ra: float, dec: float) -> None:
    ras, decs = co.det_to_radec([128.5, 129.5, 128.5], [128.5, 128.5, 129.5], EPOCH1, ra, dec, 70)
    points = SkyCoord(ras * u.deg, decs * u.deg)
    assert points[0].separation(points[1]).arcsec == pytest.approx(13.452053, abs=1e-5)
    assert points[0].separation(points[2]).arcsec == pytest.approx(13.452053, abs=1e-5)


@pytest.mark.parametrize("roll", [0.0, 30.0, 90.0, 180.0, 271.5])
def test_roll_convention_dety_at_position_angle_roll_detx_at_roll_plus_90(roll: float) -> None:
    """ROLL is the position angle of +Y_sc (north through east); +X_sc = +Y_sc turned 90 deg."""
    ras, decs = co.det_to_radec([128.5, 138.5, 128.5], [128.5, 128.5, 138.5], EPOCH1, 40, 30, roll)
    centre, plus_x, plus_y = SkyCoord(ras * u.deg, decs * u.deg)
    assert centre.ra.deg == pytest.approx(40.0)
    assert centre.dec.deg == pytest.approx(30.0)
    pa_x = centre.position_angle(plus_x).deg
    pa_y = centre.position_angle(plus_y).deg
    assert (pa_y - roll + 180) % 360 - 180 == pytest.approx(0.0, abs=1e-6)
    assert (pa_x - roll - 90 + 180) % 360 - 180 == pytest.approx(0.0, abs=1e-6)


def test_at_roll_0_detx_points_east_and_dety_north() -> None:
    ras, decs = co.det_to_radec([138.5, 128.5], [128.5, 138.5], EPOCH1, 100.0, 0.0, 0.0)
    assert ras[0] > 100.0  # +DETX: increasing RA (east)
    assert decs[0] == pytest.approx(0.0, abs=1e-12)
    assert ras[1] == pytest.approx(100.0, abs=1e-12)
    assert decs[1] > 0.0  # +DETY: north


def test_an_inverting_optic_mirrors_through_the_optical_axis() -> None:
    inverting = co.Teldef.from_header(teldef_header(IMAGEINV=True))
    upright = co.det_to_radec(138.5, 120.5, EPOCH1, 100.0, 10.0, 20.0)
    inverted = co.det_to_radec(118.5, 136.5, inverting, 100.0, 10.0, 20.0)
    np.testing.assert_allclose(inverted, upright, rtol=0, atol=1e-12)
    back = co.radec_to_det(*inverted, inverting, 100.0, 10.0, 20.0)
    np.testing.assert_allclose(back, (118.5, 136.5), atol=1e-9)


def test_radec_to_det_is_nan_behind_the_telescope() -> None:
    detx, dety = co.radec_to_det([190.0, 10.0], [-20.0, 20.0], EPOCH1, 10.0, 20.0, 0.0)
    assert np.isnan(detx[0])
    assert np.isnan(dety[0])
    assert np.isfinite(detx[1])


def test_attitude_matrices_are_rotations_with_z_on_the_pointing() -> None:
    rng = np.random.default_rng(4)
    ra, dec, roll = random_attitudes(rng, 100)
    att = co.attitude_matrices(ra, dec, roll)
    assert att.shape == (100, 3, 3)
    np.testing.assert_allclose(
        att @ np.swapaxes(att, 1, 2), np.broadcast_to(np.eye(3), att.shape), atol=1e-14
    )
    np.testing.assert_allclose(np.linalg.det(att), 1.0)
    pointing = SkyCoord(ra * u.deg, dec * u.deg).cartesian.xyz.value.T
    np.testing.assert_allclose(att[:, :, 2], pointing, atol=1e-14)
    north_pole = co.attitude_matrices(0.0, 0.0, 0.0)[0]  # roll 0: +Y_sc north, +X_sc east
    np.testing.assert_allclose(north_pole[:, 1], [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(north_pole[:, 0], [0, 1, 0], atol=1e-15)


def test_interpolate_attitude_across_the_ra_and_roll_wrap() -> None:
    att_time = np.array([0.0, 10.0, 20.0])
    att_ra = np.array([359.6, 0.4, 1.2])
    att_dec = np.array([-5.0, -4.0, -3.0])
    att_roll = np.array([10.0, 350.0, 330.0])
    ra, dec, roll = co.interpolate_attitude(
        [0.0, 2.5, 5.0, 7.5, 15.0, 20.0], att_time, att_ra, att_dec, att_roll
    )
    np.testing.assert_allclose(ra, [359.6, 359.8, 0.0, 0.2, 0.8, 1.2], atol=1e-9)
    np.testing.assert_allclose(dec, [-5.0, -4.75, -4.5, -4.25, -3.5, -3.0])
    np.testing.assert_allclose(roll, [10.0, 5.0, 0.0, 355.0, 340.0, 330.0], atol=1e-9)
    assert ra.min() >= 0.0
    assert ra.max() < 360.0


def test_interpolate_attitude_refuses_or_flags_times_outside_the_table() -> None:
    table = ([0.0, 1.0], [10.0, 10.0], [5.0, 5.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="2 time"):
        co.interpolate_attitude([-0.1, 0.5, 1.1], *table)
    ra, dec, roll = co.interpolate_attitude([-0.1, 0.5, np.nan], *table, outside="nan")
    assert np.isnan(ra).tolist() == [True, False, True]
    assert np.isnan(dec).tolist() == [True, False, True]
    assert np.isnan(roll).tolist() == [True, False, True]
    ras, _ = co.det_to_radec(128.5, 128.5, EPOCH1, ra, dec, roll)
    assert np.isnan(ras).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="increasing"):
        co.interpolate_attitude([0.5], [1.0, 0.0], [0, 0], [0, 0], [0, 0])


def test_det_to_radec_equals_the_attitude_matrices() -> None:
    """The expanded product of det_to_radec equals A ALIGNM u_inst with the matrices."""
    rng = np.random.default_rng(12)
    detx, dety = rng.uniform(0.5, 256.5, (2, 2000))
    ra_pnt, dec_pnt, roll = random_attitudes(rng, 2000)
    dec_pnt[:10] = [90.0] * 5 + [-90.0] * 5
    for teldef in (EPOCH2, co.Teldef.from_header(teldef_header(EPOCH2_ALIGNM, IMAGEINV=True))):
        sign = -1.0 if teldef.imageinv else 1.0
        u = np.stack([sign * (detx - 128.5) * 0.075, sign * (dety - 128.5) * 0.075,
                      np.full(2000, 1150.0)], axis=-1)  # fmt: skip
        u_cel = co.attitude_matrices(ra_pnt, dec_pnt, roll) @ (u @ teldef.alignm.T)[..., None]
        u_cel = u_cel[..., 0] / np.linalg.norm(u_cel[..., 0], axis=-1, keepdims=True)
        ra, dec = co.det_to_radec(detx, dety, teldef, ra_pnt, dec_pnt, roll)
        got = np.stack([np.cos(np.radians(dec)) * np.cos(np.radians(ra)),
                        np.cos(np.radians(dec)) * np.sin(np.radians(ra)),
                        np.sin(np.radians(dec))], axis=-1)  # fmt: skip
        np.testing.assert_allclose(got, u_cel, atol=1e-14)
        assert np.all((ra >= 0) & (ra < 360))


@pytest.mark.parametrize(
    "angle", [-0.0, 0.0, -1e-300, -1e-14, 359.99999999999994, 360.0, -360.0, 719.9, 720.0, -725.5,
              1e6 + 0.25, np.nan, -400.0, 123.456]
)  # fmt: skip
def test_wrap360_is_the_modulo_of_numpy(angle: float) -> None:
    expected = np.float64(angle) % 360.0
    expected = expected - 360.0 if expected >= 360.0 else expected
    got = co._wrap360(np.array([angle]))[0]
    assert (np.isnan(got) and np.isnan(expected)) or (
        got == expected and np.signbit(got) == np.signbit(expected)
    )
    assert 0.0 <= got < 360.0 or np.isnan(got)


def test_vectorised_equals_per_event_calls_and_an_astropy_reference() -> None:
    rng = np.random.default_rng(6)
    n = 200
    detx, dety = rng.uniform(0.5, 256.5, n), rng.uniform(0.5, 256.5, n)
    ra_pnt, dec_pnt, roll = random_attitudes(rng, n)
    ra, dec = co.det_to_radec(detx, dety, EPOCH1, ra_pnt, dec_pnt, roll)
    for i in range(n):
        ra_i, dec_i = co.det_to_radec(detx[i], dety[i], EPOCH1, ra_pnt[i], dec_pnt[i], roll[i])
        assert np.shape(ra_i) == ()
        assert float(ra_i) == pytest.approx(ra[i], abs=1e-12)
        assert float(dec_i) == pytest.approx(dec[i], abs=1e-12)
    # independent reference: offset from the pointing by theta at position angle
    # roll + atan2(dx, dy) (+DETY at PA roll, +DETX at PA roll + 90)
    dx, dy = (detx - 128.5) * 0.075, (dety - 128.5) * 0.075
    theta = np.arctan(np.hypot(dx, dy) / 1150.0) * u.rad
    pa = (np.radians(roll) + np.arctan2(dx, dy)) * u.rad
    expected = SkyCoord(ra_pnt * u.deg, dec_pnt * u.deg).directional_offset_by(pa, theta)
    got = SkyCoord(ra * u.deg, dec * u.deg)
    assert np.max(got.separation(expected).arcsec) < 1e-6
    back = co.radec_to_det(ra, dec, EPOCH1, ra_pnt, dec_pnt, roll)
    for i in range(0, n, 20):
        one = co.radec_to_det(ra[i], dec[i], EPOCH1, ra_pnt[i], dec_pnt[i], roll[i])
        np.testing.assert_allclose([one[0], one[1]], [back[0][i], back[1][i]], atol=1e-9)


def test_off_axis_angle() -> None:
    theta = co.off_axis_angle([128.5, 129.5, 128.5 + 100], [128.5, 128.5, 128.5], EPOCH1)
    np.testing.assert_allclose(theta[:2], [0.0, 13.452053 / 60], atol=1e-7)
    assert theta[2] == pytest.approx(math.degrees(math.atan(7.5 / 1150)) * 60)
