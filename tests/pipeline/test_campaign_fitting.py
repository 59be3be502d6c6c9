"""The fits of a campaign's products: photon index and decay index (C-stat).

On synthetic data drawn from the model they fit: a power law folded through a toy ARF and
a Gaussian RMF with a Poisson background spectrum, and a power-law decline drawn by the
simulator's own arrival times and binned by mxt-products' constant-S/N binning. The fits
must give back the parameters, with errors that are the scatter of many realisations
(pulls of mean 0 and spread 1), and refuse bad input with a clear message.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from pipeline_bricks.campaign.fitting import (
    cash,
    fit_decay_index,
    power_law_integral,
)
from pipeline_bricks.campaign.spectral_fit import fit_absorbed_power_law, folded_rates
from pipeline_bricks.mxt.caldata import EffectiveArea, Redistribution
from pipeline_bricks.mxt.products.lightcurve import Background, constant_snr_bins
from pipeline_bricks.simulator.source import Spectrum, arrival_times, expected_counts

EXPOSURE_S = 1000.0
BACKGROUND_SCALE = 10.0  # background region 10 times the source region
NH_CM2 = 3e21


def toy_response() -> tuple[EffectiveArea, Redistribution]:
    """A 0.2-10 keV ARF peaking near 1.5 keV and a Gaussian RMF (80 eV sigma), 0.04 keV channels."""
    edges = np.arange(0.2, 10.0001, 0.05)
    lo, hi = edges[:-1], edges[1:]
    centre = 0.5 * (lo + hi)
    area = 40.0 * np.exp(-0.5 * np.log(centre / 1.5) ** 2 / 0.6**2)
    channel_edges = np.arange(0.0, 10.24 + 1e-9, 0.04)
    c_lo, c_hi = channel_edges[:-1], channel_edges[1:]
    scale = 0.08 * np.sqrt(2.0)  # [keV]
    matrix = 0.5 * (erf((c_hi - centre[:, None]) / scale) - erf((c_lo - centre[:, None]) / scale))
    return EffectiveArea(lo, hi, area), Redistribution(lo, hi, matrix, c_lo, c_hi)


RESPONSE = toy_response()


def draw_spectrum(
    rng: np.random.Generator, gamma: float, counts: float, background_rate: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Source (with background) and background spectra [ct]; the true normalisation."""
    arf, rmf = RESPONSE
    rates = folded_rates(Spectrum(gamma, NH_CM2), arf, rmf.matrix)
    norm = counts / (EXPOSURE_S * rates.sum())
    flat = np.full(rates.size, background_rate / rates.size)  # [ct/s] in the source region
    source = rng.poisson(EXPOSURE_S * (norm * rates + flat))
    background = rng.poisson(EXPOSURE_S * BACKGROUND_SCALE * flat)
    return source.astype(float), background.astype(float), norm


def fit(source: np.ndarray, background: np.ndarray, nh_cm2: float | None = NH_CM2):
    arf, rmf = RESPONSE
    return fit_absorbed_power_law(
        source, background, exposure_s=EXPOSURE_S,
        background_exposure_s=EXPOSURE_S * BACKGROUND_SCALE, arf=arf, rmf=rmf, nh_cm2=nh_cm2,
    )  # fmt: skip


def test_a_bright_spectrum_gives_back_its_photon_index_and_normalisation():
    rng = np.random.default_rng(11)
    source, background, norm = draw_spectrum(rng, 1.7, 3000.0, 0.05)
    result = fit(source, background)
    assert result.gamma == pytest.approx(1.7, abs=3 * result.gamma_err)
    assert result.norm == pytest.approx(norm, abs=3 * result.norm_err)
    assert 0.02 < result.gamma_err < 0.1
    assert result.nh_cm2 == NH_CM2
    assert result.nh_err_cm2 == 0.0
    expected_flux = Spectrum(1.7, NH_CM2).energy_flux(norm)
    assert result.flux_erg_cm2_s == pytest.approx(expected_flux, rel=0.1)
    free = fit(source, background, nh_cm2=None)  # NH free: same index, a larger error
    assert free.gamma == pytest.approx(1.7, abs=3 * free.gamma_err)
    assert free.nh_cm2 == pytest.approx(NH_CM2, abs=3 * free.nh_err_cm2)
    assert free.gamma_err > result.gamma_err


@pytest.mark.parametrize("background_rate", [0.1, 0.005])
def test_photon_index_pulls_of_faint_spectra_are_standard_normal(background_rate):
    # 300 counts on a background of 100 ct in the source region (1000 in the background
    # spectrum), or 5 (50, most channels empty: where W-stat would be biased): the errors
    # of the C-stat curvature are the scatter of the fits, and the index is not biased
    rng = np.random.default_rng(5)
    pulls = []
    for _ in range(40):
        source, background, _ = draw_spectrum(rng, 2.2, 300.0, background_rate)
        result = fit(source, background)
        pulls.append((result.gamma - 2.2) / result.gamma_err)
    assert abs(np.mean(pulls)) < 0.5
    assert 0.7 < np.std(pulls) < 1.35


