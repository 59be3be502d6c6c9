"""``caldb-server import-cif`` of a large HEASARC index: seconds and rows per second.

Writes a synthetic SVOM MXT CIF of ``--rows`` rows (default 100 000) with the project's
CIF writer, then imports it, through the ``caldb-server import-cif`` command in a fresh
process, into a fresh SQLite instance, and into PostgreSQL too when
``CALDB_BENCH_DATABASE_URL`` is set (its public schema is DROPPED). A second import of the
same CIF (nothing added: the duplicate check alone) is timed as well. The baseline, in the
same run, is reading the CIF alone (``read_cif``): the floor under any import.

Targets (issue 17): 100 000 rows in at most 10 s on SQLite, 15 s on PostgreSQL.

Run: ``.venv/bin/python benchmarks/bench_import.py [--rows 100000]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import reset_postgresql

from caldb_selection import ref_time
from caldb_server.heasarc.cif import CifRow, read_cif, write_cif

BIN = Path(sys.executable).parent
TARGETS = {"sqlite": 10.0, "postgresql": 15.0}  # seconds for 100 000 rows
CODENAMES = tuple(f"CAL{n:02d}" for n in range(1, 18))
DETECTORS = ("NONE", "FM1", "FM2", "FM3")
ENERGIES = ("ENERG(0.2-2)keV", "ENERG(2-10)keV", "ENERG(10-50)keV", "ENERG(50-150)keV")
MODES = ("DATAMODE(PHOTON)", "DATAMODE(WINDOWED)")
START = datetime(2024, 1, 1, tzinfo=UTC)


def file_rows(start: datetime, codename: str, version: int) -> list[CifRow]:
    """The rows (HDUs) of one multi-HDU file: every detector x energy x data mode."""
    vsd, vst = f"{start:%Y-%m-%d}", f"{start:%H:%M:%S}"
    name = f"mxt_{codename.lower()}_{start:%Y%m%d}v{version:03d}.fits"
    variants = itertools.product(DETECTORS, ENERGIES, MODES)
    return [
        CifRow(
            telescop="SVOM",
            instrume="MXT",
            detnam=detector,
            filter="NONE",
            cal_dev="ONLINE",
            cal_dir=f"data/svom/mxt/bcf/{codename.lower()}",
            cal_file=name,
            cal_clas="BCF",
            cal_dtyp="DATA",
            cal_cnam=codename,
            cal_cbd=(energy, mode, *["NONE"] * 7),
            cal_xno=xno,
            cal_vsd=vsd,
            cal_vst=vst,
            ref_time=ref_time(vsd, vst),
            cal_qual=5 if version % 7 == 0 else 0,
            cal_date=vsd,
            cal_desc=f"MXT {codename} (benchmark)",
        )
        for xno, (detector, energy, mode) in enumerate(variants, 1)
    ]


def synthetic_rows(count: int) -> list[CifRow]:
    """``count`` rows: files of 32 HDUs, one new epoch per codename every 7 hours."""
    rows: list[CifRow] = []
    for version in itertools.count(1):
        for codename in CODENAMES:
            start = START + timedelta(hours=7 * version, minutes=CODENAMES.index(codename))
            rows += file_rows(start, codename, version)
            if len(rows) >= count:
                return rows[:count]
    raise AssertionError("unreachable")


def run(env: dict[str, str], *args: str) -> float:
    """Run ``caldb-server ARGS`` in a fresh process; return its wall time in seconds."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "caldb-server"), *args], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"caldb-server {' '.join(args)} failed:\n{result.stderr}")
    return elapsed


def measure(backend: str, database_url: str, cif: Path, work: Path) -> tuple[float, float]:
    """First import and re-import (seconds) of ``cif`` into a fresh instance."""
    env = {**os.environ, "CALDB_INSTANCE_PATH": str(work / backend)}
    env["CALDB_DATABASE_URL"] = database_url
    if backend == "postgresql":
        reset_postgresql(database_url)
    run(env, "init")
    return run(env, "import-cif", str(cif)), run(env, "import-cif", str(cif))


def busy_share() -> float:
    """The share of the machine busy with other work when the run starts (load average)."""
    return os.getloadavg()[0] / (os.cpu_count() or 1)


def main() -> None:
    """Write the CIF, time the baseline and each import, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the synthetic CIF")
    options = parser.parse_args()
    busy = busy_share()
    with tempfile.TemporaryDirectory(prefix="caldb-bench-import-") as directory:
        work = Path(directory)
        cif = work / "caldb.indx"
        write_cif(synthetic_rows(options.rows), cif, caldbver="20260101")
        cif_bytes = cif.stat().st_size
        started = time.perf_counter()
        read_cif(cif)
        baseline = time.perf_counter() - started
        backends = {"sqlite": f"sqlite:///{work / 'caldb.sqlite'}"}
        if url := os.environ.get("CALDB_BENCH_DATABASE_URL"):
            backends["postgresql"] = url
        results = {name: measure(name, url, cif, work) for name, url in backends.items()}
    scale = options.rows / 100_000
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, {busy:.0%} busy at start")
    print(f"CIF: {options.rows} rows ({cif_bytes / 1e6:.0f} MB)")
    print(f"\n{'measure':<44} {'seconds':>8} {'rows/s':>9} {'x read':>7} {'target':>7}")
    print("-" * 80)
    print(f"{'baseline: read_cif alone':<44} {baseline:>8.2f} {options.rows / baseline:>9.0f}")
    for name, (first, again) in results.items():
        target = TARGETS[name] * scale
        verdict = "met" if first <= target else "MISSED"
        print(
            f"{'import-cif, ' + name + ' (process, all in)':<44} {first:>8.2f} "
            f"{options.rows / first:>9.0f} {first / baseline:>7.1f} {target:>6.1f}s {verdict}"
        )
        print(
            f"{'re-import (nothing added), ' + name:<44} {again:>8.2f} "
            f"{options.rows / again:>9.0f} {again / baseline:>7.1f}"
        )


if __name__ == "__main__":
    main()
