"""Two-stage MXT source detection on events drawn from the demonstration PSF: accuracy of the
positions and of the 90 % radii, sensitivity, false detections, close pairs, bad inputs.

The sampler draws each photon's DET pixel with the PSF image's probabilities and a uniform
position inside it (as the simulator does), adds a uniform background over the CCD, drops
what falls off the CCD or on a dead pixel, and gives the events RAW pixel + uniform offset,
as mxt-coordinates does. Nominal GRB (docs: svom_mxt_domain.md §5.2): ~220 source counts and
200 background counts on the CCD in 1 ks.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.detect import (
    DetectParams,
    PsfModel,
    Source,
    detect,
    detect_sources,
    histogram_fit,
)

PIXEL_ARCSEC = 13.452053  # DET pixel (DET_XSCL / FOCALLEN)
TWO_ARCMIN = 120.0 / PIXEL_ARCSEC
EXPOSURE = 1000.0
BACKGROUND = 200.0  # counts over the CCD in 1 ks (0.2 counts/s)


@pytest.fixture(scope="module")
def psf(demo_psf) -> caldata.Psf:
    return demo_psf


@pytest.fixture(scope="module")
def model(psf) -> PsfModel:
    return PsfModel.from_psf(psf)


@pytest.fixture(scope="module")
def live() -> np.ndarray:
    mask = np.ones((256, 256), bool)
    mask[:, 99] = False  # a dead column (DETX 100) and a partial one
    mask[180:, 29] = False
    return mask


def sample_events(psf, rng, sources, background, live):
    """DETX, DETY of Poisson photons of ``sources`` ``[(detx, dety, mean counts)]`` and of a
    uniform background (mean counts over the CCD), as the screened event list has them."""
    cumulative = np.cumsum(psf.image.ravel())
    xs, ys = [rng.uniform(0.5, 256.5, rng.poisson(background))], []
    ys.append(rng.uniform(0.5, 256.5, xs[0].size))
    for x0, y0, mean in sources:
        u = rng.random((3, rng.poisson(mean)))
        flat = np.searchsorted(cumulative, u[0] * cumulative[-1], side="right")
        row, column = np.divmod(np.minimum(flat, cumulative.size - 1), psf.image.shape[1])
        xs.append(x0 + column - psf.centre[1] + u[1] - 0.5)
        ys.append(y0 + row - psf.centre[0] + u[2] - 0.5)
    rawx, rawy = np.floor(np.concatenate(xs) + 0.5), np.floor(np.concatenate(ys) + 0.5)
    on = (rawx >= 1) & (rawx <= 256) & (rawy >= 1) & (rawy <= 256)
    rawx, rawy = rawx[on].astype(int), rawy[on].astype(int)
    keep = live[rawy - 1, rawx - 1]
    rawx, rawy = rawx[keep], rawy[keep]
    return rawx + rng.random(rawx.size) - 0.5, rawy + rng.random(rawy.size) - 0.5


def true_position(rng):
    """Within 20 arcmin of the optical axis (the ECLAIRs error box)."""
    radius, angle = 89.0 * np.sqrt(rng.random()), 2 * np.pi * rng.random()
    return 128.5 + radius * np.cos(angle), 128.5 + radius * np.sin(angle)


def nearest(sources: list[Source], x, y) -> tuple[Source | None, float]:
    if not sources:
        return None, np.inf
    distances = [np.hypot(s.detx - x, s.dety - y) for s in sources]
    k = int(np.argmin(distances))
    return sources[k], distances[k]


def test_a_bright_source_is_found_within_half_a_pixel(psf, model, live):
    rng = np.random.default_rng(1)
    x, y = sample_events(psf, rng, [(140.3, 110.8, 5000.0)], BACKGROUND, live)
    detection = detect(x, y, live, model, EXPOSURE)
    (source,) = detection.sources
    assert np.hypot(source.detx - 140.3, source.dety - 110.8) < 0.5
    assert source.err_r90_det_px < 0.8
    assert abs(source.counts - 5000.0) < 3 * np.hypot(source.counts_err, np.sqrt(5000.0))
    assert source.rate == pytest.approx(source.counts / EXPOSURE)
    assert source.rate_err == pytest.approx(source.counts_err / EXPOSURE)
    assert 0.9 < source.live_fraction < 1.0
    assert source.detml > 1000
    assert detection.background == pytest.approx(BACKGROUND / 65536, rel=0.3)
    assert detection.background_rate == pytest.approx(detection.background / EXPOSURE)
    assert detection.n_events == x.size
    assert detection.n_dropped == 0


def test_nominal_grb_positions_and_90_percent_radii(psf, model, live):
    offsets, inside = [], []
    for seed in range(30):
        rng = np.random.default_rng(1000 + seed)
        x0, y0 = true_position(rng)
        x, y = sample_events(psf, rng, [(x0, y0, 220.0)], BACKGROUND, live)
        sources = detect_sources(x, y, live, model, EXPOSURE)
        source, offset = nearest(sources, x0, y0)
        assert source is not None, seed
        assert offset < TWO_ARCMIN, seed
        assert len(sources) == 1, seed
        offsets.append(offset)
        inside.append(offset <= source.err_r90_det_px)
    assert np.median(offsets) * PIXEL_ARCSEC <= 20.0
    assert 0.7 <= np.mean(inside) <= 1.0


def test_faint_grb_is_detected(psf, model, live):
    found = 0
    for seed in range(30):
        rng = np.random.default_rng(2000 + seed)
        x0, y0 = true_position(rng)
        x, y = sample_events(psf, rng, [(x0, y0, 65.0)], BACKGROUND, live)
        source, offset = nearest(detect_sources(x, y, live, model, EXPOSURE), x0, y0)
        found += source is not None and offset < TWO_ARCMIN
    assert found >= 27


def test_background_alone_gives_no_detection(psf, model, live):
    false = 0
    for seed in range(30):
        rng = np.random.default_rng(3000 + seed)
        x, y = sample_events(psf, rng, [], BACKGROUND, live)
        false += bool(detect_sources(x, y, live, model, EXPOSURE))
    assert false <= 1


@pytest.mark.parametrize(("seed", "angle", "second"), [(1, 0.0, 220.0), (2, 0.7, 110.0)])
def test_two_sources_5_arcmin_apart_are_both_recovered(psf, model, live, seed, angle, second):
    separation = 300.0 / PIXEL_ARCSEC  # 22.3 pixels, 1.2 core FWHM
    first = (118.2, 131.6)
    other = (first[0] + separation * np.cos(angle), first[1] + separation * np.sin(angle))
    rng = np.random.default_rng(seed)
    sources = [(*first, 220.0), (*other, second)]
    x, y = sample_events(psf, rng, sources, BACKGROUND, live)
    found = detect_sources(x, y, live, model, EXPOSURE)
    assert len(found) == 2
    a, offset_a = nearest(found, *first)
    b, offset_b = nearest(found, *other)
    assert a is not b
    assert offset_a < 60.0 / PIXEL_ARCSEC
    assert offset_b < 60.0 / PIXEL_ARCSEC
    # stage 1 alone already separates them
    assert len(histogram_fit(x, y, live, model).candidates) == 2


def test_a_detection_of_1000_events_is_fast(psf, model, live):
    rng = np.random.default_rng(7)
    x, y = sample_events(psf, rng, [(90.0, 150.0, 900.0)], BACKGROUND, live)
    assert 900 < x.size < 1200
    start = time.perf_counter()
    detect_sources(x, y, live, psf, EXPOSURE)  # a Psf: the model is built in the call
    assert time.perf_counter() - start < 2.0


def test_events_on_dead_pixels_are_dropped(psf, model, live):
    rng = np.random.default_rng(8)
    x, y = sample_events(psf, rng, [(140.0, 60.0, 500.0)], BACKGROUND, live)
    x, y = np.append(x, [100.2, 100.4]), np.append(y, [40.0, 41.0])  # DETX 100 is dead
    detection = detect(x, y, live, model, EXPOSURE)
    assert detection.n_dropped == 2
    assert len(detection.sources) == 1


def test_systematic_radius_is_added_in_quadrature(psf, model, live):
    rng = np.random.default_rng(9)
    x, y = sample_events(psf, rng, [(128.0, 128.0, 300.0)], BACKGROUND, live)
    (plain,) = detect_sources(x, y, live, model, EXPOSURE)
    params = DetectParams(systematic_r90_px=2.0)
    (with_sys,) = detect_sources(x, y, live, model, EXPOSURE, params=params)
    assert with_sys.err_r90_det_px == pytest.approx(np.hypot(plain.err_r90_det_px, 2.0))
    assert with_sys.detx == plain.detx


@pytest.mark.parametrize(
    ("detx", "dety", "message"),
    [
        ([], [], "no event"),
        ([10.0, np.nan], [10.0, 20.0], "finite"),
        ([10.0, 11.0], [10.0], "same length"),
        ([[10.0]], [[10.0]], "1-d"),
        ([300.0], [10.0], "outside the CCD"),
        ([0.2], [10.0], "outside the CCD"),
        ([100.0], [10.0], "live pixel"),  # only event on the dead column
    ],
)
def test_bad_events_raise(model, live, detx, dety, message):
    with pytest.raises(ValueError, match=message):
        detect_sources(detx, dety, live, model, EXPOSURE)


def test_bad_mask_or_exposure_raise(model, live):
    x, y = np.array([10.0, 20.0]), np.array([30.0, 40.0])
    with pytest.raises(ValueError, match="bool"):
        detect_sources(x, y, live.astype(int), model, EXPOSURE)
    with pytest.raises(ValueError, match="no live pixel"):
        detect_sources(x, y, np.zeros((256, 256), bool), model, EXPOSURE)
    with pytest.raises(ValueError, match="multiple"):
        detect_sources(x, y, np.ones((250, 256), bool), model, EXPOSURE)
    for exposure in (0.0, -5.0, np.nan):
        with pytest.raises(ValueError, match="exposure"):
            detect_sources(x, y, live, model, exposure)
