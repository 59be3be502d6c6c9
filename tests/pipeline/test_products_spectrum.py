"""mxt-products science: regions, PHA spectra, PSF enclosed fraction, ARF, OGIP files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from pipeline_bricks.mxt.caldata import (
    EffectiveArea,
    Psf,
    Vignetting,
    read_psf,
    read_rmf,
    read_specresp,
    read_vignet,
)
from pipeline_bricks.mxt.products import regions as rg
from pipeline_bricks.mxt.products import spectrum as sp


@pytest.fixture(scope="module")
def calibration(demo: Path) -> dict[str, Path]:
    """The first-epoch MXT files of the demonstration set, by codename (lower case)."""
    return {p.name.split("_")[1]: p for p in demo.glob("svmxt_*2024*")}


@pytest.fixture(scope="module")
def psf(calibration: dict[str, Path]) -> Psf:
    return read_psf(calibration["psf"])


@pytest.fixture(scope="module")
def specresp(calibration: dict[str, Path]) -> EffectiveArea:
    return read_specresp(calibration["specresp"])


@pytest.fixture(scope="module")
def vignet(calibration: dict[str, Path]) -> Vignetting:
    return read_vignet(calibration["vignet"])


def fitsverify(path: Path) -> None:
    """``fitsverify -q`` must report the file OK (skipped where the tool is missing)."""
    executable = shutil.which("fitsverify")
    if executable is None:
        pytest.skip("fitsverify (HEASoft/CFITSIO utility) is not installed on this machine")
    result = subprocess.run(
        [executable, "-q", str(path)], capture_output=True, text=True, check=False
    )
    assert "verification OK" in result.stdout, result.stdout + result.stderr


# --- PHA counts -------------------------------------------------------------------------


def test_pha_spectrum_counts_per_channel() -> None:
    counts = sp.pha_spectrum(np.array([0, 5, 5, 1023, 100]))
    assert counts.shape == (1024,)
    assert counts.dtype == np.int64
    assert (counts[0], counts[5], counts[100], counts[1023]) == (1, 2, 1, 1)
    assert int(counts.sum()) == 5
    np.testing.assert_array_equal(sp.pha_spectrum([]), np.zeros(1024))  # empty background
    assert sp.pha_spectrum(np.array([1.0, 2.0]), n_channels=4).tolist() == [0, 1, 1, 0]


def test_pha_spectrum_refuses_bad_channels() -> None:
    with pytest.raises(ValueError, match="outside the channels"):
        sp.pha_spectrum([1024])
    with pytest.raises(ValueError, match="outside the channels"):
        sp.pha_spectrum([-1])
    with pytest.raises(ValueError, match="integer"):
        sp.pha_spectrum([1.5])
    with pytest.raises(ValueError, match="finite"):
        sp.pha_spectrum([np.nan])
    with pytest.raises(ValueError, match="n_channels"):
        sp.pha_spectrum([1], n_channels=0)


# --- PSF and ARF ------------------------------------------------------------------------


def test_psf_enclosed_fraction_matches_the_documented_values(psf: Psf) -> None:
    # docs/calibration_formats.md §4.1: 6.2 % at 1', 20.4 % at 2', 51.0 % at 5'
    values = sp.psf_enclosed_fraction(psf, [1.0, 2.0, 5.0])
    np.testing.assert_allclose(values, [0.062, 0.204, 0.510], rtol=0.01)
    assert sp.psf_enclosed_fraction(psf, 10.0) == pytest.approx(0.685, rel=0.01)
    assert sp.psf_enclosed_fraction(psf, 0.0) == 0.0
    assert isinstance(sp.psf_enclosed_fraction(psf, 1.0), float)
    radii = np.linspace(0.5, 30.0, 60)
    curve = sp.psf_enclosed_fraction(psf, radii)
    assert np.all(np.diff(curve) > 0)
    assert curve[-1] <= psf.image.sum() + 1e-12


def test_psf_enclosed_fraction_agrees_with_the_eef_table(
    calibration: dict[str, Path], psf: Psf
) -> None:
    table = fits.getdata(calibration["psf"], "EEF")
    values = sp.psf_enclosed_fraction(psf, table["RADIUS"])
    np.testing.assert_allclose(values, table["EEF"], rtol=0.01)


def test_psf_enclosed_fraction_refuses_bad_radii(psf: Psf) -> None:
    with pytest.raises(ValueError, match="radii"):
        sp.psf_enclosed_fraction(psf, -1.0)
    with pytest.raises(ValueError, match="radii"):
        sp.psf_enclosed_fraction(psf, [1.0, np.inf])


def test_arf_for_region_is_area_times_vignetting_times_eef(
    specresp: EffectiveArea, vignet: Vignetting
) -> None:
    on_axis = sp.arf_for_region(specresp, vignet, 0.0, 1.0)
    np.testing.assert_allclose(on_axis, specresp.area_cm2, rtol=1e-6)
    arf = sp.arf_for_region(specresp, vignet, 30.0, 0.5)
    energy = 0.5 * (specresp.energ_lo_kev + specresp.energ_hi_kev)
    expected = 0.5 * specresp.area_cm2 * (1 - 0.1 * (1 + 0.02 * (energy - 1.0)))  # §4.2 law
    inside = (energy >= 0.3) & (energy <= 9.9)  # between the first and last VIGNET centres
    np.testing.assert_allclose(arf[inside], expected[inside], rtol=1e-4)
    at_1kev = np.argmin(np.abs(energy - 1.0))
    assert arf[at_1kev] / specresp.area_cm2[at_1kev] == pytest.approx(0.5 * 0.90, rel=1e-3)
    # Several off-axis angles (attitude steps) are averaged with their weights.
    mixed = sp.arf_for_region(specresp, vignet, [0.0, 30.0], 1.0, weights=[3.0, 1.0])
    np.testing.assert_allclose(mixed, 0.75 * on_axis + 0.25 * arf / 0.5, rtol=1e-6)


def test_arf_for_region_refuses_bad_input(specresp: EffectiveArea, vignet: Vignetting) -> None:
    with pytest.raises(ValueError, match="eef"):
        sp.arf_for_region(specresp, vignet, 0.0, 0.0)
    with pytest.raises(ValueError, match="eef"):
        sp.arf_for_region(specresp, vignet, 0.0, 1.5)
    with pytest.raises(ValueError, match="theta"):
        sp.arf_for_region(specresp, vignet, [], 0.5)
    with pytest.raises(ValueError, match="theta"):
        sp.arf_for_region(specresp, vignet, -2.0, 0.5)
    with pytest.raises(ValueError, match="weights"):
        sp.arf_for_region(specresp, vignet, [1.0, 2.0], 0.5, weights=[1.0])


# --- Regions ----------------------------------------------------------------------------


def test_regions_select_events_and_pixels() -> None:
    circle = rg.Region.circle(256.5, 256.5, 10.0)
    annulus = rg.Region.annulus(256.5, 256.5, 20.0, 40.0)
    x = np.array([256.5, 266.4, 266.6, 280.0, 290.0])
    y = np.full(5, 256.5)
    assert circle.contains(x, y).tolist() == [True, True, False, False, False]
    assert annulus.contains(x, y).tolist() == [False, False, False, True, True]
    assert np.count_nonzero(circle.pixel_mask((512, 512))) == pytest.approx(np.pi * 100, rel=0.02)
    area = rg.backscal(annulus)
    assert area == pytest.approx(np.pi * (40**2 - 20**2), rel=0.01)
    ratio = rg.region_area_ratio(rg.backscal(circle), area)
    assert ratio == pytest.approx(100 / 1200, rel=0.02)


def test_backscal_weights_the_area_by_the_exposure_map() -> None:
    exposure = np.full((512, 512), 1000.0)
    circle = rg.Region.circle(256.5, 256.5, 10.0)
    full = rg.backscal(circle, exposure=exposure)
    assert full == rg.backscal(circle)
    exposure[:, 250] = 0.0  # a bad column through the region
    lost = np.count_nonzero(circle.pixel_mask((512, 512))[:, 250])
    assert lost > 10
    assert rg.backscal(circle, exposure=exposure) == full - lost
    assert rg.backscal(circle, exposure=exposure, exposure_s=2000.0) == pytest.approx(
        rg.backscal(circle, exposure=exposure) / 2
    )


def test_regions_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="r_inner < r_outer"):
        rg.Region.circle(1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="r_inner < r_outer"):
        rg.Region.annulus(1.0, 1.0, 5.0, 4.0)
    with pytest.raises(ValueError, match="finite"):
        rg.Region.circle(np.nan, 1.0, 3.0)
    with pytest.raises(ValueError, match="differ"):
        rg.Region.circle(1.0, 1.0, 3.0).contains([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="covers no exposed"):
        rg.backscal(rg.Region.circle(-100.0, -100.0, 3.0))
    with pytest.raises(ValueError, match="exposure map"):
        rg.backscal(rg.Region.circle(1.0, 1.0, 3.0), exposure=-np.ones((4, 4)))
    with pytest.raises(ValueError, match="reference exposure"):
        rg.backscal(rg.Region.circle(1.0, 1.0, 3.0), exposure=np.zeros((4, 4)))
    with pytest.raises(ValueError, match="shape"):
        rg.Region.circle(1.0, 1.0, 3.0).pixel_mask((0, 5))
    with pytest.raises(ValueError, match="background BACKSCAL"):
        rg.region_area_ratio(1.0, 0.0)


# --- OGIP files -------------------------------------------------------------------------

PHA_KEYWORDS = (
    "TELESCOP", "INSTRUME", "FILTER", "EXPOSURE", "AREASCAL", "BACKFILE", "BACKSCAL", "CORRFILE",
    "CORRSCAL", "RESPFILE", "ANCRFILE", "POISSERR", "CHANTYPE", "DETCHANS", "TLMIN1", "TLMAX1",
    "HDUCLASS", "HDUCLAS1", "HDUCLAS2", "HDUCLAS3", "HDUVERS",
)  # fmt: skip


def test_pha_file_has_the_ogip_keywords_and_verifies(
    tmp_path: Path, calibration: dict[str, Path]
) -> None:
    rng = np.random.default_rng(3)
    counts = sp.pha_spectrum(rng.integers(30, 1000, 5000))
    hdus = sp.write_pha_hdus(
        counts,
        1234.5,
        317.2,
        respfile="svmxt_matrix_20240622v001.rmf",
        ancrfile="src.arf",
        backfile="bkg.pha",
        header_extras={"OBS_ID": "sb25070101", "DATE-OBS": ("2025-07-01T00:00:00", "start")},
    )
    path = tmp_path / "src.pha"
    hdus.writeto(path)
    with fits.open(path) as read:
        header, data = read["SPECTRUM"].header, read["SPECTRUM"].data
        assert all(key in header for key in PHA_KEYWORDS)
        assert (header["TELESCOP"], header["INSTRUME"]) == ("SVOM", "MXT")
        assert (header["EXPOSURE"], header["BACKSCAL"]) == (1234.5, 317.2)
        assert header["POISSERR"] is True
        assert (header["CHANTYPE"], header["DETCHANS"], header["TLMIN1"], header["TLMAX1"]) == (
            "PI", 1024, 0, 1023,
        )  # fmt: skip
        assert (header["HDUCLAS1"], header["HDUCLAS2"], header["HDUCLAS3"]) == (
            "SPECTRUM", "TOTAL", "COUNT",
        )  # fmt: skip
        assert header["HDUVERS"] == "1.2.1"
        assert (header["RESPFILE"], header["ANCRFILE"], header["BACKFILE"]) == (
            "svmxt_matrix_20240622v001.rmf", "src.arf", "bkg.pha",
        )  # fmt: skip
        assert header["OBS_ID"] == "sb25070101"
        assert read[0].header["OBS_ID"] == "sb25070101"
        np.testing.assert_array_equal(data["CHANNEL"], np.arange(1024))
        np.testing.assert_array_equal(data["COUNTS"], counts)
    # The channels match the RMF's EBOUNDS (same DETCHANS, channels 0-based).
    rmf = read_rmf(calibration["matrix"])
    assert rmf.channel_lo_kev.size == counts.size
    fitsverify(path)
    background = sp.write_pha_hdus(
        np.zeros(1024, int), 1234.5, 3000.0, respfile="none", ancrfile="none", kind="BKG"
    )
    assert background["SPECTRUM"].header["HDUCLAS2"] == "BKG"
    extras = fits.Header()
    extras["OBJECT"] = ("sb25070101", "burst")
    extras.add_history("made by the test")
    with_header = sp.write_pha_hdus(
        counts, 1.0, 1.0, respfile="a", ancrfile="b", header_extras=extras
    )
    assert with_header["SPECTRUM"].header["OBJECT"] == "sb25070101"
    assert "made by the test" in str(with_header["SPECTRUM"].header["HISTORY"])
    background.writeto(tmp_path / "bkg.pha")
    fitsverify(tmp_path / "bkg.pha")


def test_arf_file_verifies(tmp_path: Path, specresp: EffectiveArea, vignet: Vignetting) -> None:
    area = sp.arf_for_region(specresp, vignet, 5.0, 0.6)
    hdus = sp.write_arf_hdus(
        specresp.energ_lo_kev, specresp.energ_hi_kev, area, header_extras={"OBS_ID": "sb1"}
    )
    path = tmp_path / "src.arf"
    hdus.writeto(path)
    read = read_specresp(path)  # the chain's own reader accepts it
    np.testing.assert_allclose(read.area_cm2, area, rtol=1e-6)
    header = hdus["SPECRESP"].header
    assert (header["HDUCLASS"], header["HDUCLAS1"], header["HDUCLAS2"]) == (
        "OGIP", "RESPONSE", "SPECRESP",
    )  # fmt: skip
    fitsverify(path)


def test_ogip_writers_refuse_bad_input() -> None:
    counts = np.ones(1024, dtype=int)
    names = {"respfile": "a.rmf", "ancrfile": "a.arf"}
    with pytest.raises(ValueError, match="exposure"):
        sp.write_pha_hdus(counts, -10.0, 1.0, **names)
    with pytest.raises(ValueError, match="exposure"):
        sp.write_pha_hdus(counts, 0.0, 1.0, **names)
    with pytest.raises(ValueError, match="backscal"):
        sp.write_pha_hdus(counts, 10.0, 0.0, **names)
    with pytest.raises(ValueError, match="no channel"):
        sp.write_pha_hdus([], 10.0, 1.0, **names)
    with pytest.raises(ValueError, match=">= 0"):
        sp.write_pha_hdus(-counts, 10.0, 1.0, **names)
    with pytest.raises(ValueError, match="integers"):
        sp.write_pha_hdus(counts * 0.5, 10.0, 1.0, **names)
    with pytest.raises(ValueError, match="kind"):
        sp.write_pha_hdus(counts, 10.0, 1.0, kind="SRC", **names)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="RESPFILE"):
        sp.write_pha_hdus(counts, 10.0, 1.0, respfile="", ancrfile="a.arf")
    with pytest.raises(ValueError, match="EXPOSURE is set by the product writer"):
        sp.write_pha_hdus(counts, 10.0, 1.0, header_extras={"EXPOSURE": 5.0}, **names)
    with pytest.raises(ValueError, match="NAXIS2 is set by the product writer"):
        sp.write_pha_hdus(counts, 10.0, 1.0, header_extras={"NAXIS2": 5}, **names)
    lo = np.array([0.2, 0.3])
    with pytest.raises(ValueError, match="no energy bin"):
        sp.write_arf_hdus([], [], [])
    with pytest.raises(ValueError, match="differ in length"):
        sp.write_arf_hdus(lo, lo + 0.1, [1.0])
    with pytest.raises(ValueError, match="increasing"):
        sp.write_arf_hdus(lo[::-1], lo[::-1] + 0.1, [1.0, 1.0])
    with pytest.raises(ValueError, match=">= 0 cm2"):
        sp.write_arf_hdus(lo, lo + 0.1, [1.0, -1.0])
    with pytest.raises(ValueError, match="finite"):
        sp.write_arf_hdus(lo, lo + 0.1, [1.0, np.nan])
