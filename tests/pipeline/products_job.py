"""One simulated GRB through mxt-pipeline for the mxt-products brick tests (both modules)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.jobs import run_job, simulated_inputs
from tests.pipeline.simulation import ATTITUDE, run_simulator

SAA_S = (100.0, 160.0)  # [s from the start] the simulated SAA passage
SIMULATION = ["--rate", "8", "--duration", "400", "--seed", "17", "--saa", "100:160"]


def simulate_and_run(url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A decaying GRB with background, noisy pixels and an SAA passage, through mxt-pipeline
    (outputs in ``pipeline/``)."""
    out = tmp_path_factory.mktemp("products")
    assert run_simulator(out, url, *SIMULATION) == 0
    code, status = run_job(out, "mxt-pipeline", "pipeline", simulated_inputs(out))
    assert code == 0, status["messages"]
    return out


def pipeline_status(out: Path) -> dict[str, Any]:
    return json.loads((out / "pipeline" / "processing_status.json").read_text())


def products_inputs(out: Path, *, srclist: bool = True) -> dict[str, list[str]]:
    """The cleaned events, the attitude and (if ``srclist``) the source list of the chain."""
    outputs = pipeline_status(out)["outputs"]
    inputs = {"events": [f"pipeline/{outputs['cleaned_events'][0]}"], "attitude": [ATTITUDE]}
    if srclist:
        inputs["srclist"] = [f"pipeline/{outputs['srclist'][0]}"]
    return inputs
