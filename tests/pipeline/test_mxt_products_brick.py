"""``mxt-products`` on a simulated GRB run through the whole chain against the demonstration
CalDB (simulated once for the module): every product is valid FITS, the spectra are
XSPEC-ready and consistent with the regions, the ARF and the simulation, the light curves
count the source circle inside the good time and mark the SAA, the image and exposure map
add up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.sky import event_sky_wcs, radec_to_sky
from tests.helpers import assert_fitsverify_clean
from tests.pipeline.jobs import PNG_SIGNATURE, calibration_cards
from tests.pipeline.products_job import SAA_S, pipeline_status, simulate_and_run
from tests.pipeline.simulation import truth_of

PRODUCTS = ("image", "exposure_map", "spectrum", "arf", "response", "lightcurve", "preview")
PHA_KEYWORDS = {  # OGIP/92-007 mandatory keywords of a type I PHA file, and the fixed values
    "TELESCOP": "SVOM", "INSTRUME": "MXT", "FILTER": "NONE", "EXPOSURE": None,
    "AREASCAL": 1.0, "BACKFILE": None, "BACKSCAL": None, "CORRFILE": "none", "CORRSCAL": 1.0,
    "RESPFILE": None, "ANCRFILE": None, "HDUCLASS": "OGIP", "HDUCLAS1": "SPECTRUM",
    "HDUVERS": "1.2.1", "POISSERR": True, "CHANTYPE": "PI", "DETCHANS": 1024,
}  # fmt: skip


@pytest.fixture(scope="module")
def grb(demo_caldb: str, caldb_cache: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate_and_run(demo_caldb, tmp_path_factory)


def products(out: Path, kind: str, index: int = 0) -> Path:
    return out / "pipeline" / pipeline_status(out)["outputs"][kind][index]


def results(out: Path) -> dict:
    return pipeline_status(out)["results"]["mxt-products"]


def cleaned_events(out: Path) -> tuple[np.ndarray, fits.Header, np.ndarray]:
    """EVENTS rows, EVENTS header and GTI rows (START, STOP) of the chain's cleaned list."""
    with fits.open(products(out, "cleaned_events")) as hdus:
        gti = np.column_stack([hdus["GTI"].data["START"], hdus["GTI"].data["STOP"]])
        return hdus["EVENTS"].data.copy(), hdus["EVENTS"].header.copy(), gti


def in_source_circle(out: Path) -> int:
    """Events of the cleaned list within SRC_RAD of RA_OBJ, DEC_OBJ (from the PHA header)."""
    events, header, _ = cleaned_events(out)
    wcs = event_sky_wcs(header)
    pha = fits.getheader(products(out, "spectrum", 0), "SPECTRUM")
    x, y = radec_to_sky(pha["RA_OBJ"], pha["DEC_OBJ"], wcs)
    radius = pha["SRC_RAD"] / (abs(wcs.wcs.cdelt[1]) * 60.0)
    return int(np.count_nonzero(np.hypot(events["X"] - x, events["Y"] - y) < radius))


def test_every_product_exists_and_passes_fitsverify(grb):
    outputs = pipeline_status(grb)["outputs"]
    assert set(PRODUCTS) <= set(outputs)
    assert len(outputs["spectrum"]) == 2
    assert len(outputs["lightcurve"]) == 2
    for kind in PRODUCTS:
        for name in outputs[kind]:
            path = grb / "pipeline" / name
            assert path.is_file(), name
            if kind == "preview":
                assert name.endswith(".png")
                assert path.read_bytes()[:8] == PNG_SIGNATURE
                assert path.stat().st_size > 5000
            else:
                assert_fitsverify_clean(path)


