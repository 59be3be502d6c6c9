"""The spectrum mxt-products writes is right as a whole: fitted as XSPEC would fit it.

A bright GRB is simulated with the demonstration calibration and run through
``mxt-pipeline``; the source and background PHA files, the ARF and the RMF are then read
exactly as their keywords point at each other (``RESPFILE``, ``ANCRFILE``, ``BACKFILE``,
``BACKSCAL``), and the simulator's absorbed power law (NH fixed) is fitted by forward
folding with the Cash statistic (:mod:`pipeline_bricks.campaign.spectral_fit`). Both the
photon index and the normalisation must come back: the normalisation only does if the ARF
carries the vignetting and the right PSF fraction (the net one, with the PSF halo in the
background annulus) and the exposure is right.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from pipeline_bricks.campaign.spectral_fit import fit_absorbed_power_law
from pipeline_bricks.cli import main
from pipeline_bricks.mxt import caldata
from pipeline_bricks.simulator.source import expected_counts
from tests.pipeline.simulation import run_simulator, truth_of


@pytest.fixture(scope="module")
def products(demo_caldb: str, caldb_cache: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5 counts/s GRB (about 1000 source counts in 1 ks) through mxt-pipeline."""
    out = tmp_path_factory.mktemp("bright_grb")
    assert run_simulator(out, demo_caldb, "--rate", "5", "--seed", "21") == 0
    assert main(["run", "mxt-pipeline", str(out / "runtime_data.json")]) == 0
    return out


def read_spectrum(path: Path) -> tuple[np.ndarray, fits.Header]:
    with fits.open(path) as hdus:
        return np.asarray(hdus["SPECTRUM"].data["COUNTS"], float), hdus["SPECTRUM"].header


def test_the_spectrum_fits_back_to_the_simulated_power_law(products: Path) -> None:
    directory = products / "pipeline"
    status = json.loads((directory / "processing_status.json").read_text())
    (source_name,) = [n for n in status["outputs"]["spectrum"] if n.endswith("_src.pha")]
    counts, header = read_spectrum(directory / source_name)
    background, bkg_header = read_spectrum(directory / header["BACKFILE"])
    truth = truth_of(products)
    spectrum = truth["spectrum"]
    exposure = header["EXPOSURE"]
    fit = fit_absorbed_power_law(
        counts, background, exposure_s=exposure,
        background_exposure_s=bkg_header["EXPOSURE"] * bkg_header["BACKSCAL"] / header["BACKSCAL"],
        arf=caldata.read_specresp(directory / header["ANCRFILE"]),
        rmf=caldata.read_rmf(directory / header["RESPFILE"]), nh_cm2=spectrum["nh_cm2"],
    )  # fmt: skip
    # The fitted normalisation is the mean over the exposure of a decaying source.
    law = truth["rate_law"]
    rate, decay, t1 = law["rate_cts_s"], law["decay_index"], law["start_offset_s"]
    mean_share = expected_counts(rate, decay, t1, t1 + exposure) / (rate * exposure)
    expected_norm = spectrum["normalisation"] * mean_share
    assert abs(fit.gamma - spectrum["gamma"]) < 3 * fit.gamma_err, (fit.gamma, fit.gamma_err)
    assert abs(fit.norm - expected_norm) < 3 * fit.norm_err, (fit.norm, expected_norm)
    assert fit.gamma_err < 0.2  # a bright source: the test is sharp
