"""``mxt-detect`` as the scheduler runs it: a simulated GRB through the whole chain against the
demonstration CalDB (simulated once for the module), the source list and its status, the
live pixels it fits on, and every bad input as a FAILED with a clear message."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.bricks import detect as detect_brick
from pipeline_bricks.mxt.coordinates import raw_to_det
from pipeline_bricks.summary import result_line
from tests.pipeline.eventlists import write_attitude, write_job, write_l1
from tests.pipeline.jobs import (
    calibration_cards,
    last_message,
    output,
    run_job,
    simulated_inputs,
    warnings,
)
from tests.pipeline.simulation import ATTITUDE, run_simulator, truth_of

COLUMNS = {
    "RA": "deg",
    "DEC": "deg",
    "ERR_R90": "arcsec",
    "COUNTS": "count",
    "COUNTS_ERR": "count",
    "RATE": "count/s",
    "DETML": None,
}
# processing_status.json names of the srclist columns, and the decimals they are rounded to
RESULTS = {
    "RA": ("ra_deg", 6),
    "DEC": ("dec_deg", 6),
    "ERR_R90": ("err_r90_arcsec", 2),
    "COUNTS": ("counts", 2),
    "COUNTS_ERR": ("counts_err", 2),
    "RATE": ("rate_cps", 5),
    "DETML": ("detml", 2),
}


@pytest.fixture(scope="module")
def grb(demo_caldb: str, caldb_cache: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GRB of 5 counts/s decaying over 300 s, with background and noisy pixels, through
    mxt-pipeline (its outputs in ``pipeline/``)."""
    out = tmp_path_factory.mktemp("detect")
    assert run_simulator(out, demo_caldb, "--rate", "5", "--duration", "300", "--seed", "21") == 0
    code, status = run_job(out, "mxt-pipeline", "pipeline", simulated_inputs(out))
    assert code == 0, status["messages"]
    return out


def pipeline_status(out: Path) -> dict:
    return json.loads((out / "pipeline" / "processing_status.json").read_text())


def cleaned_inputs(out: Path) -> dict[str, list[str]]:
    status = pipeline_status(out)
    return {"events": [f"pipeline/{status['outputs']['cleaned_events'][0]}"],
            "attitude": [ATTITUDE]}  # fmt: skip


def test_the_source_list_has_its_columns_units_and_calibration(grb):
    status = pipeline_status(grb)
    with fits.open(output(grb, "pipeline", status, "srclist"), checksum=True) as hdus:
        table, header, primary = hdus["SRCLIST"].data, hdus["SRCLIST"].header, hdus[0].header
        for number, name in enumerate(table.columns.names, start=1):
            if name in COLUMNS:
                assert header.get(f"TUNIT{number}") == COLUMNS[name], name
        assert set(COLUMNS) <= set(table.columns.names)
        rows = [{name: float(row[name]) for name in COLUMNS} for row in table]
        for hdu_header in (primary, header):
            assert {"PSF", "TELDEF", "BADPIX"} <= set(calibration_cards(hdu_header))
        assert header["EXPOSURE"] == pytest.approx(status["results"]["mxt-screen"]["exposure_s"])
    results = status["results"]["mxt-detect"]
    assert results["n_sources"] == len(rows) >= 1
    assert list(table["DETML"]) == sorted(table["DETML"], reverse=True)
    for row, reported in zip(rows, results["sources"], strict=True):
        for column, (key, decimals) in RESULTS.items():
            assert reported[key] == pytest.approx(row[column], abs=0.6 * 10.0**-decimals), key


def test_the_brightest_source_is_the_simulated_grb(grb):
    truth = truth_of(grb)
    best = pipeline_status(grb)["results"]["mxt-detect"]["sources"][0]
    ra, dec = math.radians(best["ra_deg"]), math.radians(best["dec_deg"])
    true_ra, true_dec = (math.radians(truth["source"][k]) for k in ("ra_deg", "dec_deg"))
    cosine = math.sin(dec) * math.sin(true_dec) + math.cos(dec) * math.cos(true_dec) * math.cos(
        ra - true_ra
    )
    distance_arcsec = math.degrees(math.acos(min(cosine, 1.0))) * 3600.0
    assert 0.0 < best["err_r90_arcsec"] < 30.0
    assert distance_arcsec < 2.0 * best["err_r90_arcsec"]  # 2 R90: 4.3 sigma
    source = truth["counts"]["source"]
    assert abs(best["counts"] - source["events"]) < 4.0 * best["counts_err"]
    assert best["detml"] > 100.0


