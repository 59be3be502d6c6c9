"""The MXT simulator on the demonstration CalDB: files, truth, reproducibility, SAA, pixels."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time, TimeDelta

from pipeline_bricks.cli import main
from pipeline_bricks.framework.runtime import load_runtime_data
from pipeline_bricks.mxt import caldata
from pipeline_bricks.simulator.source import expected_counts
from tests.pipeline.simulation import (
    ATTITUDE,
    DATE,
    EVENTS,
    calibration_file,
    events_of,
    run_simulator,
    truth_of,
)

GRB = ["--rate", "3", "--duration", "200", "--seed", "7", "--saa", "20:30", "--saa", "150:160"]


@pytest.fixture(scope="module")
def grb(demo_caldb: str, caldb_cache: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200 s GRB observation with two SAA passages."""
    out = tmp_path_factory.mktemp("grb")
    assert run_simulator(out, demo_caldb, *GRB) == 0
    return out


def test_same_seed_same_events_and_another_seed_others(grb, demo_caldb, tmp_path):
    assert run_simulator(tmp_path / "again", demo_caldb, *GRB) == 0
    first, again = events_of(grb), events_of(tmp_path / "again")
    for name in first.columns.names:
        assert np.array_equal(first[name], again[name]), name
    with fits.open(grb / ATTITUDE) as one, fits.open(tmp_path / "again" / ATTITUDE) as two:
        assert one["ATTITUDE"].data.tobytes() == two["ATTITUDE"].data.tobytes()
    other = [("8" if option == "7" else option) for option in GRB]  # --seed 8
    assert run_simulator(tmp_path / "other", demo_caldb, *other) == 0
    assert not np.array_equal(events_of(tmp_path / "other")["TIME"][:50], first["TIME"][:50])


def test_event_file_has_the_l1_format(grb):
    truth = truth_of(grb)
    with fits.open(grb / EVENTS, checksum=True) as hdus:
        primary, events, gti = hdus[0].header, hdus["EVENTS"], hdus["GTI"]
        for header in (primary, events.header):
            assert header["TELESCOP"] == "SVOM"
            assert header["INSTRUME"] == "MXT"
            assert header["OBS_ID"] == "sb25070101"
            assert header["TIMESYS"] == "TT"
            assert header["MJDREFI"] == 57754
            assert header["MJDREFF"] == pytest.approx(0.00080074074)
            assert header["TSTART"] == truth["time"]["tstart"]
            assert header["TSTOP"] == truth["time"]["tstop"]
            assert header["DATE-OBS"] == "2025-07-01T12:02:00.000"
            assert header["DATE-END"] == "2025-07-01T12:05:20.000"
            assert header["RA_PNT"] == header["RA_NOM"] == truth["pointing"]["ra_deg"]
            assert header["DEC_PNT"] == header["DEC_NOM"] == truth["pointing"]["dec_deg"]
            assert header["PA_PNT"] == 287.0
            assert header["FRAMETIM"] == 0.1
        assert primary["TARGET"] == "sb25070101"
        assert primary["SIMULATD"] is True
        assert primary["SIMSEED"] == 7
        assert primary["CREATOR"].startswith("pipeline_bricks.simulator")
        header = events.header
        assert (header["HDUCLASS"], header["HDUCLAS1"], header["DATAMODE"]) == (
            "OGIP", "EVENTS", "PHOTON",
        )  # fmt: skip
        assert (header["EVTTHR"], header["SPLTHR"], header["UPPERTHR"]) == (26, 13, 3200)
        assert header["TIMEPIXR"] == 0.5
        formats = {c.name: c.format for c in events.columns}
        assert formats == {
            "TIME": "D", "FRAME": "J", "RAWX": "I", "RAWY": "I", "PHAS": "9I", "STATUS": "I",
        }  # fmt: skip
        data = events.data
        assert np.all(data["STATUS"] == 0)
        assert np.allclose(data["TIME"], header["TSTART"] + (data["FRAME"] + 0.5) * 0.1)
        assert np.all(np.diff(data["TIME"]) >= 0)
        assert data["FRAME"].min() >= 0
        assert data["FRAME"].max() < truth["time"]["n_frames"]
        assert list(gti.data["START"]) == [header["TSTART"]]
        assert list(gti.data["STOP"]) == [header["TSTOP"]]
        cards = [header[k] for k in header if k.startswith("CALF")]
        assert any(c.startswith("GAIN svmxt_gain_20250601v001.fits[1]") for c in cards)


def test_mission_times_follow_the_svom_epoch(grb):
    time = truth_of(grb)["time"]
    epoch = Time("2017-01-01T00:00:00", scale="utc")
    expected = (Time(DATE, scale="utc") - epoch).to_value("s")
    assert time["t0"] == pytest.approx(expected, abs=1e-6)
    assert time["tstart"] == pytest.approx(expected + 120.0, abs=1e-6)
    assert time["tstop"] == pytest.approx(expected + 320.0, abs=1e-6)
    reference = Time(57754, 0.00080074074, format="mjd", scale="tt")
    assert (reference + TimeDelta(time["t0"], format="sec")).utc.isot == "2025-07-01T12:00:00.000"