def test_the_products_record_the_calibration_they_used(grb):
    files = {c["codename"] for c in pipeline_status(grb)["calibration"]}
    assert {"PSF", "VIGNET", "SPECRESP", "MATRIX", "TELDEF", "BADPIX"} <= files
    spectrum = fits.getheader(products(grb, "spectrum", 0), "SPECTRUM")
    assert {"PSF", "VIGNET", "SPECRESP", "MATRIX"} <= set(calibration_cards(spectrum))
    exposure = fits.getheader(products(grb, "exposure_map"))
    assert {"TELDEF", "BADPIX", "VIGNET"} <= set(calibration_cards(exposure))


def test_the_spectra_are_ogip_and_name_files_next_to_them(grb):
    source, background = (products(grb, "spectrum", i) for i in (0, 1))
    exposure = pipeline_status(grb)["results"]["mxt-screen"]["exposure_s"]
    for path, kind in ((source, "TOTAL"), (background, "BKG")):
        header = fits.getheader(path, "SPECTRUM")
        for key, value in PHA_KEYWORDS.items():
            assert key in header, (path.name, key)
            if value is not None:
                assert header[key] == value, (path.name, key)
        assert header["HDUCLAS2"] == kind
        assert header["EXPOSURE"] == pytest.approx(exposure)
    header = fits.getheader(source, "SPECTRUM")
    for key in ("RESPFILE", "ANCRFILE", "BACKFILE"):
        assert (source.parent / header[key]).is_file(), key
    assert header["BACKFILE"] == background.name
    assert header["ANCRFILE"] == products(grb, "arf").name
    assert header["RESPFILE"] == products(grb, "response").name
    assert fits.getheader(background, "SPECTRUM")["BACKFILE"] == "none"
    with fits.open(products(grb, "response")) as rmf:
        assert rmf["MATRIX"].header["DETCHANS"] == header["DETCHANS"]


def test_backscal_is_the_area_of_each_region(grb):
    source, background = (fits.getheader(products(grb, "spectrum", i), "SPECTRUM") for i in (0, 1))
    per_pixel = source["SRC_RAD"] / np.sqrt(source["BACKSCAL"] / np.pi)  # [arcmin]
    assert per_pixel == pytest.approx(13.452053 / 60.0, rel=0.03)  # a few dead columns
    areas = source["SRC_RAD"] ** 2, background["BKG_ROUT"] ** 2 - background["BKG_RIN"] ** 2
    ratio = source["BACKSCAL"] / background["BACKSCAL"]
    assert ratio == pytest.approx(areas[0] / areas[1], rel=0.05)
    assert source["PSF_NET"] == pytest.approx(
        source["PSF_SRC"] - source["PSF_BKG"] * ratio, abs=2e-5
    )


def test_the_arf_is_the_vignetted_on_axis_area_times_the_net_psf_fraction(grb):
    calibration = grb / "pipeline" / "calibration"
    specresp = caldata.read_specresp(calibration / "svmxt_specresp_20240622v001.arf")
    vignet = caldata.read_vignet(calibration / "svmxt_vignet_20240622v001.fits")
    theta = results(grb)["source"]["off_axis_arcmin"]
    assert abs(theta - truth_of(grb)["source"]["off_axis_arcmin"]) < 0.5
    with fits.open(products(grb, "arf")) as hdus:
        arf, header = hdus["SPECRESP"].data, hdus["SPECRESP"].header
        np.testing.assert_allclose(arf["ENERG_LO"], specresp.energ_lo_kev)
        area = np.asarray(arf["SPECRESP"], dtype=np.float64)
    centres = 0.5 * (specresp.energ_lo_kev + specresp.energ_hi_kev)
    v_centres = 0.5 * (vignet.energ_lo_kev + vignet.energ_hi_kev)
    at_theta = [np.interp(theta, vignet.theta_arcmin, column) for column in vignet.value.T]
    vignetting = np.interp(centres, v_centres, at_theta)
    assert np.all((vignetting > 0.99) & (vignetting < 0.999))  # 4.5' off axis: 0.2-0.3 %
    expected = specresp.area_cm2 * vignetting * header["PSF_NET"]
    # PSF_NET is written to 5 decimals (2e-5 of it), theta to 0.01'; the vignetting is 2e-3
    np.testing.assert_allclose(area, expected, rtol=2e-4, atol=1e-9 * specresp.area_cm2.max())


