"""Detected MXT sources on the sky (TELDEF + attitude) and the SRCLIST FITS table."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.coordinates import det_to_radec, radec_to_det
from pipeline_bricks.mxt.detect import (
    PsfModel,
    SkySource,
    Source,
    det_pixel_arcsec,
    detect_sources,
    exposure_attitude,
    sky_sources,
    srclist_hdus,
)
from pipeline_bricks.mxt.sky import separation_arcsec

POINTING = (204.8665, 45.1204, 287.0)  # RA, Dec of +Z_sc and roll [deg]


@pytest.fixture(scope="module")
def teldef(demo):
    return caldata.read_teldef(demo / "svmxt_teldef_20250601v001.fits", 0)  # with ALIGNM


def source_at(detx: float, dety: float, r90: float = 2.0) -> Source:
    return Source(detx, dety, r90, 220.0, 18.0, 0.22, 150.0, 0.018, 0.97)


def test_the_det_pixel_is_13_45_arcsec(teldef):
    assert det_pixel_arcsec(teldef) == pytest.approx(13.452053, rel=1e-6)


def test_a_bright_source_lands_on_its_sky_position(demo, teldef):
    psf = caldata.read_psf(demo / "svmxt_psf_20240622v001.fits")
    ra0, dec0 = 204.95, 45.02  # about 8 arcmin from the pointing
    x0, y0 = (float(v) for v in radec_to_det(ra0, dec0, teldef, *POINTING))
    rng = np.random.default_rng(4)
    cumulative = np.cumsum(psf.image.ravel())
    u = rng.random((3, 5000))
    row, column = np.divmod(np.searchsorted(cumulative, u[0] * cumulative[-1]), 511)
    photon_x, photon_y = x0 + column - 255 + u[1] - 0.5, y0 + row - 255 + u[2] - 0.5
    x = np.floor(photon_x + 0.5) + rng.random(5000) - 0.5  # RAW pixel + uniform offset
    y = np.floor(photon_y + 0.5) + rng.random(5000) - 0.5
    keep = (x > 0.5) & (x < 256.5) & (y > 0.5) & (y < 256.5)
    live = np.ones((256, 256), bool)
    (found,) = detect_sources(x[keep], y[keep], live, PsfModel.from_psf(psf), 1000.0)
    (sky,) = sky_sources([found], teldef, *POINTING)
    assert separation_arcsec(sky.ra, sky.dec, ra0, dec0) < 8.0
    assert sky.err_r90_arcsec == pytest.approx(found.err_r90_det_px * 13.452053, rel=1e-6)
    assert sky.source is found


def test_the_exposure_weighted_attitude(teldef):
    times = np.arange(100.0, 1300.0, 1.0)
    rng = np.random.default_rng(5)
    jitter = 2.0 / 3600 * rng.standard_normal((3, times.size))
    ra, dec, roll = (np.full(times.size, v) + j for v, j in zip(POINTING, jitter, strict=True))
    samples = exposure_attitude(times, ra, dec, roll, [120.0, 700.0], [620.5, 1100.0])
    assert samples[3].sum() == pytest.approx(500.5 + 400.0)
    assert samples[0].size == 501 + 400
    source = source_at(40.3, 200.7)
    (mean,) = sky_sources([source], teldef, *samples[:3], weights=samples[3])
    (nominal,) = sky_sources([source], teldef, *POINTING)
    assert separation_arcsec(mean.ra, mean.dec, nominal.ra, nominal.dec) < 0.5
    # one attitude sample: exactly det_to_radec
    ra1, dec1 = det_to_radec(40.3, 200.7, teldef, *POINTING)
    assert separation_arcsec(nominal.ra, nominal.dec, ra1, dec1) < 1e-6
    with pytest.raises(ValueError, match="does not cover"):
        exposure_attitude(times, ra, dec, roll, [5000.0], [6000.0])
    with pytest.raises(ValueError, match="no good time"):
        exposure_attitude(times, ra, dec, roll, [], [])
    with pytest.raises(ValueError, match="step_s"):
        exposure_attitude(times, ra, dec, roll, [120.0], [130.0], step_s=0.0)


def test_srclist_table(tmp_path, teldef):
    sources = sky_sources([source_at(40.3, 200.7), source_at(128.0, 90.0, 3.0)], teldef, *POINTING)
    header = {"OBS_ID": ("sb25070101", "observation"), "CALF0001": "PSF svmxt_psf.fits[1]"}
    path = tmp_path / "sb25070101_mxt_srclist.fits"
    srclist_hdus(sources, header).writeto(path)
    with fits.open(path) as hdus:
        table = hdus["SRCLIST"]
        assert hdus[0].header["OBS_ID"] == "sb25070101"
        assert table.header["OBS_ID"] == "sb25070101"
        assert table.header["CALF0001"] == "PSF svmxt_psf.fits[1]"
        assert table.header["NSRC"] == 2
        assert table.columns.names == [
            "RA", "DEC", "ERR_R90", "COUNTS", "COUNTS_ERR", "RATE", "RATE_ERR", "DETML",
            "DETX", "DETY",
        ]  # fmt: skip
        units = {c.name: c.unit for c in table.columns}
        assert units["RA"] == "deg"
        assert units["ERR_R90"] == "arcsec"
        assert units["RATE"] == "count/s"
        data = table.data
        assert data["RA"][0] == pytest.approx(sources[0].ra, abs=1e-12)
        assert data["DEC"][1] == pytest.approx(sources[1].dec, abs=1e-12)
        assert data["ERR_R90"][1] == pytest.approx(3.0 * 13.452053, rel=1e-6)
        assert data["DETX"][0] == pytest.approx(40.3, rel=1e-6)
        assert data["COUNTS"][0] == pytest.approx(220.0)
        assert data["DETML"][0] == pytest.approx(150.0)


def test_an_empty_srclist(tmp_path):
    path = tmp_path / "empty_srclist.fits"
    empty: list[SkySource] = []
    srclist_hdus(empty).writeto(path)
    with fits.open(path) as hdus:
        assert len(hdus["SRCLIST"].data) == 0
        assert hdus["SRCLIST"].header["NSRC"] == 0
