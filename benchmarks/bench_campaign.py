"""Simulation campaigns: seconds per run per core, the speed-up with workers, a large report.

A CalDB on the embedded default (demonstration set) on a free port; then, for the ``grb``
scenario, ``pipeline-bricks campaign`` (a new process, as a user runs it):

1. ``--runs SMALL`` with 1, 2 and 4 local workers, each into a fresh directory: wall time,
   seconds per run per core, speed-up against 1 worker (baseline, same run), and whether the
   reports agree apart from timings (they must);
2. with ``--large N`` (e.g. 500), one campaign of N runs on every core, whose headline
   numbers (detections, R90 coverage and its interval, share beyond 1.5 R90, median offset,
   false detections) are printed with the path of its ``report.html``.

Target (issue 18): speed-up from 1 to 4 workers >= 3 (needs 4 cores: on 2 it is bounded by 2).

Run: ``.venv/bin/python benchmarks/bench_campaign.py [--small 16] [--large 500]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import busy_share, embedded_caldb

BIN = Path(sys.executable).parent
WORKERS = (1, 2, 4)
SEED = 1


def campaign(url: str, token: str, out: Path, runs: int, workers: int) -> float:
    """Run ``pipeline-bricks campaign`` once; its wall time in seconds."""
    argv = [str(BIN / "pipeline-bricks"), "campaign", "--scenario", "grb", "--runs", str(runs)]
    argv += ["--seed", str(SEED), "--out", str(out), "--workers", str(workers)]
    env = {**os.environ, "CALDB_TOKEN": token}
    started = time.perf_counter()
    result = subprocess.run(
        [*argv, "--caldb-url", url], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"campaign failed:\n{result.stderr}")
    return time.perf_counter() - started


def without_times(report: dict[str, Any]) -> str:
    """The report as text, every timing left out (reports must agree apart from those)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.startswith("seconds")}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return json.dumps(strip(report), sort_keys=True)


def headline(report: dict[str, Any]) -> str:
    """The numbers a scientist reads first."""
    wanted = (
        "runs",
        "detected",
        "r90_coverage",
        "detection_efficiency",
        "r90_coverage_95",
        "beyond_1p5_r90",
        "median_offset_arcsec",
        "false_detections_per_field",
    )
    return "\n".join(f"  {key:<24} {report[key]}" for key in wanted if key in report)


def main() -> None:
    """Start the CalDB, time the campaigns, print the table and the large report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=16, help="runs of the timed campaigns")
    parser.add_argument("--large", type=int, default=0, help="runs of the report campaign")
    parser.add_argument("--keep", type=Path, help="directory to keep the large campaign in")
    options = parser.parse_args()
    busy = busy_share()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="caldb-bench-campaign-") as directory:
        work = Path(directory)
        with embedded_caldb(work) as (url, token):
            seconds, reports = {}, {}
            for workers in WORKERS:
                out = work / f"small-{workers}"
                seconds[workers] = campaign(url, token, out, options.small, workers)
                reports[workers] = without_times(json.loads((out / "report.json").read_text()))
            print(f"machine: {cores} cores, {platform.platform()}, {busy:.0%} busy at start")
            print(f"\n{'workers':>7} {'wall s':>8} {'s/run/core':>11} {'speed-up':>9}  same report")
            for workers, wall in seconds.items():
                per_core = wall * min(workers, cores) / options.small
                same = "yes" if reports[workers] == reports[1] else "NO"
                speed_up = seconds[1] / wall
                print(f"{workers:>7} {wall:>8.1f} {per_core:>11.2f} {speed_up:>8.2f}x  {same}")
            if options.large:
                out = options.keep or work / "large"
                wall = campaign(url, token, out, options.large, cores)
                report = json.loads((out / "report.json").read_text())
                print(f"\n{options.large} runs on {cores} workers in {wall:.0f} s:")
                print(headline(report))
                print(f"  report: {out / 'report.html'}")


if __name__ == "__main__":
    main()