def test_the_source_counts_agree_with_the_simulation(grb):
    """Within 3 sigma of the source photons that reached the focal plane in the good time."""
    source = results(grb)["source"]
    counts = truth_of(grb)["counts"]["source"]
    assert counts["events_in_saa"] > 50
    good = 1.0 - counts["events_in_saa"] / counts["events"]
    expected = (counts["photons_generated"] - counts["photons_lost_to_vignetting"]) * good
    assert abs(source["source_counts_total"] - expected) < 3.0 * source["source_counts_total_err"]
    assert source["source_counts_total_err"] < 0.1 * expected
    assert source["source_counts_region"] == in_source_circle(grb)
    assert 0.4 < source["psf_fraction_source_region"] < 0.7
    with fits.open(products(grb, "spectrum", 0)) as hdus:
        assert int(hdus["SPECTRUM"].data["COUNTS"].sum()) == source["source_counts_region"]
    with fits.open(products(grb, "spectrum", 1)) as hdus:
        assert int(hdus["SPECTRUM"].data["COUNTS"].sum()) == source["background_counts_region"]


def test_the_light_curves_count_the_source_circle_inside_the_good_time(grb):
    _, _, gti = cleaned_events(grb)
    circle = in_source_circle(grb)
    t0 = truth_of(grb)["time"]["tstart"]
    saa = (t0 + SAA_S[0], t0 + SAA_S[1])
    for index in (0, 1):
        with fits.open(products(grb, "lightcurve", index)) as hdus:
            rate, gaps = hdus["RATE"].data, hdus["GAPS"].data
            np.testing.assert_allclose(hdus["GTI"].data["START"], gti[:, 0])
            np.testing.assert_allclose(hdus["GTI"].data["STOP"], gti[:, 1])
            assert np.all(rate["BACKE"] > 0)  # a background was estimated (it may be 0)
        assert int(rate["COUNTS"].sum()) == circle
        start, stop = rate["TIME"] - rate["TIMEDEL"] / 2, rate["TIME"] + rate["TIMEDEL"] / 2
        first, last = gti[None, :, 0] - 1e-6, gti[None, :, 1] + 1e-6
        inside = (start[:, None] >= first) & (stop[:, None] <= last)
        assert np.all(inside.sum(axis=1) == 1)  # each bin in exactly one GTI
        assert np.all(rate["ERROR"] > 0)
        (row,) = [g for g in gaps if g["CAUSE"].strip() == "SAA"]
        assert row["START"] <= saa[0] + 2.0
        assert row["STOP"] >= saa[1] - 2.0
        assert not np.any((start < row["START"]) & (stop > row["STOP"]))  # no bin across
    assert results(grb)["lightcurve"]["gaps"][0]["cause"] == "SAA"


def test_the_image_counts_every_event_and_the_exposure_map_peaks_at_the_exposure(grb):
    events, header, _ = cleaned_events(grb)
    with fits.open(products(grb, "image")) as hdus:
        image, image_header = hdus[0].data, hdus[0].header
    assert image.sum() == len(events) == results(grb)["image_counts"]
    with fits.open(products(grb, "exposure_map")) as hdus:
        exposure_map, expo_header = hdus[0].data, hdus[0].header
    assert exposure_map.shape == image.shape
    exposure = header["EXPOSURE"]
    assert expo_header["EXPOSURE"] == pytest.approx(exposure)
    assert exposure_map.max() <= exposure * (1 + 1e-6)  # vignetting <= 1
    assert exposure_map.max() >= 0.97 * exposure
    assert np.all(exposure_map >= 0)
    assert image[exposure_map == 0].sum() == 0  # no event off the exposed pixels
    for key in ("CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2"):
        assert expo_header[key] == pytest.approx(image_header[key]), key
