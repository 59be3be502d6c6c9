"""Hostile runtime_data.json files given to ``pipeline-bricks run``.

The scheduler writes the job file, but a broken scheduler, a hand-edited job or an
attacker with write access to a job directory can put anything in it. Each case must end
as a FAILED processing_status.json with a message that names the problem (never an
"unexpected" error or a traceback), exit code 1, and never the bearer token in the status.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline_bricks.cli import main
from tests.helpers import MXT_GAIN, calfile_bytes
from tests.pipeline.eventlists import write_l1

TOKEN = "hostile-corpus-bearer-token-0123456789"
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens, refused at once


def base_document() -> dict[str, Any]:
    """A job the brick would run if the CalDB answered: each case breaks one thing."""
    return {
        "brick": "mxt-calibrate",
        "target": {"instrument": "MXT", "obs_id": "corpus"},
        "inputs": {"events": ["events.fits"]},
        "output_dir": "out",
        "caldb": {"url": CLOSED_PORT_URL, "token": TOKEN, "max_tries": 1},
    }


def changed(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A case that sets top-level keys (None removes one)."""

    def apply(document: dict[str, Any]) -> dict[str, Any]:
        for key, value in changes.items():
            if value is None:
                document.pop(key)
            else:
                document[key] = value
        return document

    return apply


