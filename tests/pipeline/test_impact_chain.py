"""The loop a pipeline operator runs, on the demonstration chain against a live CalDB.

The demonstration GRB (2025-07-01) is processed by ``mxt-pipeline`` with a pipeline token,
which sends its usage record. Calibration scientists then change the catalogue; ``impact``
lists the observation exactly when the file it used would now differ, and ``caldbio watch``
hands each change to a command, in order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from caldb_demodata import ecl, mxt_detector
from caldb_demodata.common import file_name, write_fits
from caldbio import CaDBIO
from caldbio.cli import main as caldbio
from tests.pipeline.jobs import run_job, simulated_inputs
from tests.pipeline.simulation import run_simulator

OBSERVATION = "sb25070101"


@pytest.fixture
def processed(caldb, tmp_path, make_token, monkeypatch) -> dict[str, Any]:
    """The demonstration GRB simulated and processed; what it used, and the feed's number."""
    monkeypatch.setenv("CALDBIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CALDB_TOKEN", raising=False)
    out = tmp_path / "obs"
    assert run_simulator(out, caldb) == 0
    runtime = json.loads((out / "runtime_data.json").read_text())
    runtime["caldb"]["token"] = make_token("reader", subject="mxt-pipeline")
    (out / "runtime_data.json").write_text(json.dumps(runtime))
    code, status = run_job(out, "mxt-pipeline", "pipeline", simulated_inputs(out))
    assert code == 0, status["messages"]
    assert status["messages"][-1]["text"] == "1 usage record(s) sent, 0 queued"
    with CaDBIO(caldb, max_tries=1) as client:
        since = client.changes(0, limit=1)["latest"]
    used = {item["codename"]: item for item in status["calibration"]}
    return {"since": since, "used": used, "directory": tmp_path}


def upload(caldb: str, token: str, directory: Path, name: str, hdus: list[Any]) -> int:
    path = write_fits(directory / name, hdus)
    with CaDBIO(caldb, token=token, max_tries=1) as client:
        return client.upload(path).datasets[0].id


def affected(caldb: str, token: str, since: int) -> list[dict[str, Any]]:
    with CaDBIO(caldb, token=token, max_tries=1) as client:
        items: list[dict[str, Any]] = client.impact(since)["affected"]
    return items


def test_the_observation_is_listed_only_when_its_file_would_change(
    caldb, processed, make_token, tmp_path, capsys, monkeypatch
):
    token, since, used = (
        make_token("uploader", subject="calib"),
        processed["since"],
        processed["used"],
    )
    # Unrelated: a new ECLAIRs gain, and an MXT gain epoch starting after the observation.
    upload(
        caldb,
        token,
        tmp_path,
        file_name("ecl", "gain", "2025-06-20"),
        ecl.gain_hdus("2025-06-20", 7),
    )
    later = mxt_detector.gain_hdus(3, "2025-08-01", 7)
    upload(caldb, token, tmp_path, file_name("mxt", "gain", "2025-08-01"), later)
    assert affected(caldb, token, since) == []
    # A gain epoch starting before the observation, after the one it used: listed.
    between = mxt_detector.gain_hdus(3, "2025-06-15", 7)
    new_id = upload(caldb, token, tmp_path, file_name("mxt", "gain", "2025-06-15"), between)
    (item,) = affected(caldb, token, since)
    assert (item["observation"], item["brick"], item["codename"]) == (
        OBSERVATION,
        "mxt-pipeline",
        "GAIN",
    )
    assert (item["reason"], item["change"]["kind"]) == ("newer", "upload")
    assert item["old"]["cal_file"] == used["GAIN"]["file"]
    assert (item["new"]["dataset_id"], item["new"]["cal_file"]) == (
        new_id,
        "svmxt_gain_20250615v001.fits",
    )
    # The TELDEF it used marked bad: listed, with the earlier epoch's file as the new one.
    after_gain = affected_since = _latest(caldb)
    with CaDBIO(caldb, token=token, max_tries=1) as client:
        client.set_quality(used["TELDEF"]["dataset_id"], 5, "boresight wrong")
    (item,) = affected(caldb, token, affected_since)
    assert (item["codename"], item["reason"], item["change"]["kind"]) == (
        "TELDEF",
        "bad",
        "quality",
    )
    assert item["old"]["dataset_id"] == used["TELDEF"]["dataset_id"]
    assert item["new"]["cal_file"] == "svmxt_teldef_20240622v001.fits"
    # The command line: the table, and every change handed to a command, in order.
    monkeypatch.setenv("CALDB_TOKEN", make_token("reader", subject="scheduler"))
    assert caldbio(["impact", "--since", str(since), "--url", caldb]) == 0
    table = capsys.readouterr().out
    assert OBSERVATION in table
    assert "1 observation(s) to reprocess after 4 change(s)" in table
    seen = tmp_path / "seen.jsonl"
    script = tmp_path / "append.py"  # one line per change: its JSON on one line
    line = "json.dumps(json.load(sys.stdin)) + '\\n'"
    script.write_text(f"import json, sys\nopen({str(seen)!r}, 'a').write({line})\n")
    state = tmp_path / "watch.state"
    arguments = ["watch", "--url", caldb, "--since", str(since), "--state", str(state), "--once"]
    assert caldbio([*arguments, "--", sys.executable, str(script)]) == 0
    changes = [json.loads(line) for line in seen.read_text().splitlines()]
    assert [c["kind"] for c in changes] == ["upload", "upload", "upload", "quality"]
    assert [c["seq"] for c in changes] == sorted(c["seq"] for c in changes)
    assert int(state.read_text()) == changes[-1]["seq"] == after_gain + 1


def _latest(caldb: str) -> int:
    with CaDBIO(caldb, max_tries=1) as client:
        return int(client.changes(0, limit=1)["latest"])


def test_watch_stops_at_a_failing_command_and_resumes_there(caldb, processed, make_token, tmp_path):
    token, since = make_token("uploader"), processed["since"]
    for valid_from in ("2025-08-01", "2025-09-01"):
        upload(
            caldb,
            token,
            tmp_path,
            file_name("mxt", "gain", valid_from),
            mxt_detector.gain_hdus(3, valid_from, 7),
        )
    state = tmp_path / "watch.state"
    arguments = ["watch", "--url", caldb, "--since", str(since), "--state", str(state), "--once"]
    failing = [sys.executable, "-c", "import sys; sys.exit(3)"]
    assert caldbio([*arguments, "--", *failing]) == 3
    assert int(state.read_text()) == since  # nothing handled: a restart begins there
    resumed = ["watch", "--url", caldb, "--state", str(state), "--once"]
    assert caldbio([*resumed, "--", sys.executable, "-c", "import sys; sys.stdin.read()"]) == 0
    assert int(state.read_text()) == since + 2
