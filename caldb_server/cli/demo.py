"""``caldb-server demo-data``: fill a CalDB with the demonstration calibration set."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path

import click

from caldb_demodata import DEFAULT_SEED, generate
from caldb_server.cli.catalogue import _ingest_one
from caldb_server.cli.common import actor_option, exit_code_of, main, open_services, report_error
from caldb_server.errors import CaldbError

__all__ = ["demo_data"]


@main.command("demo-data")
@click.option(
    "--seed",
    default=DEFAULT_SEED,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seed of the generated content (same seed, identical files).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the generated files into this directory (kept) instead of a temporary one.",
)
@actor_option
def demo_data(seed: int, keep: Path | None, actor: str) -> None:
    """Generate the demonstration calibration set (MXT, ECL, VT, onboard) and ingest it.

    Every file goes through the same path as 'caldb-server ingest', in order; running it
    again is harmless (identical files are already indexed). The exit code is that of the
    first refused file.
    """
    started = time.perf_counter()
    exit_code = 0
    counts = {"indexed": 0, "already indexed": 0, "refused": 0}
    datasets = 0
    with open_services() as (_app, services), contextlib.ExitStack() as stack:
        directory = keep or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="caldb-demo-"))
        )
        paths = generate(directory, seed)
        size = sum(path.stat().st_size for path in paths)
        for path in paths:
            try:
                outcome = _ingest_one(services, path, supersede=False, actor=actor)
            except CaldbError as error:
                exit_code = exit_code or exit_code_of(error)
                counts["refused"] += 1
                click.echo(f"{path.name}: refused", err=True)
                report_error(error)
                continue
            state = "indexed" if outcome.created else "already indexed"
            counts[state] += 1
            datasets += len(outcome.datasets)
            names = " ".join(f"{d.instrume}/{d.cal_cnam}[{d.cal_xno}]" for d in outcome.datasets)
            click.echo(f"{path.name}: {state}, {len(outcome.datasets)} dataset(s): {names}")
            for note in outcome.notes:
                click.echo(f"  note: {note}")
    elapsed = time.perf_counter() - started
    where = f"; files kept in {keep}" if keep else ""
    click.echo(
        f"demo-data (seed {seed}): {len(paths)} files ({size / 1e6:.2f} MB), "
        f"{counts['indexed']} indexed, {counts['already indexed']} already indexed, "
        f"{counts['refused']} refused; {datasets} datasets; {elapsed:.1f} s{where}"
    )
    sys.exit(exit_code)