def test_the_hot_pixels_of_the_screened_list_are_not_live(grb, monkeypatch):
    """The fit sees the BADPIX pixels and the HOTPIX ones (the noisy pixels the simulator
    added outside BADPIX) as dead; without the HOTPIX extension they are live, with a
    warning."""
    lives: list[np.ndarray] = []
    real = detect_brick.detect

    def spy(detx, dety, live, *args, **kwargs):
        lives.append(np.array(live, dtype=bool))
        return real(detx, dety, live, *args, **kwargs)

    monkeypatch.setattr(detect_brick, "detect", spy)
    inputs = cleaned_inputs(grb)
    code, status = run_job(grb, "mxt-detect", "detect-hot", inputs)
    assert code == 0, status["messages"]
    assert not warnings(status)
    cleaned = grb / inputs["events"][0]
    stripped = grb / "no_hotpix_evt.fits"
    with fits.open(cleaned) as hdus:
        table = hdus["HOTPIX"].data
        hot = {(int(x), int(y)) for x, y in zip(table["RAWX"], table["RAWY"], strict=True)}
        fits.HDUList([hdu for hdu in hdus if hdu.name != "HOTPIX"]).writeto(stripped)
    inputs = {**inputs, "events": [stripped.name]}
    code, status = run_job(grb, "mxt-detect", "detect-stripped", inputs)
    assert code == 0, status["messages"]
    assert any("no HOTPIX extension" in text for text in warnings(status))

    truth = truth_of(grb)
    loud = {(p["rawx"], p["rawy"]) for p in truth["noisy_pixels"]
            if not p["in_badpix"] and p["events"] >= 4}  # fmt: skip
    assert loud
    assert loud <= hot  # mxt-screen found them (quieter ones cannot be told)
    calibration = grb / "pipeline" / "calibration"
    teldef = caldata.read_teldef(calibration / "svmxt_teldef_20250601v001.fits")
    badpix = caldata.read_badpix(calibration / "svmxt_badpix_20240622v001.fits").mask()
    rawx, rawy = (np.array(v) for v in zip(*sorted(hot), strict=True))
    detx, dety = raw_to_det(rawx, rawy, teldef)
    column, row = np.rint(detx).astype(int) - 1, np.rint(dety).astype(int) - 1
    with_hotpix, without = lives
    assert not with_hotpix[row, column].any()
    assert without[row, column].tolist() == (~badpix[rawy - 1, rawx - 1]).tolist()
    new_dead = int(np.count_nonzero(~badpix[rawy - 1, rawx - 1]))
    assert new_dead > 0
    assert np.count_nonzero(without & ~with_hotpix) == new_dead
    assert np.count_nonzero(~without) >= np.count_nonzero(badpix)


def test_a_flat_field_gives_an_empty_source_list_and_a_warning(demo_caldb, caldb_cache, tmp_path):
    write_l1(tmp_path / "l1.fits", n=300)
    write_attitude(tmp_path / "att.fits")
    inputs = {"events": ["l1.fits"], "attitude": ["att.fits"]}
    write_job(tmp_path, "mxt-pipeline", demo_caldb, inputs)
    code, status = run_job(tmp_path, "mxt-pipeline", "flat", inputs)
    assert code == 0
    assert status["status"] == "SUCCESS"
    assert status["results"]["mxt-detect"]["n_sources"] == 0
    assert status["results"]["mxt-detect"]["sources"] == []
    with fits.open(output(tmp_path, "flat", status, "srclist")) as hdus:
        assert len(hdus["SRCLIST"].data) == 0
        assert "RA" in hdus["SRCLIST"].columns.names
    texts = warnings(status)
    assert any("no source above DETML 8.0" in text for text in texts)
    assert any("no source to extract" in text for text in texts)  # mxt-products: image only
    assert "spectrum" not in status["outputs"]


def test_an_event_list_without_det_coordinates_fails_clearly(grb):
    status = pipeline_status(grb)
    inputs = {"events": [f"pipeline/{status['outputs']['calibrated_events'][0]}"],
              "attitude": [ATTITUDE]}  # fmt: skip
    code, failed = run_job(grb, "mxt-detect", "detect-nodet", inputs)
    assert code == 1
    assert failed["status"] == "FAILED"
    assert "no DETX column: run mxt-coordinates" in last_message(failed)
    assert "srclist" not in failed["outputs"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"detml_min": "x"}, "parameter detml_min must be a number >= 0, not 'x'"),
        ({"detml_min": -1}, "parameter detml_min must be a number"),
        ({"detml_min": True}, "parameter detml_min must be a number"),
        ({"max_sources": 0}, "parameter max_sources must be a whole number in [1, 50], not 0"),
        ({"max_sources": 2.5}, "parameter max_sources must be a whole number in [1, 50], not 2.5"),
        ({"max_sources": "many"}, "parameter max_sources must be a whole number"),
        ({"systematic_r90_arcsec": -3}, "parameter systematic_r90_arcsec must be a number"),
    ],
)
def test_a_bad_parameter_fails_with_exit_code_1(grb, parameters, message):
    code, status = run_job(grb, "mxt-detect", "detect-bad", cleaned_inputs(grb), **parameters)
    assert code == 1
    assert status["status"] == "FAILED"
    assert message in last_message(status)
    assert status["outputs"] == {}


def test_run_prints_the_sources_found_in_one_line(grb, capsys):
    code, status = run_job(grb, "mxt-detect", "detect-line", cleaned_inputs(grb))
    assert code == 0
    (line,) = capsys.readouterr().out.splitlines()
    results = status["results"]
    best = results["sources"][0]
    n = results["n_sources"]
    assert line.startswith(f"mxt-detect: SUCCESS; {n} source{'s' if n > 1 else ''} found; ")
    assert f"brightest at RA {best['ra_deg']:.5f} Dec {best['dec_deg']:+.5f} deg" in line
    assert f"R90 {best['err_r90_arcsec']:.1f} arcsec" in line
    assert line.endswith(f"1 file written (srclist) in {grb / 'detect-line'}")


def test_the_pipeline_line_gives_the_sources_and_the_products(grb):
    status = pipeline_status(grb)
    line = result_line(status, directory="out")
    best = status["results"]["mxt-detect"]["sources"][0]
    extracted = status["results"]["mxt-products"]["source"]["source_counts_total"]
    assert line.startswith("mxt-pipeline: SUCCESS; ")
    assert f"RA {best['ra_deg']:.5f} Dec {best['dec_deg']:+.5f} deg" in line
    assert f"{extracted:g} +/- " in line
    files = sum(len(names) for names in status["outputs"].values())
    assert f"{files} files written (" in line
    assert "2 preview" in line
    assert "srclist" in line