def test_a_spectrum_that_does_not_match_its_response_is_refused():
    arf, rmf = RESPONSE
    source, background, _ = draw_spectrum(np.random.default_rng(1), 2.0, 100.0, 0.01)
    with pytest.raises(ValueError, match="RMF's 256 channels"):
        fit(source[:-1], background)
    with pytest.raises(ValueError, match=">= 0"):
        fit(-source, background)
    shifted = EffectiveArea(arf.energ_lo_kev + 0.01, arf.energ_hi_kev + 0.01, arf.area_cm2)
    with pytest.raises(ValueError, match="share their energy grid"):
        fit_absorbed_power_law(source, background, exposure_s=EXPOSURE_S,
                               background_exposure_s=EXPOSURE_S, arf=shifted, rmf=rmf)  # fmt: skip
    with pytest.raises(ValueError, match="no count in the fitted band"):
        fit(np.zeros_like(source), background)
    with pytest.raises(ValueError, match="exposures must be > 0"):
        fit_absorbed_power_law(source, background, exposure_s=0.0,
                               background_exposure_s=EXPOSURE_S, arf=arf, rmf=rmf)  # fmt: skip


def draw_light_curve(rng: np.random.Generator, decay: float, counts: float):
    """A decline from 150 to 1150 s after T0 on 0.02 ct/s of background, constant-S/N bins."""
    t1, t2 = 150.0, 1150.0
    times = arrival_times(rng.poisson(counts), decay, t1, t2, rng)
    noise = rng.uniform(t1, t2, rng.poisson(0.02 * (t2 - t1)))
    gti = (np.array([t1]), np.array([t2]))
    background = Background(0.2, 0.1, 0.01)  # 0.2 ct/s in a region 10 times larger
    return constant_snr_bins(np.concatenate([times, noise]), gti, 5.0, background=background)


def test_a_light_curve_gives_back_its_decay_index():
    bins = draw_light_curve(np.random.default_rng(8), 1.3, 1500.0)
    result = fit_decay_index(bins.start, bins.stop, bins.exposure, bins.counts, bins.background)
    assert result.decay == pytest.approx(1.3, abs=3 * result.decay_err)
    assert result.decay_err < 0.1
    assert result.bins == len(bins)
    # the rate at the reference time is the law's
    rate_at_t1 = 1500.0 / expected_counts(1.0, 1.3, 150.0, 1150.0)
    expected = rate_at_t1 * (result.reference_s / 150.0) ** -1.3
    assert result.rate_cts_s == pytest.approx(expected, abs=3 * result.rate_err_cts_s)


def test_decay_index_pulls_are_standard_normal_with_constant_snr_bins():
    rng = np.random.default_rng(2)
    pulls = []
    for _ in range(60):
        bins = draw_light_curve(rng, 1.0, 300.0)
        result = fit_decay_index(bins.start, bins.stop, bins.exposure, bins.counts,
                                 bins.background)  # fmt: skip
        pulls.append((result.decay - 1.0) / result.decay_err)
    assert abs(np.mean(pulls)) < 0.4
    assert 0.7 < np.std(pulls) < 1.35


def test_the_power_law_integral_is_smooth_through_a_decay_of_one():
    start, stop = np.array([100.0]), np.array([300.0])
    log = power_law_integral(start, stop, 1.0, 200.0)
    assert log[0] == pytest.approx(200.0 * np.log(3.0))
    assert power_law_integral(start, stop, 1.0 + 1e-9, 200.0)[0] == pytest.approx(log[0])
    assert power_law_integral(start, stop, 0.0, 200.0)[0] == pytest.approx(200.0)
    assert power_law_integral(start, stop, 2.0, 200.0)[0] == pytest.approx(
        200.0**2 * (1 / 100.0 - 1 / 300.0)
    )


def test_cash_is_zero_for_a_perfect_model():
    counts = np.array([0.0, 1.0, 5.0])
    assert cash(counts + np.array([1e-12, 0.0, 0.0]), counts) == pytest.approx(0.0, abs=1e-9)
    assert cash(np.full(3, 2.0), counts) > 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: (b[0], b[1], b[2], b[3][:-1], b[4]), "1-d arrays of one length"),
        (lambda b: (b[0][:2], b[1][:2], b[2][:2], b[3][:2], b[4][:2]), "at least 3"),
        (lambda b: (b[0] - 200.0, b[1], b[2], b[3], b[4]), "start after T0"),
        (lambda b: (b[0], b[1], b[2] * 0.0, b[3], b[4]), "exposures must be positive"),
        (lambda b: (b[0], b[1], b[2], -b[3], b[4]), ">= 0"),
        (lambda b: (b[0], b[1], b[2], b[3] * 0, b[4]), "no net counts"),
    ],
)
def test_a_bad_light_curve_is_refused_with_the_reason(change, message):
    bins = draw_light_curve(np.random.default_rng(4), 1.0, 500.0)
    columns = (bins.start, bins.stop, bins.exposure, bins.counts.astype(float), bins.background)
    with pytest.raises(ValueError, match=message):
        fit_decay_index(*change(columns))
