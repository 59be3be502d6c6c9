"""The PSF model of mxt-detect: exact pixel, bin and live-CCD fractions of a source at any
sub-pixel position, and the Cash engine's gradients and DETML."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erfc

from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.detect import PsfModel, detection_likelihood
from pipeline_bricks.mxt.detect.cash import CashModel, bin_events
from pipeline_bricks.mxt.detect.psf_model import bilinear


@pytest.fixture(scope="module")
def psf(demo_psf) -> caldata.Psf:
    return demo_psf


@pytest.fixture(scope="module")
def model(psf) -> PsfModel:
    return PsfModel.from_psf(psf)


def test_density_is_the_normalised_image_at_integer_offsets(psf, model):
    assert model.image.sum() == pytest.approx(1.0)
    image = psf.image / psf.image.sum()
    assert model.psf_density(0, 0) == pytest.approx(image[255, 255])
    assert model.psf_density(7, -3) == pytest.approx(image[255 - 3, 255 + 7])
    assert model.psf_density(300, 0) == 0.0
    # between pixel centres it is linear: half a pixel shifts half of each pixel's photons
    half = model.psf_density(0.5, 0.0)
    assert half == pytest.approx(0.5 * (image[255, 255] + image[255, 256]))


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.3, -0.77), (-0.5, 0.49)])
def test_the_pixel_fractions_of_any_sub_pixel_source_sum_to_one(model, shift):
    offsets = np.arange(-300, 301, dtype=float)
    grid = model.psf_density(offsets[None, :] - shift[0], offsets[:, None] - shift[1])
    assert grid.sum() == pytest.approx(1.0, abs=1e-12)


def test_binned_psf_is_the_sum_of_the_pixel_fractions(model):
    pixels = model.binned_psf(100.3, 120.7, binning=1)
    assert pixels.shape == (256, 256)
    for binning in (2, 4, 8):
        n = 256 // binning
        binned = model.binned_psf(100.3, 120.7, binning=binning)
        direct = pixels.reshape(n, binning, n, binning).sum(axis=(1, 3))
        assert binned.shape == (n, n)
        assert np.allclose(binned, direct, rtol=0, atol=1e-15)
    # the PSF leaks off the CCD: less than all of it is on it, more near the centre
    assert 0.9 < pixels.sum() < 1.0
    assert model.binned_psf(3.0, 3.0, 1).sum() < 0.4


def test_the_live_fraction_map_matches_a_direct_sum(model):
    rng = np.random.default_rng(3)
    mask = rng.random((256, 256)) > 0.05
    mask[:, 100] = False
    live_map, offset = model.live_fraction_map(mask.astype(float), 1)
    for x, y in [(99.6, 20.2), (-0.5, 255.5), (255.5, -0.5), (100.0, 128.3)]:
        direct = (model.binned_psf(x + 1, y + 1, 1) * mask).sum()
        assert bilinear(live_map, offset + y, offset + x)[0] == pytest.approx(direct, rel=1e-9)
    weights = mask.reshape(64, 4, 64, 4).mean(axis=(1, 3))
    live_map, offset = model.live_fraction_map(weights, 4)
    direct = (model.binned_psf(40.2, 51.9, 4) * weights).sum()
    assert bilinear(live_map, offset + 50.9, offset + 39.2)[0] == pytest.approx(direct, rel=1e-9)


def test_bilinear_derivatives_are_exact_inside_a_cell():
    array = np.pad(np.arange(20.0).reshape(4, 5) ** 1.5, 1)
    value, d_row, d_col = bilinear(array, 2.3, 1.6)
    h = 1e-6
    assert d_row == pytest.approx((bilinear(array, 2.3 + h, 1.6)[0] - value) / h, rel=1e-5)
    assert d_col == pytest.approx((bilinear(array, 2.3, 1.6 + h)[0] - value) / h, rel=1e-5)
    assert bilinear(array, -3.0, 1.0)[0] == 0.0
    assert bilinear(array, 2.0, 99.0)[0] == 0.0


def test_resampling_to_another_det_pixel_keeps_the_normalisation(psf):
    resampled = PsfModel.from_psf(psf, det_pixel_arcmin=psf.pixel_arcmin * 1.5)
    assert resampled.image.sum() == pytest.approx(1.0)
    assert resampled.image.shape[0] < psf.image.shape[0]
    assert resampled.image[resampled.centre] == resampled.image.max()
    assert PsfModel.from_psf(psf, det_pixel_arcmin=psf.pixel_arcmin).image.shape == (511, 511)
    with pytest.raises(ValueError, match="positive"):
        PsfModel.from_psf(psf, det_pixel_arcmin=-1.0)


def test_the_profile_gradient_of_the_cash_statistic(model):
    rng = np.random.default_rng(5)
    mask = np.ones((256, 256), bool)
    x = np.concatenate([rng.normal(120.0, 8.0, 300), rng.uniform(-0.5, 255.5, 200)])
    y = np.concatenate([rng.normal(90.0, 8.0, 300), rng.uniform(-0.5, 255.5, 200)])
    keep = (x > -0.5) & (x < 255.5) & (y > -0.5) & (y < 255.5)
    cash = CashModel(bin_events(x[keep], y[keep], mask, 1), model)
    positions, amplitudes = np.array([[121.3, 88.6]]), np.array([300.0, 0.003])
    design, d_x, d_y, totals, t_x, t_y = cash.columns(positions)
    a, value = cash.solve_amplitudes(design, totals, amplitudes)
    ratio = cash.data.counts / (design @ a)
    h = 1e-5  # the profile C is piecewise smooth (bilinear PSF): a small step
    for axis, (d_bins, d_total) in enumerate([(d_x, t_x), (d_y, t_y)]):
        gradient = 2.0 * a[0] * (d_total[0] - ratio @ d_bins[:, 0])
        step = np.zeros((1, 2))
        step[0, axis] = h
        numeric = (cash.profile(positions + step, a)[0] - value) / h
        assert gradient == pytest.approx(numeric, rel=1e-2, abs=1e-3)
    # at the optimum of the amplitudes the expected counts equal the events
    assert totals @ a == pytest.approx(cash.data.counts.sum(), rel=1e-6)
    fit = cash.fit(positions, amplitudes)
    assert fit.cstat <= value
    assert np.hypot(*(fit.positions[0] - [120.0, 90.0])) < 1.5


def test_detection_likelihood():
    assert detection_likelihood(0.0) == 0.0
    assert detection_likelihood(-3.0) == 0.0
    assert detection_likelihood(30.0, n_free=2) == pytest.approx(15.0)
    assert detection_likelihood(3000.0, n_free=2) == pytest.approx(1500.0, rel=1e-6)
    # nu = 3: Q(3/2, x) = erfc(sqrt x) + 2 sqrt(x/pi) exp(-x); continuous where Q underflows
    q = erfc(np.sqrt(10.0)) + 2.0 * np.sqrt(10.0 / np.pi) * np.exp(-10.0)
    assert detection_likelihood(20.0) == pytest.approx(-np.log(q), rel=1e-9)
    below, above = detection_likelihood(1285.0), detection_likelihood(1300.0)
    assert 0 < above - below == pytest.approx(7.5 - 0.5 * np.log(1300 / 1285), rel=1e-3)
