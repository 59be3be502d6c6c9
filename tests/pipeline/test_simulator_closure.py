"""Simulated lines through mxt-calibrate: energies back within ±20 eV, split-event fractions;
and a simulated GRB through the whole mxt-pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline_bricks.cli import main
from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.calibrate import CalibratedEvents, calibrate_events
from tests.pipeline.simulation import (
    calibration_file,
    events_of,
    run_simulator,
    truth_of,
)

QUIET = ["--bkg-rate", "0", "--hot-rate", "0", "--hot-pixels", "0", "--flickering-pixels", "0"]


@pytest.fixture(scope="module")
def lines(demo_caldb: str, caldb_cache: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Al K (1.49 keV) and Mn K (5.9 keV) lines, 100 s at 60 counts/s, no background."""
    out = tmp_path_factory.mktemp("lines")
    options = ["--lines", "1.49,5.9", "--rate", "60", "--decay", "0", "--duration", "100"]
    assert run_simulator(out, demo_caldb, *options, *QUIET) == 0
    return out


def calibrated(out: Path) -> CalibratedEvents:
    """The events of ``out`` through calibrate_events with the GAIN and CTI it was made with."""
    events = events_of(out)
    gains = caldata.read_gain(*calibration_file(out, "GAIN"))
    cti = caldata.read_cti(*calibration_file(out, "CTI"))
    split = truth_of(out)["thresholds"]["split_adu"]
    return calibrate_events(
        events["PHAS"], events["RAWX"], events["RAWY"], gains.gain_ev_per_adu,
        gains.offset_adu, split_threshold_adu=split, cti_norm=cti.norm,
        cti_e0_kev=cti.e0_kev, cti_index=cti.index, cti_n_offset=cti.n_offset,
    )  # fmt: skip


@pytest.mark.parametrize(("line_ev", "band_ev"), [(1490.0, (1000, 3500)), (5900.0, (4500, 7500))])
def test_lines_come_back_within_20_ev(lines, line_ev, band_ev):
    result = calibrated(lines)
    energy = result.energy.astype(np.float64) * 1000.0
    inside = (energy > band_ev[0]) & (energy < band_ev[1]) & (result.pattern >= 0)
    assert inside.sum() > 300
    assert abs(np.median(energy[inside]) - line_ev) <= 20.0
    assert abs(np.median(result.pi[inside]) - line_ev / 10) <= 2


def test_invalid_patterns_are_rare(lines):
    result = calibrated(lines)
    assert np.mean(result.pattern < 0) < 0.01


def test_split_fractions_near_the_domain_note_at_1_5_kev(lines):
    result = calibrated(lines)
    energy = result.energy * 1000.0
    soft = (energy > 1000) & (energy < 3500)
    fractions = np.bincount(result.multiplicity[soft], minlength=5) / soft.sum()
    # Domain note §5.2: singles 65 %, doubles 25 %, triples + quadruples 10 %.
    assert 0.58 < fractions[1] < 0.72, fractions
    assert 0.20 < fractions[2] < 0.32, fractions
    assert 0.05 < fractions[3] + fractions[4] < 0.14, fractions
    assert fractions[3] > 0.02
    assert fractions[4] > 0.02


def test_a_fixed_cloud_of_0_um_makes_only_singles(demo_caldb, caldb_cache, tmp_path):
    options = ["--lines", "1.49", "--rate", "30", "--duration", "20", "--cloud-sigma-um", "0"]
    assert run_simulator(tmp_path, demo_caldb, *options, "--cloud-model", "fixed", *QUIET) == 0
    result = calibrated(tmp_path)
    assert np.all(result.multiplicity == 1)


def test_the_chain_runs_on_a_simulated_grb(demo_caldb, caldb_cache, tmp_path):
    options = ["--rate", "2", "--duration", "600", "--hot-rate", "0.02", "--seed", "3"]
    assert run_simulator(tmp_path, demo_caldb, *options) == 0
    assert main(["run", "mxt-pipeline", str(tmp_path / "runtime_data.json")]) == 0
    status = json.loads((tmp_path / "pipeline" / "processing_status.json").read_text())
    assert status["status"] == "SUCCESS"
    found = {tuple(pixel) for pixel in status["results"]["mxt-screen"]["hot_pixels"]}
    noisy = truth_of(tmp_path)["noisy_pixels"]
    injected = {(p["rawx"], p["rawy"]) for p in noisy if not p["in_badpix"]}
    assert injected <= found
