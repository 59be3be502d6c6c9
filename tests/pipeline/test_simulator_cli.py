"""``pipeline-bricks simulate``: usage errors exit 2, failures one ``error:`` line and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline_bricks.cli import main
from pipeline_bricks.simulator.command import main as mxt_simulate
from pipeline_bricks.simulator.writer import write_json
from tests.pipeline.simulation import DATE, run_simulator

BASE = ["simulate", "--date", DATE]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--rate", "-1"], "--rate: -1 must be a finite number >= 0"),
        (["--rate", "nan"], "--rate: nan must be a finite number"),
        (["--ra", "400"], "--ra: 400 must be a finite number >= 0 and <= 360"),
        (["--duration", "0"], "--duration: 0 must be a finite number > 0"),
        (["--saa", "50:10"], "START:STOP with 0 <= START < STOP"),
        (["--saa", "ten"], "START:STOP"),
        (["--lines", "1.49,keV"], "is not KEV[,KEV...]"),
        (["--lines", "25"], "line energies must be in 0.2-10 keV"),
        (["--calibration", "FOO=x.fits"], "CODENAME=PATH[xno]"),
        (["--calibration", "GAIN"], "CODENAME=PATH[xno]"),
        (["--seed", "-3"], "--seed: -3 must be >= 0"),
        (["--obs-id", "a b"], "--obs-id: 'a b' is not"),
        (["--burst-id", "GRB250701"], "is not sbYYMMDDNN"),
        (["--max-tries", "0"], "--max-tries: 0 must be >= 1"),
        (["--cloud-model", "lorentz"], "invalid choice"),
    ],
)
def test_bad_arguments_are_usage_errors(options, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*BASE, "--out", str(tmp_path), *options])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: pipeline-bricks simulate")
    assert message in error
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "the following arguments are required: --out"),
        (["--out", "x", "--date", "2016-01-01"], "before the SVOM time epoch"),
    ],
)
def test_missing_or_impossible_required_arguments(options, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["simulate", *options] if options else [*BASE])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_caldb_is_one_error_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CALDBIO_CACHE", str(tmp_path / "cache"))
    options = ["--out", str(tmp_path / "out"), "--caldb-url", "http://127.0.0.1:9"]
    assert main([*BASE, *options, "--max-tries", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: the CalDB is unreachable")
    assert not (tmp_path / "out" / "truth.json").exists()


def test_a_date_without_calibration_is_one_error_line(demo_caldb, caldb_cache, tmp_path, capsys):
    out = tmp_path / "out"
    assert mxt_simulate(["--date", "2020-01-01", "--out", str(out), "--caldb-url", demo_caldb]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"error: the CalDB at {demo_caldb} has no TELDEF calibration of MXT")
    assert not any(out.glob("*.fits"))


def test_an_unwritable_output_is_one_error_line(tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    assert main([*BASE, "--out", str(tmp_path / "file" / "out")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"error: cannot create the output directory {tmp_path / 'file'}")


def test_a_missing_local_calibration_file_is_one_error_line(
    demo_caldb, caldb_cache, tmp_path, capsys
):
    options = ["--calibration", f"GAIN={tmp_path / 'absent.fits'}"]
    assert run_simulator(tmp_path / "out", demo_caldb, *options) == 1
    error = capsys.readouterr().err
    assert error == f"error: the local GAIN file {tmp_path / 'absent.fits'} does not exist\n"


def test_local_calibration_overrides_are_used_and_passed_on(demo_caldb, caldb_cache, tmp_path):
    assert run_simulator(tmp_path / "first", demo_caldb, "--duration", "5") == 0
    gain = tmp_path / "first" / "calibration" / "svmxt_gain_20250601v001.fits"
    evtthr = tmp_path / "first" / "calibration" / "MXT_EVTTHR_20250301T120000_V01.yaml"
    options = ["--duration", "5", "--calibration", f"gain={gain}[1]"]
    options += ["--calibration", f"EVTTHR={evtthr}"]
    assert run_simulator(tmp_path / "second", demo_caldb, *options) == 0
    truth = json.loads((tmp_path / "second" / "truth.json").read_text())
    used = {item["codename"]: item for item in truth["calibration"]}
    assert used["GAIN"]["source"] == used["EVTTHR"]["source"] == "local"
    assert used["TELDEF"]["source"] == "caldb"
    assert used["EVTTHR"]["extension"] == 0  # a YAML upload is one document
    runtime = json.loads((tmp_path / "second" / "runtime_data.json").read_text())
    assert runtime["parameters"] == {"calibration": {"GAIN": f"{gain}[1]", "EVTTHR": f"{evtthr}"}}


def test_success_prints_one_summary_line(demo_caldb, caldb_cache, tmp_path, capsys):
    assert run_simulator(tmp_path, demo_caldb, "--duration", "5", "--obs-id", "00012345") == 0
    output = capsys.readouterr().out
    assert output.startswith("simulate: ")
    assert output.endswith(f" in {tmp_path}\n")
    assert (tmp_path / "00012345_mxt_l1_evt.fits").is_file()
    assert (tmp_path / "00012345_att.fits").is_file()
    # runtime_data.json carries the CalDB token: readable by its owner only.
    assert (tmp_path / "runtime_data.json").stat().st_mode & 0o777 == 0o600


def test_private_json_is_created_private_even_over_a_crashed_write(tmp_path):
    path = tmp_path / "runtime_data.json"
    path.write_text("{}")
    path.chmod(0o644)  # an earlier copy, readable by others
    leftover = tmp_path / ".tmp-runtime_data.json.0123456789ab"  # a write killed mid-way
    leftover.write_text("{")
    leftover.chmod(0o644)
    write_json(path, {"caldb": {"token": "secret"}}, private=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text()) == {"caldb": {"token": "secret"}}
    assert leftover.read_text() == "{"  # never written through
    write_json(tmp_path / "truth.json", {"counts": {}})  # not private: the usual mode
    assert (tmp_path / "truth.json").stat().st_mode & 0o777 == 0o666 & ~current_umask()


def current_umask() -> int:
    """The process umask, read without changing it (os.umask would, for every thread)."""
    status = Path("/proc/self/status")
    if not status.is_file():
        pytest.skip("no /proc/self/status to read the umask from")
    line = next(x for x in status.read_text().splitlines() if x.startswith("Umask:"))
    return int(line.split()[1], 8)