def in_section(section: str, **changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A case that sets keys of one section (``caldb``, ``target``, ``parameters``)."""

    def apply(document: dict[str, Any]) -> dict[str, Any]:
        document.setdefault(section, {}).update(changes)
        return document

    return apply


def nested(depth: int, leaf: Any) -> Any:
    """``leaf`` inside ``depth`` lists (what json.loads still reads, recursion can't)."""
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def override(path: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return in_section("parameters", calibration={"GAIN": path})


# Whole files that are not a job document at all.
RAW_FILES: dict[str, bytes] = {
    "empty": b"",
    "broken JSON": b'{"brick": ',
    "array": b"[]",
    "string": b'"mxt-calibrate"',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "Latin-1": '{"brick": "mxt-calibrate", "output_dir": "é"}'.encode("latin-1"),
    "NUL bytes": b"\x00" * 64,
    "duplicate-free garbage": b"\xff\xfe\x00{",
}

# Documents with one hostile change (and the word the FAILED message must contain).
DOCUMENT_CASES: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str]] = {
    "no brick": (changed(brick=None), "brick"),
    "another brick": (changed(brick="mxt-screen"), "mxt-screen"),
    "brick with shell": (changed(brick="mxt-calibrate; rm -rf /"), "brick"),
    "unknown instrument": (in_section("target", instrument="XRT"), "XRT"),
    "target extra": (in_section("target", path="../../etc"), "path"),
    "obs_id traversal": (in_section("target", obs_id="../../x"), "obs_id"),
    "inputs not a list": (changed(inputs={"events": "events.fits"}), "events"),
    "input empty path": (changed(inputs={"events": [""]}), "events"),
    "input NUL": (changed(inputs={"events": ["events\x00.fits"]}), "events"),
    "input absent": (changed(inputs={"events": ["absent.fits"]}), "absent.fits"),
    "input directory": (changed(inputs={"events": ["."]}), "events"),
    "input not FITS": (changed(inputs={"events": ["notfits.txt"]}), "notfits.txt"),
    "input name": (changed(inputs={"Events!": ["events.fits"]}), "Events!"),
    "no output_dir": (changed(output_dir=None), "output_dir"),
    "empty output_dir": (changed(output_dir=""), "output_dir"),
    "output_dir NUL": (changed(output_dir="out\x00put"), "output_dir"),
    "output_dir is a file": (changed(output_dir="notfits.txt"), "notfits.txt"),
    "output_dir lone surrogate": (changed(output_dir="out\ud800"), "output_dir"),
    "input lone surrogate": (changed(inputs={"events": ["\udfff.fits"]}), "events"),
    "parameter nested 900 deep": (in_section("parameters", deep=nested(900, "\x00")), "deep"),
    "unknown top-level key": (changed(command="rm -rf /"), "command"),
    "file URL": (in_section("caldb", url="file:///etc/passwd"), "url"),
    "URL with CRLF": (in_section("caldb", url=CLOSED_PORT_URL + "/\r\nX-Evil: 1"), "url"),
    "URL NUL": (in_section("caldb", url=CLOSED_PORT_URL + "/\x00"), "url"),
    "token with CRLF": (in_section("caldb", token=TOKEN + "\r\nX-Evil: 1"), "token"),
    "token NUL": (in_section("caldb", token=TOKEN + "\x00"), "token"),
    "max_tries 0": (in_section("caldb", max_tries=0), "max_tries"),
    "max_tries 1000": (in_section("caldb", max_tries=1000), "max_tries"),
    "max_tries text": (in_section("caldb", max_tries="3"), "max_tries"),
    "as_of words": (in_section("caldb", as_of="yesterday"), "as_of"),
    "as_of month 13": (in_section("caldb", as_of="2025-13-01"), "as_of"),
    "as_of NUL": (in_section("caldb", as_of="2025-01-01\x00"), "as_of"),
    "caldb extra": (in_section("caldb", password="x"), "password"),
    "override absent": (override("absent_gain.fits"), "absent_gain.fits"),
    "override HDU absent": (override("gain.fits[99]"), "gain.fits"),
    "override not FITS": (override("notfits.txt"), "notfits.txt"),
    "override NUL": (override("gain\x00.fits"), "GAIN"),
    "lowercase codename": (in_section("parameters", calibration={"gain": "g.fits"}), "gain"),
    "calibration list": (in_section("parameters", calibration=["gain.fits"]), "calibration"),
}  # fmt: skip


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A job directory with the files the cases point at; no CalDB settings leak in."""
    for name in ("CALDB_URL", "CALDB_TOKEN", "RUNTIME_DATA", "CALDB_USERNAME", "CALDB_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CALDBIO_CONFIG_DIR", str(tmp_path / "config"))
    write_l1(tmp_path / "events.fits")
    (tmp_path / "gain.fits").write_bytes(calfile_bytes(MXT_GAIN))
    (tmp_path / "notfits.txt").write_text("<html>not FITS</html>\n")
    return tmp_path


def run_job(job: Path, content: bytes, brick: str = "mxt-calibrate") -> dict[str, Any]:
    """Run the brick; check it FAILED cleanly; return its processing_status.json."""
    runtime = job / "runtime_data.json"
    runtime.write_bytes(content)
    assert main(["run", brick, str(runtime)]) == 1
    candidates = [job / "out" / "processing_status.json", job / "processing_status.json"]
    status_file = next(path for path in candidates if path.is_file())
    text = status_file.read_text(encoding="utf-8")
    status = json.loads(text)
    assert status["status"] == "FAILED"
    errors = [m["text"] for m in status["messages"] if m["level"] == "ERROR"]
    assert errors
    assert not any(message.startswith("unexpected") for message in errors), errors
    assert "Traceback" not in text
    assert TOKEN not in text
    return status


@pytest.mark.parametrize("content", RAW_FILES.values(), ids=RAW_FILES.keys())
def test_a_file_that_is_not_a_job_fails_cleanly(job: Path, content: bytes):
    run_job(job, content)


@pytest.mark.parametrize(("change", "word"), DOCUMENT_CASES.values(), ids=DOCUMENT_CASES.keys())
def test_a_hostile_job_fails_naming_the_problem(job: Path, change, word: str):
    document = change(base_document())
    status = run_job(job, json.dumps(document).encode())
    assert any(word in m["text"] for m in status["messages"]), status["messages"]


def test_an_unknown_brick_fails_cleanly(job: Path):
    status = run_job(job, json.dumps(base_document()).encode(), brick="../../bin/sh")
    assert "unknown brick" in status["messages"][-1]["text"]
