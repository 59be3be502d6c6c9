"""The MXT bricks as a scheduler runs them: runtime_data.json in, event lists and a
processing_status.json out, against a running CalDB; and every bad input as a FAILED
with a clear message (hand-made event lists; the science is tested on simulations)."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from astropy.io import fits

from caldb_common.resources import schema_path
from pipeline_bricks.framework.runner import run_brick
from pipeline_bricks.mxt.bricks.calibrate import exclude_bad_neighbours
from pipeline_bricks.mxt.screen import bad_pixel_mask
from pipeline_bricks.registry import bricks
from tests.pipeline.eventlists import write_attitude, write_job, write_l1

STATUS_SCHEMA = json.loads(schema_path("processing_status.schema.json").read_text())


def run(tmp_path, brick, url, inputs, **changes):
    job = write_job(tmp_path, brick, url, inputs, **changes)
    status, path = run_brick(bricks(), brick, job, cache_dir=tmp_path / "cache")
    document = json.loads(path.read_text())
    jsonschema.validate(document, STATUS_SCHEMA)
    return status, document


@pytest.fixture
def observation(tmp_path):
    write_l1(tmp_path / "l1.fits")
    write_attitude(tmp_path / "att.fits")
    return {"events": ["l1.fits"], "attitude": ["att.fits"]}


def test_the_chain_adds_every_column_and_records_the_calibration(demo_caldb, tmp_path, observation):
    status, document = run(tmp_path, "mxt-pipeline", demo_caldb, observation)
    assert status == "SUCCESS", document["messages"]
    # A flat field without a source: the chain ends with the image and the exposure map.
    assert set(document["outputs"]) == {
        "calibrated_events", "sky_events", "cleaned_events", "srclist", "image", "exposure_map"
    }  # fmt: skip
    assert document["results"]["mxt-detect"]["n_sources"] == 0
    files = {item["codename"]: item["file"] for item in document["calibration"]}
    assert files == {
        "GAIN": "svmxt_gain_20250601v001.fits",
        "CTI": "svmxt_cti_20250601v001.fits",
        "BADPIX": "svmxt_badpix_20240622v001.fits",
        "TELDEF": "svmxt_teldef_20250601v001.fits",
        "PSF": "svmxt_psf_20240622v001.fits",
        "VIGNET": "svmxt_vignet_20240622v001.fits",
    }  # one record per dataset, although four bricks read BADPIX
    cleaned = tmp_path / "out" / document["outputs"]["cleaned_events"][0]
    with fits.open(cleaned) as hdus:
        events, header = hdus["EVENTS"].data, hdus["EVENTS"].header
        names = set(events.columns.names)
        assert {"PHA", "PATTERN", "MULTIPLICITY", "ENERGY", "PI", "DETX", "X", "RA"} <= names
        cards = [header[k] for k in header if k.startswith("CALF")]
        assert len(cards) == 4
        assert any(c.startswith("TELDEF svmxt_teldef_20250601") for c in cards)
        x_column = events.columns.names.index("X") + 1
        assert header[f"TCTYP{x_column}"] == "RA---TAN"
        assert header[f"TLMAX{x_column}"] == 512
        assert header["EXPOSURE"] == pytest.approx(100.0)
        assert np.all(events["STATUS"] == 0)
        assert np.all(events["PATTERN"] == 0)
        assert 0.9 < np.median(events["ENERGY"]) < 1.1  # 200 - 5 ADU at ~5 eV/ADU
    assert document["results"]["mxt-screen"]["events_kept"] == len(events)


def test_each_brick_runs_alone_on_the_previous_ones_output(demo_caldb, tmp_path, observation):
    status, first = run(tmp_path, "mxt-calibrate", demo_caldb, {"events": ["l1.fits"]})
    assert status == "SUCCESS", first["messages"]
    calibrated = "out/" + first["outputs"]["calibrated_events"][0]
    inputs = {"events": [calibrated], "attitude": ["att.fits"]}
    status, second = run(tmp_path, "mxt-coordinates", demo_caldb, inputs)
    assert status == "SUCCESS", second["messages"]
    sky = tmp_path / "out" / second["outputs"]["sky_events"][0]
    with fits.open(sky) as hdus:  # the output records the calibration of both bricks
        cards = [v for k, v in hdus["EVENTS"].header.items() if k.startswith("CALF")]
    assert [c.split()[0] for c in cards] == ["GAIN", "CTI", "BADPIX", "TELDEF"]


@pytest.mark.parametrize(
    ("brick", "drop", "message"),
    [
        ("mxt-calibrate", ("PHAS",), "no PHAS column"),
        ("mxt-calibrate", ("DATE-OBS",), "no DATE-OBS"),
        ("mxt-coordinates", ("RAWX",), "no RAWX column"),
        ("mxt-screen", (), "no PATTERN column: run mxt-calibrate first"),
    ],
)
def test_an_unusable_event_list_fails_clearly(demo_caldb, tmp_path, brick, drop, message):
    write_l1(tmp_path / "l1.fits", drop=drop)
    write_attitude(tmp_path / "att.fits")
    inputs = {"events": ["l1.fits"], "attitude": ["att.fits"]}
    status, document = run(tmp_path, brick, demo_caldb, inputs)
    assert status == "FAILED"
    assert message in document["messages"][-1]["text"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"energy_band_kev": "25"}, "energy_band_kev must be a list of two numbers"),  # not 2-5
        (
            {"energy_band_kev": [5, 2]},
            "energy_band_kev must be a list of two numbers (each >= 0, first < second), not [5, 2]",
        ),
        ({"patterns": [0, True]}, "patterns must be a list of two whole numbers"),
        ({"patterns": [0, 13]}, "patterns must be a list of two whole numbers (each in [0, 12]"),
        ({"min_gti": 2}, "unknown parameter 'min_gti' for mxt-pipeline; did you mean 'min_gti_s'?"),
        ({"min_gti_s": "long"}, "parameter min_gti_s must be a number"),
        ({"hot_pixel_probability": 0}, "parameter hot_pixel_probability must be a number"),
        ({"seed": 1.5}, "parameter seed must be a whole number"),
    ],
)
def test_chain_refuses_malformed_parameters(demo_caldb, tmp_path, observation, parameters, message):
    status, document = run(tmp_path, "mxt-pipeline", demo_caldb, observation, parameters=parameters)
    assert status == "FAILED"
    assert message in document["messages"][-1]["text"]
    assert "cleaned_events" not in document["outputs"]


def test_a_file_that_is_not_fits_fails_clearly(demo_caldb, tmp_path, observation):
    (tmp_path / "att.fits").write_text("not a FITS file")
    status, document = run(tmp_path, "mxt-coordinates", demo_caldb, observation)
    assert status == "FAILED"
    assert "cannot read the attitude file att.fits" in document["messages"][-1]["text"]


def test_an_attitude_file_that_does_not_cover_the_events_warns(demo_caldb, tmp_path):
    write_l1(tmp_path / "l1.fits", duration=100.0)
    write_attitude(tmp_path / "att.fits", duration=50.0)
    inputs = {"events": ["l1.fits"], "attitude": ["att.fits"]}
    status, document = run(tmp_path, "mxt-coordinates", demo_caldb, inputs)
    assert status == "SUCCESS"
    assert 0 < document["results"]["without_attitude"] < 200
    assert "outside the attitude file" in document["messages"][0]["text"]


def test_no_good_time_is_no_data(demo_caldb, tmp_path):
    write_l1(tmp_path / "l1.fits")
    write_attitude(tmp_path / "att.fits", settled=False)
    inputs = {"events": ["l1.fits"], "attitude": ["att.fits"]}
    status, document = run(tmp_path, "mxt-pipeline", demo_caldb, inputs)
    assert status == "NO_DATA"
    assert "no good time" in document["messages"][-1]["text"]
    assert "cleaned_events" not in document["outputs"]


def test_an_saa_passage_is_cut_from_the_gti_and_the_exposure(demo_caldb, tmp_path):
    write_l1(tmp_path / "l1.fits")
    write_attitude(tmp_path / "att.fits", saa=(30.0, 60.0))
    inputs = {"events": ["l1.fits"], "attitude": ["att.fits"]}
    status, document = run(tmp_path, "mxt-pipeline", demo_caldb, inputs)
    assert status == "SUCCESS"
    screen = document["results"]["mxt-screen"]
    assert screen["gti_count"] == 2
    assert screen["exposure_s"] == pytest.approx(100.0 - 32.0)  # rows 29..61 s lost
    with fits.open(tmp_path / "out" / document["outputs"]["cleaned_events"][0]) as hdus:
        time = hdus["EVENTS"].data["TIME"] - hdus["EVENTS"].header["TSTART"]
        assert not np.any((time > 29.0) & (time < 61.0))
        assert len(hdus["GTI"].data) == 2


def test_a_local_calibration_file_overrides_the_caldb(demo_caldb, tmp_path, observation):
    status, _first = run(tmp_path, "mxt-calibrate", demo_caldb, {"events": ["l1.fits"]})
    gain = tmp_path / "out" / "calibration"
    (local,) = list(gain.rglob("svmxt_gain_*.fits"))
    parameters = {"calibration": {"GAIN": str(local) + "[1]"}}
    status, document = run(
        tmp_path, "mxt-calibrate", demo_caldb, {"events": ["l1.fits"]}, parameters=parameters
    )
    assert status == "SUCCESS"
    sources = {item["codename"]: item["source"] for item in document["calibration"]}
    assert sources["GAIN"] == "local"
    assert sources["CTI"] == "caldb"


def test_bad_neighbours_carry_no_charge_and_the_centre_is_kept():
    bad = bad_pixel_mask([10, 1], [20, 1], [1, 1])  # (10, 20) and the corner (1, 1)
    offsets = np.arange(256) / 10.0 + 3.0  # OFFSET of RAWX k is 3 + (k - 1)/10
    phas = np.full((4, 9), 50, np.int16)
    rawx, rawy = np.array([11, 10, 2, 100]), np.array([21, 20, 1, 100])
    cleaned = exclude_bad_neighbours(phas, rawx, rawy, bad, offsets)
    assert cleaned[0].tolist() == [4, 50, 50, 50, 50, 50, 50, 50, 50]  # (10, 20) is dx=-1, dy=-1
    assert cleaned[1].tolist() == [50] * 9  # a bad centre is screened, not changed
    assert cleaned[2].tolist() == [50, 50, 50, 3, 50, 50, 50, 50, 50]  # (1, 1) is dx=-1, dy=0
    assert cleaned[3].tolist() == [50] * 9
    assert phas[0, 0] == 50  # the input is not modified
