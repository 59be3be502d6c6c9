"""The hot pixels an event list carries (``HOTPIX`` extension, written by mxt-screen), the live
DET pixels made from them, and the files a brick registers besides its FITS products."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from pipeline_bricks.framework.brick import BrickContext
from pipeline_bricks.framework.calibration import CalibrationProvider
from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.framework.runtime import RuntimeData
from pipeline_bricks.mxt.coordinates import Teldef, det_live_mask, raw_to_det
from pipeline_bricks.mxt.eventfile import read_events
from tests.pipeline.eventlists import write_l1
from tests.pipeline.teldefs import EPOCH1, teldef_header


def test_hot_pixels_survive_writing_and_reading(tmp_path):
    events = read_events(write_l1(tmp_path / "l1.fits"))
    assert events.hot_pixels is None  # an L1 list: not screened
    assert "HOTPIX" not in [hdu.name for hdu in events.hdulist()]
    pixels = np.array([[5, 80], [183, 232], [256, 1]])
    events.hot_pixels = pixels
    events.hdulist().writeto(tmp_path / "screened.fits")
    back = read_events(tmp_path / "screened.fits")
    np.testing.assert_array_equal(back.hot_pixels, pixels)
    assert back.hot_pixels.dtype == np.int64
    with fits.open(tmp_path / "screened.fits") as hdus:
        assert hdus["HOTPIX"].columns.names == ["RAWX", "RAWY"]
        assert hdus["HOTPIX"].columns["RAWX"].unit == "pixel"
    kept = back.select(np.arange(len(back)) < 10)  # a selection keeps them
    np.testing.assert_array_equal(kept.hot_pixels, pixels)


def test_a_screened_list_without_hot_pixels_is_not_an_unscreened_one(tmp_path):
    events = read_events(write_l1(tmp_path / "l1.fits"))
    events.hot_pixels = np.empty((0, 2), dtype=np.int64)
    events.hdulist().writeto(tmp_path / "screened.fits")
    back = read_events(tmp_path / "screened.fits")
    assert back.hot_pixels is not None
    assert back.hot_pixels.shape == (0, 2)


def test_a_hotpix_extension_without_its_columns_fails_clearly(tmp_path):
    path = write_l1(tmp_path / "l1.fits")
    with fits.open(path, mode="append") as hdus:
        hdus.append(fits.BinTableHDU.from_columns(
            [fits.Column(name="X", format="I", array=[1])], name="HOTPIX"))  # fmt: skip
    with pytest.raises(BrickError, match=r"the HOTPIX extension of l1\.fits has no RAWX/RAWY"):
        read_events(path)


@pytest.mark.parametrize("flips", [(1, 1), (-1, 1), (-1, -1)])
def test_a_dead_raw_pixel_is_dead_where_its_events_land_in_det(flips):
    teldef = Teldef.from_header(teldef_header(DETXFLIP=flips[0], DETYFLIP=flips[1]))
    dead = np.zeros((256, 256), dtype=bool)
    raw = [(5, 80), (183, 232), (1, 256)]
    for rawx, rawy in raw:
        dead[rawy - 1, rawx - 1] = True
    live = det_live_mask(dead, teldef)
    assert live.shape == (256, 256)
    assert np.count_nonzero(~live) == len(raw)
    detx, dety = raw_to_det(*(np.array(v) for v in zip(*raw, strict=True)), teldef)
    assert not live[np.rint(dety).astype(int) - 1, np.rint(detx).astype(int) - 1].any()
    with pytest.raises(ValueError, match="RAW shape"):
        det_live_mask(np.zeros((255, 256), dtype=bool), EPOCH1)


@pytest.fixture
def context(tmp_path: Path) -> BrickContext:
    runtime = RuntimeData(
        path=tmp_path / "runtime_data.json", brick="test", target={}, inputs={},
        output_dir=tmp_path / "out",
    )  # fmt: skip
    return BrickContext(runtime, CalibrationProvider(runtime))


def test_register_output_records_a_file_of_the_output_directory(context):
    (context.output_dir / "preview.png").write_bytes(b"\x89PNG")
    path = context.register_output("preview.png", "preview")
    assert path == context.output_dir / "preview.png"
    assert context.outputs == {"preview": ["preview.png"]}


@pytest.mark.parametrize("name", ["../outside.png", "sub/inner.png", "missing.png", "sub", ""])
def test_register_output_refuses_what_is_not_a_file_of_the_output_directory(context, name):
    (context.output_dir.parent / "outside.png").write_bytes(b"x")  # exists, but outside
    (context.output_dir / "sub").mkdir()
    (context.output_dir / "sub" / "inner.png").write_bytes(b"x")
    with pytest.raises(BrickError, match="is not a file of the output directory"):
        context.register_output(name, "preview")
    assert context.outputs == {}
