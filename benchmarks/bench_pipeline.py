"""End-to-end latency of ``mxt-pipeline`` with a warm calibration cache, and its bricks' shares.

A CalDB on the embedded default (SQLite + local tree, demonstration set) is started on a
free port, then two observations are simulated through CaDBIO:

- the **nominal GRB** (≈1 count/s at T0 + 120 s, decay 1.2, 1 ks, default background:
  about 500 events);
- a **10^6-event** observation: a GRB 20 times brighter (≈4000 counts, so that it is
  detected and every product is made) on a 1000 counts/s background.

Each is run once to warm the CaDBIO cache (the calibration files are then read from disk,
the CalDB is asked only for the selection), then timed, best of ``--repeats``:

- **in process** (``run_brick``, what a long-lived scheduler worker pays);
- **as a command** (``pipeline-bricks run``, a new Python each time: imports included).

The share of each brick comes from the ``seconds`` mxt-pipeline records per brick in
processing_status.json. The baseline, measured in the same run, is the least any chain must
do to the events: read the L1 event list and write it back three times (the three event
lists of calibrate, coordinates and screen). Target: ≤ 5 s for the nominal GRB.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from harness import embedded_caldb

from pipeline_bricks.cli import main as bricks_main
from pipeline_bricks.framework.runner import run_brick
from pipeline_bricks.registry import bricks

TARGET_S = 5.0
DATE = "2025-07-01T12:00:00"
CASES = {  # name: simulator options
    "nominal GRB": ["--seed", "11"],
    "10^6 events": ["--seed", "12", "--rate", "20", "--bkg-rate", "1000"],
}
BRICKS = ("mxt-calibrate", "mxt-coordinates", "mxt-screen", "mxt-detect", "mxt-products")


def simulate(directory: Path, url: str, token: str, options: list[str]) -> Path:
    """Simulate into ``directory``; the runtime_data.json of mxt-pipeline."""
    code = bricks_main(
        ["simulate", "--date", DATE, "--out", str(directory), "--caldb-url", url, *options]
    )
    if code != 0:
        raise SystemExit(f"the simulation failed in {directory}")
    runtime = directory / "runtime_data.json"
    document = json.loads(runtime.read_text())
    document["caldb"]["token"] = token
    runtime.write_text(json.dumps(document))
    return runtime


def in_process(runtime: Path, cache: Path) -> tuple[float, dict[str, Any]]:
    """Wall time of one in-process run, and its processing_status.json."""
    shutil.rmtree(runtime.parent / "pipeline", ignore_errors=True)
    started = time.perf_counter()
    status, path = run_brick(bricks(), "mxt-pipeline", runtime, cache_dir=cache)
    seconds = time.perf_counter() - started
    document = json.loads(path.read_text())
    if status != "SUCCESS":
        raise SystemExit(f"mxt-pipeline: {status}: {document['messages']}")
    return seconds, document


def as_command(runtime: Path, cache: Path) -> float:
    """Wall time of ``pipeline-bricks run mxt-pipeline`` in a new process."""
    shutil.rmtree(runtime.parent / "pipeline", ignore_errors=True)
    command = [str(Path(sys.executable).parent / "pipeline-bricks"), "run", "mxt-pipeline"]
    env = {**os.environ, "CALDBIO_CACHE": str(cache)}
    started = time.perf_counter()
    subprocess.run([*command, str(runtime)], check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def io_floor(events: Path, work: Path) -> float:
    """Read the L1 event list and write it three times (the baseline)."""
    started = time.perf_counter()
    with fits.open(events, memmap=False) as hdus:
        columns = {
            name: np.array(hdus["EVENTS"].data[name]) for name in hdus["EVENTS"].columns.names
        }
        header = hdus["EVENTS"].header
        formats = {c.name: c.format for c in hdus["EVENTS"].columns}
    for stage in range(3):
        table = fits.BinTableHDU.from_columns(
            [fits.Column(name=n, format=formats[n], array=a) for n, a in columns.items()],
            header=header,
        )
        fits.HDUList([fits.PrimaryHDU(), table]).writeto(
            work / f"floor{stage}.fits", overwrite=True
        )
    return time.perf_counter() - started


def measure(name: str, runtime: Path, cache: Path, repeats: int) -> dict[str, Any]:
    """Warm the cache, then the best in-process and command times and the brick shares."""
    in_process(runtime, cache)  # warms the CaDBIO cache
    best, document = min((in_process(runtime, cache) for _ in range(repeats)), key=lambda r: r[0])
    command = min(as_command(runtime, cache) for _ in range(repeats))
    events = runtime.parent / json.loads(runtime.read_text())["inputs"]["events"][0]
    floor = min(io_floor(events, runtime.parent) for _ in range(repeats))
    with fits.open(events) as hdus:
        n_events = len(hdus["EVENTS"].data)
    results = document["results"]
    shares = {brick: results[brick]["seconds"] for brick in BRICKS}
    return {"case": name, "events": n_events, "in_process_s": best, "command_s": command,
            "floor_s": floor, "shares": shares}  # fmt: skip


def report(rows: list[dict[str, Any]]) -> None:
    """Print the latency table and the share of each brick."""
    print(f"python {platform.python_version()}, {platform.machine()}, numpy {np.__version__}")
    heading = ("case", "events", "in process", "command", "floor", "ratio")
    print("".join(f"{h:<14}" if i == 0 else f"{h:>11}" for i, h in enumerate(heading)) + "  target")
    for row in rows:
        verdict = ""
        if row["case"] == "nominal GRB":
            verdict = "PASS" if row["command_s"] <= TARGET_S else "FAIL"
            verdict = f"<= {TARGET_S:.0f} s: {verdict}"
        ratio = row["in_process_s"] / row["floor_s"]
        cells = (
            f"{row['events']:>11}",
            f"{row['in_process_s']:>10.2f}s",
            f"{row['command_s']:>10.2f}s",
            f"{row['floor_s']:>10.3f}s",
            f"{ratio:>10.0f}x",
        )
        print(f"{row['case']:<14}{''.join(cells)}  {verdict}")
    print("\nshare of each brick (in process, best run):")
    print(f"{'case':<14}" + "".join(f"{b.removeprefix('mxt-'):>13}" for b in BRICKS))
    for row in rows:
        total = sum(row["shares"].values())
        cells = "".join(
            f"{row['shares'][b]:>6.2f}s {100 * row['shares'][b] / total:>3.0f}%" for b in BRICKS
        )
        print(f"{row['case']:<14}{cells}")


def main() -> None:
    """Run the benchmark (module doc)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as temporary:
        work = Path(temporary)
        cache = work / "cache"
        os.environ["CALDBIO_CACHE"] = str(cache)  # the simulator's CaDBIO too
        with embedded_caldb(work) as (url, token):
            rows = []
            for name, options in CASES.items():
                started = time.perf_counter()
                runtime = simulate(
                    work / name.replace(" ", "_").replace("^", ""), url, token, options
                )
                print(f"simulated {name} in {time.perf_counter() - started:.1f} s", flush=True)
                rows.append(measure(name, runtime, cache, args.repeats))
        report(rows)


if __name__ == "__main__":
    main()
