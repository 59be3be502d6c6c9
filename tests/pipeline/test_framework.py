"""The brick framework against a real CalDB (the demonstration set behind a real HTTP server):
calibration through CaDBIO, local overrides, statuses, and every failure as a clear FAILED."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from astropy.io import fits

from caldb_common.resources import schema_path
from pipeline_bricks.framework import Brick, BrickContext, NoData
from pipeline_bricks.framework.runner import STATUS_FILE, run_brick
from pipeline_bricks.parameters import Parameter

PROGRAM = Path(sys.executable).parent / "pipeline-bricks"
STATUS_SCHEMA = json.loads(schema_path("processing_status.schema.json").read_text())


class GainTable(Brick):
    """A small real brick: copies the GAIN table valid at the observation date."""

    name = "test-gain"
    description = "copy the GAIN table"
    inputs = ("events",)
    codenames = ("GAIN",)
    parameters = (
        Parameter("no_data", "boolean", "", False, "end with NO_DATA"),
        Parameter("date", "text", "", "2025-07-01T00:00:00", "observation date (UTC)"),
    )

    def run(self, context: BrickContext) -> None:
        context.input("events")
        if context.parameter("no_data"):
            raise NoData("no event in the GTIs")
        gain = context.calibrate("GAIN", date=context.parameter("date"))
        with fits.open(gain.path) as hdus:
            table = fits.BinTableHDU(hdus[gain.extension].data, name="GAIN")
        context.write_fits(fits.HDUList([fits.PrimaryHDU(), table]), "gain_copy.fits", "tables")
        context.results["columns"] = len(table.data)


BRICKS = {GainTable.name: GainTable}


def job(tmp_path, url, **changes):
    """Write a runtime_data.json for GainTable; return its path."""
    (tmp_path / "events.fits").write_bytes(b"")
    document = {
        "brick": "test-gain",
        "target": {"burst_id": "sb25070101", "obs_id": "01234567", "instrument": "MXT"},
        "inputs": {"events": ["events.fits"]},
        "output_dir": "out",
        "parameters": {},
        "caldb": {"url": url, "max_tries": 2},
    } | changes
    path = tmp_path / "runtime_data.json"
    path.write_text(json.dumps(document))
    return path


def status_of(path):
    document = json.loads(path.read_text())
    jsonschema.validate(document, STATUS_SCHEMA)
    return document


def test_success_records_the_calibration_in_the_status_and_the_outputs(caldb, tmp_path):
    status, path = run_brick(BRICKS, "test-gain", job(tmp_path, caldb), cache_dir=tmp_path / "c")
    document = status_of(path)
    assert (status, document["status"]) == ("SUCCESS", "SUCCESS"), document["messages"]
    assert path == tmp_path / "out" / STATUS_FILE
    (used,) = document["calibration"]
    assert (used["codename"], used["file"], used["extension"], used["source"]) == (
        "GAIN",
        "svmxt_gain_20250601v001.fits",
        1,
        "caldb",
    )
    assert used["as_of"]  # the search's answered_at: the job can be replayed exactly
    assert document["outputs"] == {"tables": ["gain_copy.fits"]}
    assert document["results"] == {"columns": 256}
    with fits.open(tmp_path / "out" / "gain_copy.fits") as hdus:
        card = hdus["GAIN"].header["CALF0001"]
        assert card == f"GAIN svmxt_gain_20250601v001.fits[1] sha256={used['sha256']}"
        assert hdus[0].header["CALASOF"] == used["as_of"]


def test_the_observation_date_and_as_of_choose_the_epoch(caldb, tmp_path):
    early = job(tmp_path, caldb, parameters={"date": "2024-12-01T00:00:00"})
    _, path = run_brick(BRICKS, "test-gain", early, cache_dir=tmp_path / "c")
    assert status_of(path)["calibration"][0]["file"] == "svmxt_gain_20240622v001.fits"
    before_any_upload = job(tmp_path, caldb, caldb={"url": caldb, "as_of": "2020-01-01T00:00:00"})
    status, path = run_brick(BRICKS, "test-gain", before_any_upload, cache_dir=tmp_path / "c")
    assert status == "FAILED"
    assert "has no GAIN calibration of MXT" in status_of(path)["messages"][-1]["text"]
    assert "as_of 2020-01-01" in status_of(path)["messages"][-1]["text"]


def test_a_local_file_overrides_the_caldb(caldb, tmp_path):
    local = tmp_path / "my_gain.fits"
    table = fits.BinTableHDU.from_columns([fits.Column(name="GAIN", format="E", array=[5.0] * 3)])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(local)
    runtime = job(tmp_path, caldb, parameters={"calibration": {"GAIN": "my_gain.fits[1]"}})
    status, path = run_brick(BRICKS, "test-gain", runtime, cache_dir=tmp_path / "c")
    document = status_of(path)
    assert status == "SUCCESS", document["messages"]
    assert document["calibration"][0] | {"sha256": "-"} == {
        "codename": "GAIN",
        "file": "my_gain.fits",
        "extension": 1,
        "sha256": "-",
        "source": "local",
        "dataset_id": None,
        "as_of": None,
        "selection": None,  # no CalDB search chose it: nothing to replay
    }
    assert document["results"] == {"columns": 3}


def test_the_token_of_runtime_data_reaches_the_caldb(app_config, tmp_path, make_token, request):
    app_config["PUBLIC_READ"] = "false"
    caldb = request.getfixturevalue("caldb")
    refused, path = run_brick(BRICKS, "test-gain", job(tmp_path, caldb), cache_dir=tmp_path / "c")
    assert refused == "FAILED"
    assert "401" in status_of(path)["messages"][-1]["text"]
    with_token = job(tmp_path, caldb, caldb={"url": caldb, "token": make_token("reader")})
    status, path = run_brick(BRICKS, "test-gain", with_token, cache_dir=tmp_path / "c")
    assert status == "SUCCESS", status_of(path)["messages"]


def test_no_data_is_a_status_not_a_failure(caldb, tmp_path):
    status, path = run_brick(
        BRICKS, "test-gain", job(tmp_path, caldb, parameters={"no_data": True})
    )
    document = status_of(path)
    assert (status, document["messages"]) == (
        "NO_DATA",
        [{"level": "INFO", "text": "no event in the GTIs"}],
    )


def _closed_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize(
    ("changes", "message", "beside_runtime"),
    [
        ({"output_dir": None}, "invalid runtime_data.json", True),
        ({"brick": "Not A Brick"}, "invalid runtime_data.json", True),
        ({"inputs": {"events": ["missing.fits"]}}, "does not exist", False),
        ({"inputs": {}}, "has no 'events' input", False),
        ({"caldb": {"url": "CLOSED", "max_tries": 1}}, "unreachable", False),
        ({"parameters": {"calibration": {"GAIN": "nope.fits"}}}, "does not exist", False),
    ],
    ids=[
        "no output dir",
        "bad brick name",
        "missing input",
        "no input",
        "caldb down",
        "bad override",
    ],
)
def test_every_failure_is_a_failed_status_with_a_clear_message(
    tmp_path, changes, message, beside_runtime
):
    changes = dict(changes)  # the parameter is shared between runs
    if changes.get("caldb", {}).get("url") == "CLOSED":
        changes["caldb"] = {"url": _closed_url(), "max_tries": 1}
    runtime = job(tmp_path, _closed_url(), **changes)
    if changes.get("output_dir", "") is None:
        document = json.loads(runtime.read_text())
        del document["output_dir"]
        runtime.write_text(json.dumps(document))
    status, path = run_brick(BRICKS, "test-gain", runtime, cache_dir=tmp_path / "c")
    assert status == "FAILED"
    assert path.parent == (tmp_path if beside_runtime else tmp_path / "out")
    text = status_of(path)["messages"][-1]["text"]
    assert message in text
    assert "Traceback" not in text


def test_the_command_line(tmp_path):
    if not PROGRAM.is_file():
        pytest.skip(f"{PROGRAM} is not installed (pip install -e .)")
    listing = subprocess.run([PROGRAM, "list"], capture_output=True, text=True, check=False)
    assert listing.returncode == 0
    runtime = job(tmp_path, _closed_url())
    failed = subprocess.run(
        [PROGRAM, "run", "no-such-brick", runtime], capture_output=True, text=True, check=False
    )
    assert failed.returncode == 1
    assert "unknown brick 'no-such-brick'" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert status_of(tmp_path / STATUS_FILE)["status"] == "FAILED"
    usage = subprocess.run([PROGRAM, "run"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2
