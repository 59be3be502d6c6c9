"""One simulated observation reduced by the MXT chain, in this process.

Shared by the campaigns and ``benchmarks/bench_localization.py``: the simulator is
``pipeline-bricks simulate`` (calibration through CaDBIO from the CalDB), and the chain is
``mxt-pipeline``'s first four stages run by ``run_brick`` (:func:`simulate_and_locate`). The
products do not move the position: a campaign makes them apart (:func:`extract_products`),
for the source it matched with the truth, once that source was found.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from astropy.coordinates import offset_by

from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.framework.runner import STATUS_FILE, run_brick
from pipeline_bricks.mxt.bricks.pipeline import MxtPipeline
from pipeline_bricks.mxt.bricks.products import MxtProducts
from pipeline_bricks.registry import bricks
from pipeline_bricks.simulator.command import parser as simulate_parser
from pipeline_bricks.simulator.command import run_simulate
from pipeline_bricks.simulator.writer import write_json

__all__ = ["Located", "MxtLocate", "extract_products", "offset_deg", "simulate_and_locate"]

LOCATE_DIR = "locate"  # the chain's output directory inside the run's directory
PRODUCTS_DIR = "products"  # mxt-products' output directory inside the run's directory


class MxtLocate(MxtPipeline):
    """``mxt-pipeline`` without ``mxt-products``: calibrate, coordinates, screen, detect."""

    name = "mxt-locate"
    description = "the MXT chain up to mxt-detect (campaigns and benchmarks)"
    stages: ClassVar = MxtPipeline.stages[:4]
    codenames = tuple(dict.fromkeys(c for brick, _, _ in stages for c in brick.codenames))


@dataclass
class Located:
    """What the simulator put in and what the chain found, with the time each took [s]."""

    status: str
    truth: dict[str, Any]
    sources: list[dict[str, Any]] = field(default_factory=list)
    seconds_simulate: float = 0.0
    seconds_chain: float = 0.0


def offset_deg(ra: float, dec: float, angle_deg: float, pa_deg: float) -> tuple[float, float]:
    """The direction ``angle_deg`` from (``ra``, ``dec``) at position angle ``pa_deg`` [deg]."""
    lon, lat = offset_by(*np.radians([ra, dec, pa_deg, angle_deg]))
    return float(lon.deg % 360.0), float(lat.deg)


def simulate_and_locate(out: Path, options: list[str]) -> Located:
    """``pipeline-bricks simulate OPTIONS --out OUT``, then the chain up to mxt-detect.

    ``options`` are the simulator's (``--date`` included). Raises :class:`BrickError` when
    the simulation cannot be made (its ``error:`` line went to stderr); a chain that ends
    ``FAILED`` or ``NO_DATA`` is a result, with no source.
    """
    started = time.perf_counter()
    try:
        arguments = simulate_parser().parse_args([*options, "--out", str(out)])
    except SystemExit:  # argparse said why on stderr (a scenario drawing a bad value)
        raise BrickError(f"the simulator refused the options {' '.join(options)}") from None
    with contextlib.redirect_stdout(io.StringIO()):
        if run_simulate(arguments) != 0:
            raise BrickError(f"the simulation into {out} failed (see its error above)")
    simulated = time.perf_counter()
    runtime = json.loads((out / "runtime_data.json").read_text())
    runtime.update(brick=MxtLocate.name, output_dir=LOCATE_DIR)
    # A simulated observation is not the mission's: its runs send no usage record.
    runtime.setdefault("caldb", {})["report_usage"] = False
    job = out / "locate.json"
    write_json(job, runtime, private=True)  # holds the CalDB token, as runtime_data.json does
    status, path = run_brick({**bricks(), MxtLocate.name: MxtLocate}, MxtLocate.name, job)
    found = json.loads(path.read_text()).get("results", {}).get("mxt-detect", {})
    return Located(
        status=status,
        truth=json.loads((out / "truth.json").read_text()),
        sources=list(found.get("sources", [])),
        seconds_simulate=simulated - started,
        seconds_chain=time.perf_counter() - simulated,
    )


def extract_products(
    out: Path, ra_deg: float, dec_deg: float, brick: type[MxtProducts] = MxtProducts
) -> tuple[str, dict[str, Any]]:
    """``mxt-products`` on the chain's screened events in ``out``, for the source at a position.

    After :func:`simulate_and_locate` into ``out``: the job is ``locate.json``'s with the
    screened events, the source list (its other sources cut out of the regions) and
    ``source_radec`` [deg] (the source found for the truth, the brightest or not); the
    products go to ``out/products``. Returns the brick's status and its processing status
    document (``outputs`` by kind, ``results``). ``brick`` may be a subclass of
    ``mxt-products`` (campaigns leave the previews out).
    """
    chain = json.loads((out / LOCATE_DIR / STATUS_FILE).read_text())["outputs"]
    runtime = json.loads((out / "locate.json").read_text())
    runtime.update(
        brick=brick.name,
        output_dir=PRODUCTS_DIR,
        inputs={
            "events": [f"{LOCATE_DIR}/{chain['cleaned_events'][-1]}"],
            "attitude": runtime["inputs"]["attitude"],
            "srclist": [f"{LOCATE_DIR}/{chain['srclist'][-1]}"],
        },
        parameters={"source_radec": [ra_deg, dec_deg]},
    )
    job = out / "products.json"
    write_json(job, runtime, private=True)  # holds the CalDB token, as locate.json does
    status, path = run_brick({**bricks(), brick.name: brick}, brick.name, job)
    return status, json.loads(path.read_text())