def test_events_pass_the_onboard_thresholds(grb):
    events = events_of(grb)
    gains = caldata.read_gain(*calibration_file(grb, "GAIN"))
    columns = events["RAWX"][:, None] + np.tile([-1, 0, 1], 3)
    rows = events["RAWY"][:, None] + np.repeat([-1, 0, 1], 3)
    on_ccd = (columns >= 1) & (columns <= 256) & (rows >= 1) & (rows <= 256)
    net = events["PHAS"] - gains.offset_adu[np.clip(columns, 1, 256) - 1]
    assert np.all(net[:, 4] >= 26)
    assert np.all(net[:, 4] <= 3200)
    assert np.all(net[:, 4] >= np.where(on_ccd, net, -np.inf).max(axis=1))
    assert np.all(events["PHAS"][~on_ccd] == 0)
    pixel = (events["FRAME"].astype(np.int64) * 65536 + events["RAWY"] * 256) + events["RAWX"]
    assert np.unique(pixel).size == pixel.size  # one event per pixel and frame


def test_counts_follow_the_rate_integral(grb):
    truth = truth_of(grb)
    counts, law = truth["counts"], truth["rate_law"]
    expected = expected_counts(3.0, 1.2, 120.0, 320.0)
    assert counts["source"]["expected"] == pytest.approx(expected)
    assert (law["rate_cts_s"], law["decay_index"], law["start_offset_s"]) == (3.0, 1.2, 120.0)
    assert abs(counts["source"]["photons_generated"] - expected) < 5 * np.sqrt(expected)
    source = counts["source"]
    assert source["events"] <= source["photons_on_live_pixels"] <= source["photons_generated"]
    assert source["events"] > 0.85 * source["photons_generated"]
    background = counts["background"]
    assert background["expected"] == pytest.approx(0.2 * 200)
    assert abs(background["photons_generated"] - 40) < 5 * np.sqrt(40)
    total = source["events"] + background["events"] + counts["noise"]["events"]
    assert total == counts["total_events"] == len(events_of(grb))
    noisy = sum(pixel["events"] for pixel in truth["noisy_pixels"])
    assert noisy == counts["noise"]["events"]


