"""mxt-products science: sky image and exposure map (pipeline_bricks.mxt.products.image)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from pipeline_bricks.mxt.caldata import Teldef, Vignetting, read_teldef, read_vignet
from pipeline_bricks.mxt.coordinates import det_to_radec, raw_to_det
from pipeline_bricks.mxt.products import image as im
from pipeline_bricks.mxt.screen import bad_pixel_mask
from pipeline_bricks.mxt.sky import event_sky_wcs, radec_to_sky, sky_column_keywords, sky_wcs

RA, DEC = 150.0, 30.0
T_OBS = 1000.0


@pytest.fixture(scope="module")
def calibration(demo: Path) -> dict[str, Path]:
    """The first-epoch MXT files of the demonstration set, by codename (lower case)."""
    return {p.name.split("_")[1]: p for p in demo.glob("svmxt_*2024*")}


@pytest.fixture(scope="module")
def teldef(calibration: dict[str, Path]) -> Teldef:
    return read_teldef(calibration["teldef"])


@pytest.fixture(scope="module")
def vignet(calibration: dict[str, Path]) -> Vignetting:
    return read_vignet(calibration["vignet"])


def steady(roll: float = 0.0, jitter_arcsec: float = 0.0, seed: int = 1) -> tuple[np.ndarray, ...]:
    """1 s attitude rows from -5 to T_OBS + 5 s at (RA, DEC, roll), with white jitter."""
    time = np.arange(-5.0, T_OBS + 6.0)
    rng = np.random.default_rng(seed)
    scale = jitter_arcsec / 3600.0
    east, north, twist = (scale * rng.standard_normal(time.size) for _ in range(3))
    return time, RA + east / np.cos(np.radians(DEC)), DEC + north, roll + twist


def sky_of_raw(teldef: Teldef, rawx: np.ndarray, rawy: np.ndarray, roll: float) -> tuple:
    detx, dety = raw_to_det(rawx, rawy, teldef)
    ra, dec = det_to_radec(detx, dety, teldef, RA, DEC, roll)
    return radec_to_sky(ra, dec, sky_wcs(teldef, RA, DEC))


def test_steady_pointing_exposure_is_the_gti_sum_on_the_ccd_and_zero_off(teldef: Teldef) -> None:
    wcs = sky_wcs(teldef, RA, DEC)
    gti = ([0.0, 600.0], [400.0, 1000.0])  # 800 s in two GTIs
    expo, header = im.exposure_map(gti, steady(), teldef, wcs)
    assert expo.dtype == np.float32
    assert expo.shape == (512, 512)
    assert expo[255, 255] == pytest.approx(800.0, rel=1e-6)  # field centre
    # roll 0: the CCD covers exactly 256 x 256 sky pixels centred on 256.5
    np.testing.assert_allclose(expo[128:384, 128:384], 800.0, rtol=1e-6)
    assert np.count_nonzero(expo) == 256 * 256
    assert expo[:128].max() == 0.0
    assert expo[:, 384:].max() == 0.0
    assert header["BUNIT"] == "s"
    assert header["CTYPE1"] == "RA---TAN"
    assert "MJDREF" not in header
    # Vignetting identically 1 gives the same map as no vignetting.
    ones = Vignetting(np.array([0.2]), np.array([10.0]), np.array([0.0, 60.0]), np.ones((2, 1)))
    same, _ = im.exposure_map(gti, steady(), teldef, wcs, vignet=ones)
    np.testing.assert_array_equal(same, expo)


def test_rolled_pointing_keeps_the_ccd_area(teldef: Teldef) -> None:
    wcs = sky_wcs(teldef, RA, DEC)
    gti = ([0.0], [100.0])
    for oversample in (1, 2):
        expo, _ = im.exposure_map(gti, steady(roll=30.0), teldef, wcs, oversample=oversample)
        assert expo[255, 255] == pytest.approx(100.0)
        assert float(expo.sum()) / 100.0 == pytest.approx(256 * 256, rel=2e-3)
        corners = sky_of_raw(teldef, np.array([1, 256, 256, 1]), np.array([1, 1, 256, 256]), 30.0)
        assert np.all(
            expo[np.round(corners[1]).astype(int) - 1, np.round(corners[0]).astype(int) - 1] > 0
        )
    assert expo[0, 0] == 0.0


def test_bad_column_is_a_stripe_of_reduced_exposure(teldef: Teldef) -> None:
    wcs = sky_wcs(teldef, RA, DEC)
    mask = bad_pixel_mask([100], [1], [256])  # RAWX = 100, the whole column
    expo, _ = im.exposure_map(
        ([0.0], [T_OBS]), steady(jitter_arcsec=2.0), teldef, wcs, bad_mask=mask
    )
    x, _ = sky_of_raw(teldef, np.array([100]), np.array([128]), 0.0)
    column = round(float(x[0])) - 1
    rows = slice(130, 380)
    assert expo[rows, column].max() < 0.05 * T_OBS  # 2" jitter = 0.15 pixel: the stripe stays
    np.testing.assert_allclose(expo[rows, column - 2], T_OBS, rtol=1e-6)
    np.testing.assert_allclose(expo[rows, column + 2], T_OBS, rtol=1e-6)
    # Rolled by 45 deg and oversampled: the stripe runs diagonally, still clearly lower.
    rolled, _ = im.exposure_map(
        ([0.0], [200.0]), steady(roll=45.0), teldef, wcs, bad_mask=mask, oversample=2
    )
    rawy = np.arange(40, 220, 10)
    x, y = sky_of_raw(teldef, np.full(rawy.size, 100), rawy, 45.0)
    on = rolled[np.round(y).astype(int) - 1, np.round(x).astype(int) - 1]
    x, y = sky_of_raw(teldef, np.full(rawy.size, 104), rawy, 45.0)
    off = rolled[np.round(y).astype(int) - 1, np.round(x).astype(int) - 1]
    assert on.max() < 0.8 * 200.0
    assert on.mean() < 0.5 * 200.0
    np.testing.assert_allclose(off, 200.0, rtol=1e-6)


def test_vignetting_follows_the_off_axis_angle(teldef: Teldef, vignet: Vignetting) -> None:
    wcs = sky_wcs(teldef, RA, DEC)
    expo, _ = im.exposure_map(
        ([0.0], [100.0]), steady(), teldef, wcs, vignet=vignet, energy_kev=1.0
    )
    rawx = np.array([129, 200, 256, 256])
    rawy = np.array([129, 129, 129, 256])
    x, y = sky_of_raw(teldef, rawx, rawy, 0.0)
    values = expo[np.round(y).astype(int) - 1, np.round(x).astype(int) - 1]
    detx, dety = raw_to_det(rawx, rawy, teldef)
    theta = np.degrees(np.arctan(np.hypot(detx - 128.5, dety - 128.5) * 0.075 / 1150.0)) * 60
    np.testing.assert_allclose(values, 100.0 * vignet.at(theta, 1.0), rtol=1e-5)
    assert values[-1] < values[0]  # the corner (~31') is vignetted by ~10 %
    assert values[-1] / 100.0 == pytest.approx(1 - 0.1 * (theta[-1] / 30) ** 2, abs=0.01)


def test_one_pass_gives_the_vignetted_and_the_live_map(teldef: Teldef, vignet: Vignetting) -> None:
    wcs = sky_wcs(teldef, RA, DEC)
    gti, attitude = ([0.0, 60.0], [40.0, 100.0]), steady(roll=20.0)
    vignetted, live, header = im.exposure_maps(
        gti, attitude, teldef, wcs, vignet=vignet, energy_kev=1.0
    )
    alone, _ = im.exposure_map(gti, attitude, teldef, wcs, vignet=vignet, energy_kev=1.0)
    plain, _ = im.exposure_map(gti, attitude, teldef, wcs)
    np.testing.assert_array_equal(vignetted, alone)
    np.testing.assert_array_equal(live, plain)
    assert live.max() == pytest.approx(80.0)
    assert np.all(vignetted <= live)
    assert vignetted.sum() < 0.99 * live.sum()
    assert header["HDUCLAS2"] == "EXPOSURE"


def test_attitude_steps_cut_each_gti() -> None:
    duration, ra, dec, roll = im.attitude_steps(([0.0, 100.0], [25.0, 104.0]), steady(), 10.0)
    np.testing.assert_allclose(duration, [25 / 3] * 3 + [4.0])
    assert duration.sum() == pytest.approx(29.0)
    np.testing.assert_allclose((ra, dec, roll), [[RA] * 4, [DEC] * 4, [0.0] * 4])


def test_sky_image_counts_and_header(teldef: Teldef) -> None:
    wcs = sky_wcs(teldef, RA, DEC)
    x = np.array([1.0, 1.49, 256.6, 512.4, 600.0, -3.0, 256.5])
    y = np.array([1.0, 0.6, 300.2, 512.0, 10.0, 10.0, 299.6])
    image, header = im.sky_image(x, y, wcs, (teldef.sky_xsiz, teldef.sky_ysiz))
    assert image.shape == (512, 512)
    assert image.dtype == np.int32
    assert image[0, 0] == 2
    assert image[299, 256] == 2  # X 256.6 and 256.5 -> column 257 (index 256), Y 300
    assert image[511, 511] == 1
    assert int(image.sum()) == 5  # two events outside the image
    assert header["BUNIT"] == "count"
    assert header["CRPIX1"] == 256.5
    assert header["HDUCLAS1"] == "IMAGE"
    fits.PrimaryHDU(image, header).verify("exception")


def test_event_sky_wcs_reads_the_column_keywords(teldef: Teldef) -> None:
    wcs = sky_wcs(teldef, RA, DEC)
    header = fits.Header({"TTYPE1": "TIME", "TTYPE2": "X", "TTYPE3": "Y"})
    header.update(sky_column_keywords(wcs, 2, 3))
    read = event_sky_wcs(header)
    np.testing.assert_allclose(read.wcs.crval, wcs.wcs.crval)
    np.testing.assert_allclose(read.wcs.cdelt, wcs.wcs.cdelt)
    np.testing.assert_allclose(
        read.wcs_world2pix([[151.0, 31.0]], 1), wcs.wcs_world2pix([[151.0, 31.0]], 1)
    )
    del header["TCRVL3"]
    with pytest.raises(ValueError, match="TCRVL3"):
        event_sky_wcs(header)
    with pytest.raises(ValueError, match="no X column"):
        event_sky_wcs(fits.Header({"TTYPE1": "TIME"}))


def test_image_functions_refuse_bad_input(teldef: Teldef) -> None:
    wcs = sky_wcs(teldef, RA, DEC)
    with pytest.raises(ValueError, match="no event"):
        im.sky_image([], [], wcs)
    with pytest.raises(ValueError, match="differ in length"):
        im.sky_image([1.0, 2.0], [1.0], wcs)
    with pytest.raises(ValueError, match="finite"):
        im.sky_image([np.nan], [1.0], wcs)
    with pytest.raises(ValueError, match="size"):
        im.sky_image([1.0], [1.0], wcs, (0, 512))
    with pytest.raises(ValueError, match="kind"):
        im.image_header(wcs, "rate")
    att = steady()
    with pytest.raises(ValueError, match="GTI list is empty"):
        im.exposure_map(([], []), att, teldef, wcs)
    with pytest.raises(ValueError, match="ends before it starts"):
        im.exposure_map(([10.0], [5.0]), att, teldef, wcs)
    with pytest.raises(ValueError, match="does not cover"):
        im.exposure_map(([0.0], [2000.0]), att, teldef, wcs)
    with pytest.raises(ValueError, match=r"TIME, RA, DEC, ROLL"):
        im.exposure_map(([0.0], [10.0]), att[:3], teldef, wcs)
    with pytest.raises(ValueError, match="CCD shape"):
        im.exposure_map(([0.0], [10.0]), att, teldef, wcs, bad_mask=np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match="energy_kev"):
        im.exposure_map(([0.0], [10.0]), att, teldef, wcs, energy_kev=-1.0)
    with pytest.raises(ValueError, match="oversample"):
        im.exposure_map(([0.0], [10.0]), att, teldef, wcs, oversample=0)
    with pytest.raises(ValueError, match="step_s"):
        im.exposure_map(([0.0], [10.0]), att, teldef, wcs, step_s=0.0)


def test_attitude_histogram_matches_the_step_by_step_projection(teldef: Teldef) -> None:
    wcs = sky_wcs(teldef, RA, DEC)
    attitude = steady(roll=20.0, jitter_arcsec=3.0, seed=7)
    gti = ([0.0], [300.0])
    binned, _ = im.exposure_map(gti, attitude, teldef, wcs)
    exact, _ = im.exposure_map(gti, attitude, teldef, wcs, attitude_bin_arcsec=0.0)
    assert float(binned.sum()) == pytest.approx(float(exact.sum()), rel=1e-4)
    assert float(np.abs(binned - exact).max()) <= 0.1 * 300.0
    assert float(np.abs(binned - exact).mean()) < 1e-3 * 300.0
    with pytest.raises(ValueError, match="attitude_bin_arcsec"):
        im.exposure_map(gti, attitude, teldef, wcs, attitude_bin_arcsec=-1.0)
