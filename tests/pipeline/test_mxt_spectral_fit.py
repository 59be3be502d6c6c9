"""The spectrum mxt-products writes is right as a whole: fitted as XSPEC would fit it.

A bright GRB is simulated with the demonstration calibration and run through
``mxt-pipeline``; the source and background PHA files, the ARF and the RMF are then read
exactly as their keywords point at each other (``RESPFILE``, ``ANCRFILE``, ``BACKFILE``,
``BACKSCAL``), and the simulator's absorbed power law (NH fixed) is fitted by forward
folding with the Cash statistic. Both the photon index and the normalisation must come back:
the normalisation only does if the ARF carries the vignetting and the right PSF fraction
(the net one, with the PSF halo in the background annulus) and the exposure is right.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from scipy.optimize import minimize

from pipeline_bricks.cli import main
from pipeline_bricks.mxt import caldata
from pipeline_bricks.simulator.source import Spectrum, expected_counts
from tests.pipeline.simulation import run_simulator, truth_of

FIT_BAND_KEV = (0.3, 8.0)


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


def folded_model(
    gamma: float, norm: float, nh: float, arf: caldata.EffectiveArea, rmf: caldata.Redistribution
) -> np.ndarray:
    """Expected counts per second in each channel for ``norm E**-gamma exp(-NH sigma)``."""
    weights = Spectrum(gamma, nh).bin_weights(arf)  # counts/s per energy bin for norm 1
    return norm * weights @ rmf.matrix


def test_the_spectrum_fits_back_to_the_simulated_power_law(products: Path) -> None:
    directory = products / "pipeline"
    status = json.loads((directory / "processing_status.json").read_text())
    (source_name,) = [n for n in status["outputs"]["spectrum"] if n.endswith("_src.pha")]
    counts, header = read_spectrum(directory / source_name)
    background, bkg_header = read_spectrum(directory / header["BACKFILE"])
    arf = caldata.read_specresp(directory / header["ANCRFILE"])
    rmf = caldata.read_rmf(directory / header["RESPFILE"])
    scale = header["BACKSCAL"] / bkg_header["BACKSCAL"]
    exposure = header["EXPOSURE"]
    energy = 0.5 * (rmf.channel_lo_kev + rmf.channel_hi_kev)
    band = (energy >= FIT_BAND_KEV[0]) & (energy < FIT_BAND_KEV[1])
    truth = truth_of(products)
    spectrum = truth["spectrum"]
    nh = spectrum["nh_cm2"]
    background_model = background[band] * scale  # the background treated as known

    def cash(parameters: np.ndarray) -> float:
        gamma, log_norm = parameters
        model = exposure * folded_model(gamma, 10**log_norm, nh, arf, rmf)[band]
        model = model + background_model + 1e-12
        return float(2 * np.sum(model - counts[band] * np.log(model)))

    fit = minimize(cash, x0=[1.5, -2.0], method="Nelder-Mead", options={"xatol": 1e-5})
    assert fit.success
    gamma, log_norm = fit.x
    errors = np.sqrt(np.diag(hessian_inverse(cash, fit.x)))
    # The fitted normalisation is the mean over the exposure of a decaying source.
    law = truth["rate_law"]
    rate, decay, t1 = law["rate_cts_s"], law["decay_index"], law["start_offset_s"]
    mean_share = expected_counts(rate, decay, t1, t1 + exposure) / (rate * exposure)
    expected_norm = spectrum["normalisation"] * mean_share
    assert abs(gamma - spectrum["gamma"]) < 3 * errors[0], (gamma, errors[0])
    assert abs(log_norm - np.log10(expected_norm)) < 3 * errors[1], (10**log_norm, expected_norm)
    assert errors[0] < 0.2  # a bright source: the test is sharp


def hessian_inverse(
    function: Callable[[np.ndarray], float], point: np.ndarray, step: float = 1e-3
) -> np.ndarray:
    """Covariance of a -2 ln L fit: twice the inverse of the Hessian (central differences)."""
    n = point.size
    hessian = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            shifts = [np.zeros(n) for _ in range(2)]
            shifts[0][i], shifts[1][j] = step, step
            hessian[i, j] = (
                function(point + shifts[0] + shifts[1])
                - function(point + shifts[0] - shifts[1])
                - function(point - shifts[0] + shifts[1])
                + function(point - shifts[0] - shifts[1])
            ) / (4 * step * step)
    return 2 * np.linalg.inv(hessian)