def test_truth_describes_the_simulation(grb):
    truth = truth_of(grb)
    assert truth["seed"] == 7
    assert truth["trigger"]["date"] == "2025-07-01T12:00:00.000"
    assert (truth["burst_id"], truth["obs_id"]) == ("sb25070101", "sb25070101")
    assert (truth["source"]["ra_deg"], truth["source"]["dec_deg"]) == (204.8665, 45.1204)
    pointing = truth["pointing"]
    assert pointing["ra_deg"] == 204.8665
    assert pointing["dec_deg"] == pytest.approx(45.1204 - 5 / 60)
    assert 3.5 < truth["source"]["off_axis_arcmin"] < 6.5  # 5' from +Z, boresight 1' off
    spectrum = truth["spectrum"]
    assert (spectrum["gamma"], spectrum["nh_cm2"]) == (2.0, 3e21)
    arf = caldata.read_specresp(*calibration_file(grb, "SPECRESP"))
    energy = 0.5 * (arf.energ_lo_kev + arf.energ_hi_kev)
    shape = energy**-2.0 * np.exp(-3e21 * 2.4e-22 * energy**-2.5)
    width = arf.energ_hi_kev - arf.energ_lo_kev
    rate = spectrum["normalisation"] * np.sum(shape * arf.area_cm2 * width)
    assert rate == pytest.approx(3.0, rel=1e-6)
    # ~1e-10 erg/cm2/s per count/s for a soft absorbed power law (GCN 41288: 9.9e-11).
    assert 2e-10 < spectrum["flux_erg_cm2_s_at_tstart"] < 5e-10
    assert spectrum["unabsorbed_flux_erg_cm2_s_at_tstart"] > spectrum["flux_erg_cm2_s_at_tstart"]
    assert truth["thresholds"] == {
        "event_adu": 26, "split_adu": 13, "upper_adu": 3200, "frame_time_s": 0.1,
    }  # fmt: skip
    used = {item["codename"]: item for item in truth["calibration"]}
    assert set(used) == {
        "TELDEF", "GAIN", "CTI", "BADPIX", "PSF", "SPECRESP", "MATRIX", "EBOUNDS", "VIGNET",
        "EVTTHR",
    }  # fmt: skip
    assert used["TELDEF"]["file"] == "svmxt_teldef_20250601v001.fits"
    assert used["EVTTHR"]["file"] == "MXT_EVTTHR_20250301T120000_V01.yaml"
    assert used["EBOUNDS"]["extension"] == 2
    for item in used.values():
        content = (grb / "calibration" / item["file"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == item["sha256"]
    badpix = caldata.read_badpix(*calibration_file(grb, "BADPIX"))
    listed = badpix.mask()
    new = [p for p in truth["noisy_pixels"] if not p["in_badpix"]]
    assert sorted(p["kind"] for p in new) == ["flickering", "hot", "hot", "hot"]
    assert not any(listed[p["rawy"] - 1, p["rawx"] - 1] for p in new)
    old = [p for p in truth["noisy_pixels"] if p["in_badpix"]]
    assert len(old) == int(badpix.mask(2 | 4).sum())
    assert {p["kind"] for p in old} == {"badpix-hot", "badpix-flickering"}
    assert truth["saa"]["intervals_s_from_tstart"] == [[20.0, 30.0], [150.0, 160.0]]


def test_runtime_data_runs_the_chain_on_the_simulation(grb, demo_caldb):
    runtime = load_runtime_data(grb / "runtime_data.json")
    assert runtime.brick == "mxt-pipeline"
    target = {"burst_id": "sb25070101", "obs_id": "sb25070101", "instrument": "MXT"}
    assert runtime.target == target
    assert runtime.inputs == {"events": [grb / EVENTS], "attitude": [grb / ATTITUDE]}
    assert runtime.output_dir == grb / "pipeline"
    assert runtime.parameters == {}
    assert runtime.caldb == {"url": demo_caldb, "max_tries": 5}


def test_the_token_goes_into_runtime_data_only_when_set(caldb_env, tmp_path, monkeypatch):
    monkeypatch.setenv("CALDBIO_CACHE", str(tmp_path / "cache"))
    assert main(["simulate", "--date", DATE, "--out", str(tmp_path), "--duration", "5"]) == 0
    document = json.loads((tmp_path / "runtime_data.json").read_text())
    assert document["caldb"]["url"] == caldb_env
    assert document["caldb"]["token"]
    assert load_runtime_data(tmp_path / "runtime_data.json").caldb["token"]


def test_attitude_has_jitter_and_the_saa_flags(grb):
    truth = truth_of(grb)
    with fits.open(grb / ATTITUDE, checksum=True) as hdus:
        table = hdus["ATTITUDE"].data
        assert hdus["ATTITUDE"].header["TIMESYS"] == "TT"
    tstart, tstop = truth["time"]["tstart"], truth["time"]["tstop"]
    assert np.all(np.diff(table["TIME"]) == 1.0)
    assert table["TIME"][0] <= tstart - 5
    assert table["TIME"][-1] >= tstop + 5
    offset = table["TIME"] - tstart
    expected = ((offset >= 20) & (offset < 30)) | ((offset >= 150) & (offset < 160))
    assert np.array_equal(table["IN_SAA"], expected)
    assert np.all(table["SETTLED"])
    ra, dec = truth["pointing"]["ra_deg"], truth["pointing"]["dec_deg"]
    east = (table["RA"] - ra) * np.cos(np.radians(dec)) * 3600
    north = (table["DEC"] - dec) * 3600
    assert 0.5 < np.sqrt(np.mean(east**2)) < 4.0
    assert 0.5 < np.sqrt(np.mean(north**2)) < 4.0
    assert np.abs(np.diff(north)).max() < 1.0  # smooth: steps far below the rms
    assert np.all(np.abs(table["ROLL"] - 287.0) < 10 / 3600)
    events = events_of(grb)
    in_saa = ((events["TIME"] - tstart >= 20) & (events["TIME"] - tstart < 30)) | (
        (events["TIME"] - tstart >= 150) & (events["TIME"] - tstart < 160)
    )
    assert int(in_saa.sum()) == truth["counts"]["events_in_saa"] > 0


def test_dead_pixels_receive_nothing(demo_caldb, caldb_cache, tmp_path):
    options = ["--rate", "0", "--bkg-rate", "3000", "--duration", "40", "--hot-rate", "0"]
    assert run_simulator(tmp_path, demo_caldb, *options) == 0
    events = events_of(tmp_path)
    badpix = caldata.read_badpix(*calibration_file(tmp_path, "BADPIX"))
    gains = caldata.read_gain(*calibration_file(tmp_path, "GAIN"))
    dead = badpix.mask(1)
    assert dead.sum() == 6
    assert not np.any(dead[events["RAWY"] - 1, events["RAWX"] - 1])
    counts = np.zeros((256, 256), int)
    np.add.at(counts, (events["RAWY"] - 1, events["RAWX"] - 1), 1)
    rows, columns = np.nonzero(dead)
    assert counts.mean() > 1.0
    for row, column in zip(rows, columns, strict=True):  # dead, but neighbours are hit
        assert counts[max(row - 1, 0) : row + 2, max(column - 1, 0) : column + 2].sum() > 0
    # A dead pixel in a 3 x 3 box holds only its (rounded) offset: no charge.
    box_columns = events["RAWX"][:, None] + np.tile([-1, 0, 1], 3)
    box_rows = events["RAWY"][:, None] + np.repeat([-1, 0, 1], 3)
    inside = (box_columns >= 1) & (box_columns <= 256) & (box_rows >= 1) & (box_rows <= 256)
    in_dead = inside & dead[np.clip(box_rows, 1, 256) - 1, np.clip(box_columns, 1, 256) - 1]
    assert in_dead.sum() > 0
    offsets = np.rint(gains.offset_adu[np.clip(box_columns, 1, 256) - 1])
    assert np.array_equal(events["PHAS"][in_dead], offsets[in_dead])
