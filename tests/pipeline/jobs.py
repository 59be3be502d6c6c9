"""Running a brick on a simulated observation as the scheduler does, whatever its outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from astropy.io import fits

from caldb_common.resources import schema_path
from pipeline_bricks.cli import main

STATUS_SCHEMA = json.loads(schema_path("processing_status.schema.json").read_text())
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_job(
    out: Path, brick: str, name: str, inputs: dict[str, list[str]], **parameters: Any
) -> tuple[int, dict[str, Any]]:
    """``pipeline-bricks run brick`` on a runtime_data.json made from the simulator's one
    (same CalDB and target) with ``inputs`` (paths relative to ``out``), writing to
    ``out/name``; return the exit code and the processing_status.json (schema-checked)."""
    document = json.loads((out / "runtime_data.json").read_text())
    document.update(brick=brick, output_dir=name, inputs=inputs, parameters=parameters)
    job = out / f"{name}.json"
    job.write_text(json.dumps(document))
    code = main(["run", brick, str(job)])
    status = json.loads((out / name / "processing_status.json").read_text())
    jsonschema.validate(status, STATUS_SCHEMA)
    return code, status


def simulated_inputs(out: Path) -> dict[str, list[str]]:
    """The L1 events and attitude the simulator wrote in ``out``."""
    return json.loads((out / "runtime_data.json").read_text())["inputs"]


def output(out: Path, name: str, status: dict[str, Any], kind: str) -> Path:
    """The (single) output of ``kind`` of the job ``name``."""
    (file,) = status["outputs"][kind]
    return out / name / file


def last_message(status: dict[str, Any]) -> str:
    return status["messages"][-1]["text"]


def warnings(status: dict[str, Any]) -> list[str]:
    return [m["text"] for m in status["messages"] if m["level"] == "WARNING"]


def calibration_cards(header: fits.Header) -> list[str]:
    """The codenames of the ``CALFnnnn`` cards of a header."""
    return [str(v).split()[0] for k, v in header.items() if k.startswith("CALF")]
