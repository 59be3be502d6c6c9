"""Start-up time of the ``pipeline-bricks`` command and of the ``caldbio`` client.

Each command runs as a fresh process, ``--repeats`` times; the script prints the median
and the best wall time of each, against two baselines measured in the same run:

- ``python -c pass``: the interpreter alone, the floor;
- every brick imported (``pipeline_bricks.registry.bricks()``): what ``pipeline-bricks
  list`` cost before it read the light brick catalogue (numpy, scipy, astropy, matplotlib
  and the simulator imported to print a table).

Run: ``.venv/bin/python benchmarks/bench_cli_startup.py [--repeats 7]``
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
PYTHON = sys.executable

COMMANDS = {
    "python -c pass (floor)": [PYTHON, "-c", "pass"],
    "import every brick (before)": [
        PYTHON,
        "-c",
        "from pipeline_bricks.registry import bricks; bricks()",
    ],
    "pipeline-bricks list": [str(BIN / "pipeline-bricks"), "list"],
    "pipeline-bricks list --parameters": [str(BIN / "pipeline-bricks"), "list", "--parameters"],
    "pipeline-bricks --help": [str(BIN / "pipeline-bricks"), "--help"],
    "caldbio --help": [str(BIN / "caldbio"), "--help"],
}


def wall_times(command: list[str], repeats: int) -> list[float]:
    """Wall time of ``repeats`` runs of ``command``, in seconds (after one warm-up run)."""
    subprocess.run(command, check=True, capture_output=True)  # warm the page cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"{platform.python_implementation()} {platform.python_version()}, {args.repeats} runs")
    medians = {}
    print(f"{'command':34} {'median s':>9} {'best s':>8}")
    for name, command in COMMANDS.items():
        times = wall_times(command, args.repeats)
        medians[name] = statistics.median(times)
        print(f"{name:34} {medians[name]:9.3f} {min(times):8.3f}")
    before = medians["import every brick (before)"]
    listing = medians["pipeline-bricks list"]
    print(f"pipeline-bricks list / every brick imported: {listing / before:.2f}")
    print(f"pipeline-bricks list / python floor: {listing / medians['python -c pass (floor)']:.1f}")


if __name__ == "__main__":
    main()
