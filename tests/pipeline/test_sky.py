"""The SKY frame: TAN WCS about the nominal pointing, the fast projection held to WCSLIB,
the event-column keywords (docs/calibration_formats.md §2.1 step 6)."""

from __future__ import annotations

import math
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from pipeline_bricks.mxt import coordinates as co
from pipeline_bricks.mxt import sky as sk
from tests.pipeline.teldefs import EPOCH1, EPOCH2


def test_sky_wcs_pointing_scale_and_orientation() -> None:
    wcs = sk.sky_wcs(EPOCH1, 150.0, 40.0)
    x, y = sk.radec_to_sky(150.0, 40.0, wcs)
    assert (float(x), float(y)) == pytest.approx((256.5, 256.5), abs=1e-9)
    ra, dec = sk.sky_to_radec([257.5, 256.5], [256.5, 257.5], wcs)
    steps = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(150 * u.deg, 40 * u.deg))
    np.testing.assert_allclose(steps.arcsec, 13.452053, atol=1e-6)
    x, y = sk.radec_to_sky([150.01, 150.0], [40.0, 40.01], wcs)
    assert x[0] < 256.5  # X increases towards decreasing RA
    assert y[1] > 256.5  # Y increases towards increasing Dec
    assert x[1] == pytest.approx(256.5)


@pytest.mark.parametrize(
    ("ra_nom", "dec_nom"),
    [(150.0, 40.0), (0.01, -12.0), (359.99, 3.0), (75.0, 89.7), (300.0, -89.9)],
)
def test_radec_to_sky_equals_wcslib_to_1e_6_pixel(ra_nom: float, dec_nom: float) -> None:
    """The numpy TAN projection of radec_to_sky against astropy/WCSLIB, the reference."""
    wcs = sk.sky_wcs(EPOCH2, ra_nom, dec_nom)
    rng = np.random.default_rng(11)
    ra_pnt, dec_pnt, roll = np.full(3000, ra_nom), np.full(3000, dec_nom), rng.uniform(0, 360, 3000)
    detx, dety = rng.uniform(-300, 556, (2, 3000))  # the CCD and well beyond it
    ra, dec = co.det_to_radec(detx, dety, EPOCH2, ra_pnt, dec_pnt, roll)
    ra, dec = np.append(ra, rng.uniform(0, 360, 500)), np.append(dec, rng.uniform(-90, 90, 500))
    x, y = sk.radec_to_sky(ra, dec, wcs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # WCSLIB warns of the directions it cannot project
        x_ref, y_ref = wcs.wcs_world2pix(ra, dec, 1)
    np.testing.assert_array_equal(np.isnan(x), np.isnan(x_ref))  # behind the tangent plane
    assert np.count_nonzero(np.isnan(x)) > 100
    near = np.abs(x_ref - 256.5) + np.abs(y_ref - 256.5) < 5000
    np.testing.assert_allclose(x[near], x_ref[near], rtol=0, atol=1e-6)
    np.testing.assert_allclose(y[near], y_ref[near], rtol=0, atol=1e-6)
    far = ~np.isnan(x) & ~near
    np.testing.assert_allclose(x[far], x_ref[far], rtol=1e-9)
    one = sk.radec_to_sky(ra[0], dec[0], wcs)
    assert np.shape(one[0]) == ()
    assert float(one[0]) == pytest.approx(x[0], abs=1e-9)


def test_radec_to_sky_of_another_wcs_goes_through_astropy() -> None:
    wcs = sk.sky_wcs(EPOCH1, 150.0, 40.0)
    wcs.wcs.pc = [[0.8, -0.6], [0.6, 0.8]]  # a rotated frame: not the plain TAN of sky_wcs
    wcs.wcs.set()
    ra, dec = np.array([150.0, 150.05, 149.9]), np.array([40.0, 40.02, 39.95])
    x, y = sk.radec_to_sky(ra, dec, wcs)
    np.testing.assert_array_equal(np.stack([x, y]), wcs.wcs_world2pix(ra, dec, 1))


def test_det_to_sky_is_a_rotation_with_a_mirror() -> None:
    """Pointing = nominal, identity ALIGNM: DET and SKY are both gnomonic, so the map is
    affine; X_sky - 256.5 = -(dx cos r + dy sin r), Y_sky - 256.5 = -dx sin r + dy cos r."""
    rng = np.random.default_rng(5)
    detx, dety = rng.uniform(1, 256, 100), rng.uniform(1, 256, 100)
    wcs = sk.sky_wcs(EPOCH1, 210.0, -35.0)
    for roll in (0.0, 63.0, 200.0):
        x, y = sk.radec_to_sky(*co.det_to_radec(detx, dety, EPOCH1, 210.0, -35.0, roll), wcs)
        dx, dy, r = detx - 128.5, dety - 128.5, math.radians(roll)
        np.testing.assert_allclose(x - 256.5, -(dx * math.cos(r) + dy * math.sin(r)), atol=1e-4)
        np.testing.assert_allclose(y - 256.5, -dx * math.sin(r) + dy * math.cos(r), atol=1e-4)


def test_sky_column_keywords() -> None:
    wcs = sk.sky_wcs(EPOCH1, 150.0, 40.0)
    keywords = sk.sky_column_keywords(wcs, 9, 10, sky_size=(512, 512))
    assert keywords == {
        "TCTYP9": "RA---TAN",
        "TCRPX9": 256.5,
        "TCRVL9": 150.0,
        "TCDLT9": pytest.approx(-13.452053 / 3600),
        "TCUNI9": "deg",
        "TLMIN9": 1,
        "TLMAX9": 512,
        "TCTYP10": "DEC--TAN",
        "TCRPX10": 256.5,
        "TCRVL10": 40.0,
        "TCDLT10": pytest.approx(13.452053 / 3600),
        "TCUNI10": "deg",
        "TLMIN10": 1,
        "TLMAX10": 512,
    }
    assert "TLMIN9" not in sk.sky_column_keywords(wcs, 9, 10)


def test_separation_is_exact_at_small_and_large_angles() -> None:
    separation_arcsec = sk.separation_arcsec
    assert separation_arcsec(10.0, 0.0, 10.0, 1.0 / 3600.0) == pytest.approx(1.0, rel=1e-9)
    # one arcsec of RA at Dec 60 is half an arcsec on the sky
    assert separation_arcsec(10.0, 60.0, 10.0 + 1 / 3600, 60.0) == pytest.approx(0.5, rel=1e-6)
    assert separation_arcsec(0.0, 0.0, 180.0, 0.0) == pytest.approx(180 * 3600.0)
    both = separation_arcsec([0.0, 0.0], [0.0, 0.0], [0.0, 90.0], [0.0, 0.0])
    assert both.tolist() == pytest.approx([0.0, 90 * 3600.0])
    assert separation_arcsec(359.9999, 0.0, 0.0001, 0.0) == pytest.approx(0.72, rel=1e-6)
