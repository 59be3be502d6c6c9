"""A bright source just outside the MXT CCD: its PSF (the edge of its core, the lobster-eye
arms along the DET axes) falls on the CCD. mxt-detect must model it where it is, off the CCD,
and list neither it nor sources along its arms, while a faint source on the CCD is still found.

With source positions bounded by the CCD, the bright source was fitted at the edge and its
arms by broad false sources (the ``gp`` campaign scenario, issue 18).
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.detect import PsfModel, detect
from pipeline_bricks.mxt.detect.psf_model import bilinear
from tests.pipeline.test_detect_sources import BACKGROUND, EXPOSURE, TWO_ARCMIN, sample_events

FAINT = (150.0, 90.0, 80.0)  # DETX, DETY, counts: a faint source on the CCD


@pytest.fixture(scope="module")
def model(demo_psf: caldata.Psf) -> PsfModel:
    return PsfModel.from_psf(demo_psf)


@pytest.fixture(scope="module")
def live() -> np.ndarray:
    return np.ones((256, 256), bool)


def test_the_live_fraction_map_is_exact_off_the_ccd(model, live):
    live_map, offset = model.live_fraction_map(live.astype(float), 1)
    for x, y in [(-20.0, 140.3), (270.6, 95.0), (-12.5, 267.2), (100.0, -60.0)]:
        direct = model.binned_psf(x + 1, y + 1, 1).sum()
        assert 0.01 < direct < 0.4
        assert bilinear(live_map, offset + y, offset + x)[0] == pytest.approx(direct, rel=1e-9)
    beyond = -model.reach - 2.0  # no photon of a source this far reaches the CCD
    assert bilinear(live_map, offset + 128.0, offset + beyond)[0] == 0.0


@pytest.mark.parametrize(
    ("outside", "seed"),
    [
        ((-15.0, 140.0, 8000.0), 1),  # 3.4' beyond a side: its core's edge and an arm on the CCD
        ((272.0, 95.0, 8000.0), 2),
        ((140.0, 300.0, 8000.0), 3),  # 10' beyond a side: the arm alone
        ((-10.0, 268.0, 8000.0), 4),  # beyond a corner
    ],
)
def test_a_bright_source_just_off_the_ccd_is_not_detected(demo_psf, model, live, outside, seed):
    rng = np.random.default_rng(seed)
    x, y = sample_events(demo_psf, rng, [outside, FAINT], BACKGROUND, live)
    detection = detect(x, y, live, model, EXPOSURE)
    found = [(s.detx, s.dety, s.detml) for s in detection.sources]
    # the faint source alone is listed, where it is
    assert len(found) == 1, found
    assert np.hypot(found[0][0] - FAINT[0], found[0][1] - FAINT[1]) < TWO_ARCMIN, found
    # the bright one is in the model, off the CCD
    assert detection.n_outside >= 1
