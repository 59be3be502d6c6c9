"""``mxt-products`` run alone on the screened events of a simulated GRB (simulated once for
the module): the source from ``source_radec`` or from the source list, the image alone
without either, and every bad parameter or source list as a FAILED with a clear message,
before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from tests.pipeline.jobs import last_message, output, run_job, warnings
from tests.pipeline.products_job import pipeline_status, products_inputs, simulate_and_run
from tests.pipeline.simulation import truth_of

SOURCE_KINDS = {"spectrum", "arf", "response", "lightcurve"}
RADII = "parameter background_radii_arcmin must be a list of two numbers"
RADEC = "parameter source_radec must be a list of two numbers"


@pytest.fixture(scope="module")
def grb(demo_caldb: str, caldb_cache: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate_and_run(demo_caldb, tmp_path_factory)


def true_radec(out: Path) -> list[float]:
    source = truth_of(out)["source"]
    return [source["ra_deg"], source["dec_deg"]]


def chain_source(out: Path) -> dict:
    return pipeline_status(out)["results"]["mxt-products"]["source"]


def test_source_radec_places_the_regions_without_a_source_list(grb):
    code, status = run_job(grb, "mxt-products", "radec", products_inputs(grb, srclist=False),
                           source_radec=true_radec(grb))  # fmt: skip
    assert code == 0, status["messages"]
    assert set(status["outputs"]) >= SOURCE_KINDS
    source = status["results"]["source"]
    assert [source["ra_deg"], source["dec_deg"]] == pytest.approx(true_radec(grb), abs=1e-6)
    header = fits.getheader(output(grb, "radec", status, "arf"), "SPECRESP")
    assert [header["RA_OBJ"], header["DEC_OBJ"]] == pytest.approx(true_radec(grb))
    # The detected position is some arcsec away: nearly the same events in a 5' circle.
    detected = chain_source(grb)
    assert source["source_counts_region"] == pytest.approx(
        detected["source_counts_region"], rel=0.03
    )
    true_theta = truth_of(grb)["source"]["off_axis_arcmin"]
    assert source["off_axis_arcmin"] == pytest.approx(true_theta, abs=0.05)


def test_source_radec_next_to_a_listed_source_extracts_that_source(grb):
    """The listed source 20" away is the target, not another source to cut out."""
    code, status = run_job(grb, "mxt-products", "radec-list", products_inputs(grb),
                           source_radec=true_radec(grb))  # fmt: skip
    assert code == 0, status["messages"]
    source = status["results"]["source"]
    assert source["source_counts_region"] == pytest.approx(
        chain_source(grb)["source_counts_region"], rel=0.03
    )
    assert source["psf_fraction_source_region"] > 0.4


def test_without_a_source_the_products_are_the_image_and_exposure_map(grb):
    code, status = run_job(grb, "mxt-products", "image-only", products_inputs(grb, srclist=False))
    assert code == 0
    assert status["status"] == "SUCCESS"
    assert set(status["outputs"]) == {"image", "exposure_map"}
    assert any("no source to extract" in text for text in warnings(status))
    assert "source" not in status["results"]
    chain = pipeline_status(grb)["results"]["mxt-products"]
    assert status["results"]["image_counts"] == chain["image_counts"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"source_radius_arcmin": 12.0}, "0 < source radius <= background inner < outer"),
        ({"source_radius_arcmin": 0}, "source_radius_arcmin must be a number in (0, 60], not 0"),
        ({"source_radius_arcmin": "wide"}, "source_radius_arcmin must be a number in (0, 60]"),
        ({"background_radii_arcmin": [20.0, 10.0]}, f"{RADII} (each in (0, 60], first < second)"),
        ({"background_radii_arcmin": [10.0, 90.0]}, f"{RADII} (each in (0, 60], first < second)"),
        ({"background_radii_arcmin": [10.0]}, RADII),
        ({"background_radii_arcmin": [10, 20, 30]}, RADII),
        ({"background_radii_arcmin": 15}, RADII),
        ({"background_radii_arcmin": "78"}, RADII),
        ({"source_radec": [400.0, 45.0]}, f"{RADEC} (first in [0, 360), second in [-90, 90])"),
        ({"source_radec": [204.0, 95.0]}, RADEC),
        ({"source_radec": [204.0]}, RADEC),
        ({"source_radec": "12"}, RADEC),
        ({"source_radec": {"ra": 1, "dec": 2}}, RADEC),
        ({"source_radec": [204.0, None]}, RADEC),
        ({"lightcurve_snr": 0}, "parameter lightcurve_snr must be a number in [1, 100], not 0"),
        ({"lightcurve_snr": "x"}, "parameter lightcurve_snr must be a number"),
        ({"bayesian_blocks_p0": 0.9}, "parameter bayesian_blocks_p0 must be a number"),
        ({"vignetting_energy_kev": 0}, "parameter vignetting_energy_kev must be a number"),
    ],
)
def test_a_bad_parameter_fails_before_anything_is_written(grb, parameters, message):
    code, status = run_job(grb, "mxt-products", "bad", products_inputs(grb), **parameters)
    assert code == 1
    assert status["status"] == "FAILED"
    assert message in last_message(status)
    assert status["outputs"] == {}


def test_a_source_far_from_the_field_fails_clearly(grb):
    ra, dec = true_radec(grb)
    for far in ([ra, -dec], [(ra + 1.5) % 360, dec]):  # the other hemisphere; 1 deg east
        code, status = run_job(grb, "mxt-products", "far", products_inputs(grb, srclist=False),
                               source_radec=far)  # fmt: skip
        assert code == 1
        assert "is outside the field of view" in last_message(status)
        assert not SOURCE_KINDS & set(status["outputs"])


def write_srclist(path: Path, **columns: float) -> Path:
    """A one-row SRCLIST table of the given columns."""
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name=name, format="D", array=[value]) for name, value in columns.items()],
        name="SRCLIST",
    )
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path, overwrite=True)
    return path


def broken_lists(directory: Path) -> dict[str, tuple[Path, str]]:
    """Source lists that are not, each with the message it must give."""
    text = directory / "text_srclist.fits"
    text.write_text("not a FITS file")
    no_table = directory / "no_table_srclist.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(no_table, overwrite=True)
    no_ra = write_srclist(directory / "no_ra_srclist.fits", DEC=45.0)
    bad_dec = write_srclist(directory / "bad_dec_srclist.fits", RA=204.0, DEC=np.nan, ERR_R90=10.0)
    return {
        "text": (text, "cannot read the source list text_srclist.fits"),
        "no table": (no_table, "cannot read the source list no_table_srclist.fits"),
        "no RA": (no_ra, "cannot read the source list no_ra_srclist.fits"),
        "NaN Dec": (bad_dec, "bad_dec_srclist.fits has a position that is not on the sky"),
    }


@pytest.mark.parametrize("source_radec", [None, "truth"], ids=["from-list", "radec-given"])
def test_a_broken_source_list_fails_clearly(grb, source_radec):
    parameters = {} if source_radec is None else {"source_radec": true_radec(grb)}
    for name, (path, message) in broken_lists(grb).items():
        inputs = {**products_inputs(grb), "srclist": [path.name]}
        code, status = run_job(grb, "mxt-products", "broken", inputs, **parameters)
        assert code == 1, name
        assert status["status"] == "FAILED", name
        assert message in last_message(status), (name, last_message(status))
        assert status["outputs"] == {}, name
