"""mxt-products science: PNG previews (Agg, no pyplot state, deterministic)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.wcs import WCS

from pipeline_bricks.mxt.products import lightcurve as lc
from pipeline_bricks.mxt.products import previews as pv
from pipeline_bricks.mxt.products.gaps import Gap

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sky() -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crpix = [256.5, 256.5]
    wcs.wcs.crval = [150.0, 30.0]
    wcs.wcs.cdelt = [-13.452053 / 3600, 13.452053 / 3600]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.set()
    return wcs


def counts_image() -> np.ndarray:
    rng = np.random.default_rng(4)
    y, x = np.mgrid[0:512, 0:512]
    model = 0.02 + 30.0 * np.exp(-((x - 300) ** 2 + (y - 260) ** 2) / (2 * 8.0**2))
    return rng.poisson(model).astype(np.int32)


def light_curves() -> tuple[lc.LightCurveBins, lc.LightCurveBins, list[Gap]]:
    rng = np.random.default_rng(9)
    gti = (np.array([0.0, 600.0]), np.array([400.0, 1000.0]))
    rate = lambda t: 20.0 * (1 + t / 50.0) ** -1.2  # noqa: E731 (a decaying afterglow)
    grid = np.arange(0.0, 1000.0, 0.1)
    frames = grid[rng.poisson(rate(grid) * 0.1) > 0]
    frames = frames[(frames < 400.0) | (frames >= 600.0)] + 0.05
    constant = lc.constant_snr_bins(frames, gti, 5.0)
    blocks = lc.bayesian_block_bins(frames, gti)
    gaps = [Gap(400.0, 450.0, "slew/not settled"), Gap(450.0, 600.0, "SAA")]
    return constant, blocks, gaps


def test_image_preview_writes_a_deterministic_png(tmp_path: Path) -> None:
    image, wcs = counts_image(), sky()
    ra, dec = (float(v) for v in wcs.wcs_pix2world([[299.0, 259.0]], 0)[0])
    first = pv.image_preview(image, wcs, (ra, dec), 25.0, tmp_path / "a.png")
    second = pv.image_preview(image, wcs, (ra, dec), 25.0, tmp_path / "b.png")
    zoomed = pv.image_preview(image, wcs, (ra, dec), 25.0, tmp_path / "z.png", zoom_arcmin=3.0)
    assert zoomed.stat().st_size > 10_000
    data = first.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000
    assert data == second.read_bytes()
    assert b"Software" not in data
    assert "matplotlib.pyplot" not in sys.modules or not _pyplot_figures()


def test_lightcurve_preview_writes_a_png(tmp_path: Path) -> None:
    constant, blocks, gaps = light_curves()
    path = pv.lightcurve_preview(constant, blocks, gaps, tmp_path / "lc.png", t0=0.0)
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert path.stat().st_size > 10_000
    again = pv.lightcurve_preview(constant, blocks, gaps, tmp_path / "lc2.png", t0=0.0)
    assert again.read_bytes() == path.read_bytes()
    logarithmic = pv.lightcurve_preview(
        constant, None, gaps, tmp_path / "log.png", t0=-10.0, log_time=True, title="afterglow"
    )
    assert logarithmic.stat().st_size > 10_000
    assert "matplotlib.pyplot" not in sys.modules or not _pyplot_figures()


def _pyplot_figures() -> list[int]:
    from matplotlib import pyplot  # noqa: PLC0415 (only if someone else imported it)

    return pyplot.get_fignums()


def test_previews_refuse_bad_input(tmp_path: Path) -> None:
    image, wcs = counts_image(), sky()
    path = tmp_path / "x.png"
    with pytest.raises(ValueError, match="2-d"):
        pv.image_preview(np.zeros(5), wcs, (150.0, 30.0), 10.0, path)
    with pytest.raises(ValueError, match="finite and >= 0"):
        pv.image_preview(-np.ones((4, 4)), wcs, (150.0, 30.0), 10.0, path)
    with pytest.raises(ValueError, match="position"):
        pv.image_preview(image, wcs, (150.0, 95.0), 10.0, path)
    with pytest.raises(ValueError, match="r90_arcsec"):
        pv.image_preview(image, wcs, (150.0, 30.0), 0.0, path)
    with pytest.raises(ValueError, match="zoom_arcmin"):
        pv.image_preview(image, wcs, (150.0, 30.0), 10.0, path, zoom_arcmin=-1.0)
    constant, blocks, gaps = light_curves()
    with pytest.raises(ValueError, match="t0"):
        pv.lightcurve_preview(constant, blocks, gaps, path, t0=np.nan)
    with pytest.raises(ValueError, match="after t0"):
        pv.lightcurve_preview(constant, blocks, gaps, path, t0=5000.0, log_time=True)
    assert not path.exists()


def test_the_colour_scale_spans_the_counts_with_a_square_root_stretch():
    image = np.zeros((50, 50), dtype=np.int32)
    image[20, 30] = 2  # the brightest pixel: 2 counts
    image[10, 10] = 1
    scale = pv.image_scale(image)
    assert (scale.vmin, scale.vmax) == (0.0, 2.0)
    assert scale.ticks == (0.0, 1.0, 2.0)
    assert "0 to 2" in scale.label
    assert "square-root" in scale.label
    norm = scale.norm()
    assert norm(1.0) == pytest.approx(np.sqrt(0.5))  # one count is well above the floor
    assert norm(2.0) == pytest.approx(1.0)
    flat = pv.image_scale(np.zeros((3, 3)))
    assert (flat.vmin, flat.vmax) == (0.0, 1.0)


def test_the_image_figure_labels_every_axis_and_scales_to_the_pixels_shown():
    image, wcs = counts_image(), sky()
    ra, dec = (float(v) for v in wcs.wcs_pix2world([[299.0, 259.0]], 0)[0])
    figure = pv.image_figure(image, wcs, (ra, dec), 25.0, zoom_arcmin=3.0)
    axes, bar = figure.axes
    assert axes.get_xlabel() == "RA (J2000)"
    assert axes.get_ylabel() == "Dec (J2000)"
    (picture,) = axes.get_images()
    assert picture.norm.vmax == image.max()
    assert bar.get_ylabel() == f"counts per pixel (square-root scale, 0 to {image.max()})"
    assert bar.get_yticks()[-1] == pytest.approx(image.max())


def test_the_light_curve_says_what_t0_is_as_a_utc_date():
    constant, blocks, gaps = light_curves()
    label = pv.time_axis_label(12.5, "2025-07-01T12:00:00.000", "trigger")
    assert label == "t - t0 [s],  t0 = 2025-07-01T12:00:00.000 UTC, trigger"
    assert pv.time_axis_label(12.5) == "t - t0 [s],  t0 = 12.500 s (mission time)"
    figure = pv.lightcurve_figure(
        constant, blocks, gaps, 0.0, t0_utc="2025-07-01T12:00:00.000", t0_is="trigger"
    )
    (axes,) = figure.axes
    assert axes.get_xlabel() == label.replace("12.5", "0")
    assert axes.get_ylabel() == "rate [count/s]"
