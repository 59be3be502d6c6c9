"""Simulated observations through the MXT bricks, run as a scheduler runs them (a
runtime_data.json each, against a running CalDB): the energy scale closes within the MXT
±20 eV requirement and positions within 0.2 sky pixel, with the right calibration epochs,
and visibly not with the wrong ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from caldbio import CaDBIO
from pipeline_bricks.cli import main
from pipeline_bricks.mxt.sky import event_sky_wcs
from tests.helpers import assert_fitsverify_clean
from tests.pipeline.simulation import EVENTS, run_simulator, truth_of

QUIET = ["--bkg-rate", "0", "--hot-rate", "0", "--hot-pixels", "0", "--flickering-pixels", "0"]
LINES_EV = (1490.0, 5900.0)


@pytest.fixture(scope="module")
def lines(demo_caldb: str, caldb_cache: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Al K and Mn K lines, 100 s at 60 counts/s, observed 2025-07-01 (second epoch)."""
    out = tmp_path_factory.mktemp("lines")
    options = ["--lines", "1.49,5.9", "--rate", "60", "--decay", "0", "--duration", "100"]
    assert run_simulator(out, demo_caldb, *options, *QUIET) == 0
    return out


@pytest.fixture(scope="module")
def bright(demo_caldb: str, caldb_cache: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10^5 photons of a source on the spacecraft axis (a symmetric PSF on the CCD)."""
    out = tmp_path_factory.mktemp("bright")
    source = ["--ra", "204.8665", "--dec", "45.1204", "--pointing-ra", "204.8665"]
    source += ["--pointing-dec", "45.1204", "--rate", "100", "--decay", "0"]
    assert run_simulator(out, demo_caldb, *source, "--duration", "1000", "--seed", "5", *QUIET) == 0
    return out


def run_job(out: Path, brick: str, name: str, **parameters: Any) -> dict[str, Any]:
    """Run ``brick`` on the simulated events through a runtime_data.json made from the one
    the simulator wrote (same CalDB, same target); return its processing_status.json."""
    document = json.loads((out / "runtime_data.json").read_text())
    document.update(brick=brick, output_dir=name, parameters=parameters)
    document["inputs"] = {key: document["inputs"][key] for key in bricks_inputs(brick)}
    job = out / f"{name}.json"
    job.write_text(json.dumps(document))
    code = main(["run", brick, str(job)])
    status = json.loads((out / name / "processing_status.json").read_text())
    assert code == 0, status["messages"]
    assert status["status"] == "SUCCESS"
    return status


def bricks_inputs(brick: str) -> tuple[str, ...]:
    return ("events",) if brick == "mxt-calibrate" else ("events", "attitude")


def line_offsets_ev(path: Path) -> list[float]:
    """Median ENERGY - line energy [eV] of the X-ray patterns around each line."""
    with fits.open(path) as hdus:
        energy = hdus["EVENTS"].data["ENERGY"].astype(float) * 1000.0
        pattern = hdus["EVENTS"].data["PATTERN"]
    offsets = []
    for line in LINES_EV:
        near = (np.abs(energy - line) < 0.25 * line) & (pattern >= 0)
        assert near.sum() > 500
        offsets.append(float(np.median(energy[near]) - line))
    return offsets


def used(status: dict[str, Any], codename: str) -> str:
    return next(c["file"] for c in status["calibration"] if c["codename"] == codename)


def earlier_epoch(url: str, codename: str, directory: Path) -> str:
    """The file of ``codename`` valid before 2025-06-01, downloaded through CaDBIO."""
    with CaDBIO(url, cache_dir=directory / "cache", max_tries=2) as client:
        (dataset,) = client.search("MXT", codename, "2025-01-01", download_path=directory)
    return f"{dataset.local_path}[{dataset.cal_xno}]"


def test_mxt_calibrate_closes_the_energy_scale_within_20_ev(lines):
    status = run_job(lines, "mxt-calibrate", "calibrate")
    assert used(status, "GAIN") == "svmxt_gain_20250601v001.fits"
    assert used(status, "CTI") == "svmxt_cti_20250601v001.fits"
    offsets = line_offsets_ev(lines / "calibrate" / status["outputs"]["calibrated_events"][0])
    assert max(abs(o) for o in offsets) <= 20.0, offsets


def test_the_wrong_gain_epoch_breaks_the_energy_scale(lines, demo_caldb, tmp_path):
    old_gain = earlier_epoch(demo_caldb, "GAIN", tmp_path)
    status = run_job(lines, "mxt-calibrate", "old-gain", calibration={"GAIN": old_gain})
    assert used(status, "GAIN") == "svmxt_gain_20240622v001.fits"
    offsets = line_offsets_ev(lines / "old-gain" / status["outputs"]["calibrated_events"][0])
    assert offsets[1] < -50.0, offsets  # 1.5 % low: about -90 eV at 5.9 keV
    assert max(abs(o) for o in offsets) > 20.0


def sky_offset_px(out: Path, status: dict[str, Any]) -> float:
    """Distance [sky pixel] from the true source position to the median X, Y of the events."""
    with fits.open(out / "coordinates" / status["outputs"]["sky_events"][0]) as hdus:
        events, header = hdus["EVENTS"].data, hdus["EVENTS"].header
        wcs = event_sky_wcs(header)
        x, y = events["X"].astype(float), events["Y"].astype(float)
    truth = truth_of(out)["source"]
    true_x, true_y = wcs.wcs_world2pix(truth["ra_deg"], truth["dec_deg"], 1)
    near = np.hypot(x - true_x, y - true_y) < 60.0
    assert near.sum() > 50_000
    return float(np.hypot(np.median(x[near]) - true_x, np.median(y[near]) - true_y))


def test_mxt_coordinates_puts_the_photons_within_0_2_pixel_of_the_source(bright):
    status = run_job(bright, "mxt-coordinates", "coordinates")
    assert used(status, "TELDEF") == "svmxt_teldef_20250601v001.fits"
    assert sky_offset_px(bright, status) < 0.2


def test_the_first_teldef_epoch_misplaces_a_later_observation(bright, demo_caldb, tmp_path):
    old_teldef = earlier_epoch(demo_caldb, "TELDEF", tmp_path)
    status = run_job(bright, "mxt-coordinates", "coordinates", calibration={"TELDEF": old_teldef})
    assert used(status, "TELDEF") == "svmxt_teldef_20240622v001.fits"
    assert 3.5 < sky_offset_px(bright, status) < 5.5  # the 1.0' realignment, 4.5 pixels


def test_the_chain_screens_a_simulated_grb(demo_caldb, caldb_cache, tmp_path):
    options = ["--rate", "2", "--duration", "400", "--seed", "11", "--saa", "100:160"]
    assert run_simulator(tmp_path, demo_caldb, *options) == 0
    status = run_job(tmp_path, "mxt-pipeline", "pipeline")
    screen = status["results"]["mxt-screen"]
    assert screen["gti_count"] == 2
    assert 400 - 60 - 3 <= screen["exposure_s"] <= 400 - 60  # conservative by <= 1 s per edge
    assert screen["flagged"]["bad_pixel"] > 0  # BADPIX hot and flickering pixels fire
    assert screen["flagged"]["outside_gti"] > 0
    truth = truth_of(tmp_path)
    injected = {(p["rawx"], p["rawy"]) for p in truth["noisy_pixels"] if not p["in_badpix"]}
    assert injected <= {tuple(p) for p in screen["hot_pixels"]}
    for kind in ("calibrated_events", "sky_events", "cleaned_events"):
        assert_fitsverify_clean(tmp_path / "pipeline" / status["outputs"][kind][0])
    with fits.open(tmp_path / "pipeline" / status["outputs"]["cleaned_events"][0]) as hdus:
        events, header = hdus["EVENTS"].data, hdus["EVENTS"].header
        assert header["EXPOSURE"] == pytest.approx(screen["exposure_s"])
        assert np.all(events["STATUS"] == 0)
        t = events["TIME"] - header["TSTART"]
        assert not np.any((t > 100.0) & (t < 160.0))
        assert len(events) < truth["counts"]["total_events"]
    assert EVENTS in json.loads((tmp_path / "runtime_data.json").read_text())["inputs"]["events"]
