"""``caldb-server`` commands that set up, fill and check the catalogue and its tree."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from tqdm import tqdm

from caldb_server import migrate
from caldb_server.catalogue.models import CatalogueIndex
from caldb_server.cli.common import (
    actor_option,
    exit_code_of,
    handles_errors,
    main,
    open_services,
    report_error,
)
from caldb_server.db import sqlite_path, utcnow
from caldb_server.errors import CaldbError, NotFound, ValidationFailed
from caldb_server.fsck import fsck
from caldb_server.heasarc.cif import CifFormatError
from caldb_server.heasarc.tree import export_tree, release_index, write_index
from caldb_server.imports.service import Progress, import_cif
from caldb_server.ingest.service import IngestOutcome, ingest_file
from caldb_server.onboard.service import ingest_onboard
from caldb_server.web import Caldb

__all__ = ["export", "fsck_command", "import_cif_command", "ingest", "init", "release"]


@main.command()
def init() -> None:
    """Create or upgrade the database schema and the file tree (and the instance secret)."""
    with open_services(initialise=True) as (_app, services):
        migrate.upgrade(services.database.engine)
        services.storage.create()
        click.echo(f"database: {services.database.display_url}")
        _warn_if_readable_by_others(sqlite_path(services.database.url))
        click.echo(f"schema:   {migrate.head_revision()}")
        click.echo(f"tree:     {services.storage.root}")


def _warn_if_readable_by_others(path: Path | None) -> None:
    """An instance made before init created its database 0600: tell, do not change it."""
    if path is None or not path.exists():
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        click.echo(
            f"note: {path} (password hashes, token records) has mode {mode:04o}; "
            f"'chmod 600 {path}' unless others must read it",
            err=True,
        )


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--supersede", is_flag=True, help="Replace duplicated good datasets (CAL_QUAL := 5).")
@actor_option
def ingest(files: tuple[Path, ...], supersede: bool, actor: str) -> None:
    """Index calibration FITS FILES (and onboard .yaml files) into the CalDB, each on its own.

    A refused file does not stop the others; the exit code is that of the first refusal.
    """
    exit_code = 0
    with open_services() as (_app, services):
        for path in files:
            try:
                outcome = _ingest_one(services, path, supersede=supersede, actor=actor)
            except CaldbError as error:
                exit_code = exit_code or exit_code_of(error)  # the first refusal's code
                click.echo(f"{path.name}: refused", err=True)
                report_error(error)
                continue
            state = "indexed" if outcome.created else "already indexed"
            names = " ".join(f"{d.instrume}/{d.cal_cnam}[{d.cal_xno}]" for d in outcome.datasets)
            click.echo(f"{path.name}: {state}, {len(outcome.datasets)} dataset(s): {names}")
            for note in outcome.notes:
                click.echo(f"  note: {note}")
    sys.exit(exit_code)


def _ingest_one(services: Caldb, path: Path, *, supersede: bool, actor: str) -> IngestOutcome:
    """One file, one unit of work: a refused file does not stop the others.

    ``.yaml`` files are onboard-upload products; anything else is a calibration FITS file.
    """
    with (
        path.open("rb") as stream,
        services.storage.receive(stream, path.name) as incoming,
        services.database.unit_of_work() as session,
    ):
        if path.suffix == ".yaml":
            return ingest_onboard(
                session, services.storage, services.registry, incoming, actor=actor
            )
        return ingest_file(
            session,
            services.storage,
            services.registry,
            incoming,
            actor=actor,
            supersede=supersede,
            max_bytes=services.settings.max_upload_bytes,
            max_hdus=services.settings.max_hdus,
        )


@main.command("import-cif")
@click.argument("cif", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--files-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A $CALDB-like tree (or flat directory) holding the indexed files.",
)
@actor_option
@handles_errors
def import_cif_command(cif: Path, files_root: Path | None, actor: str) -> None:
    """Import the existing HEASARC index CIF (any mission); its files are optional.

    Values are read as HEASoft reads them; those only HEASoft's reading accepts are listed
    as notes. A refused index imports nothing and every row that cannot be imported is
    listed with its number (from 1, as fv shows it); the exit code is then 3.
    """
    with (
        open_services() as (_app, services),
        services.database.unit_of_work() as session,
        _rows_bar(cif.name) as progress,
    ):
        try:
            report = import_cif(
                session,
                services.storage,
                cif,
                files_root=files_root,
                actor=actor,
                progress=progress,
            )
        except CifFormatError as error:
            problems = [{"row": p.row, "reason": p.reason} for p in error.problems]
            raise ValidationFailed(str(error), errors=problems) from None
    for note in report.notes:
        click.echo(f"  note: {note}")
    click.echo(
        f"{cif.name}: {report.rows_read} rows, {report.datasets_added} datasets added, "
        f"{report.datasets_present} already present ({report.quality_changes} quality changes), "
        f"{report.files_stored} files stored, "
        f"{len(report.files_metadata_only)} files not held (metadata only)"
        + (f", {len(report.notes)} value(s) read as HEASoft reads them" if report.notes else "")
    )


@contextmanager
def _rows_bar(name: str) -> Iterator[Progress]:
    """A bar of rows written, on stderr and only on a terminal (a pipe or a log gets none)."""
    with tqdm(desc=name, unit=" rows", leave=False, disable=not sys.stderr.isatty()) as bar:

        def advance(done: int, total: int) -> None:
            if bar.total != total:  # the first batch: the clock starts with the writing
                bar.reset(total=total)
            bar.update(done - bar.n)

        yield advance


@main.command()
@click.option("--index", "index_dir", help="Only this index, e.g. data/svom/mxt (with --output).")
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write that index here."
)
@handles_errors
def export(index_dir: str | None, output: Path | None) -> None:
    """Write current caldb.indx files and caldb.config/alias_config.fits into the tree."""
    if (index_dir is None) != (output is None):
        raise click.UsageError("--index and --output go together")
    with (
        open_services() as (_app, services),
        services.database.unit_of_work(write=False) as session,
    ):
        if index_dir is not None and output is not None:
            index = session.get(CatalogueIndex, index_dir)
            if index is None:
                raise NotFound(f"there is no index {index_dir}")
            write_index(session, index_dir, output, caldbver=index.updated_at.strftime("%Y%m%d"))
            click.echo(str(output))
            return
        for path in export_tree(session, services.storage, services.registry):
            click.echo(str(path))


@main.command()
@click.option("--index", "indexes", multiple=True, help="Index to release (default: all).")
@click.option("--version", "caldbver", help="CALDBVER YYYYMMDD (default: today, UTC).")
@actor_option
@handles_errors
def release(indexes: tuple[str, ...], caldbver: str | None, actor: str) -> None:
    """Freeze index/caldb.indx<YYYYMMDD> for each index."""
    now = utcnow()
    caldbver = caldbver or now.strftime("%Y%m%d")
    if len(caldbver) != 8 or not caldbver.isdigit():
        raise click.BadParameter("must be YYYYMMDD", param_hint="--version")
    released = []
    with open_services() as (_app, services), services.database.unit_of_work() as session:
        chosen = (
            indexes
            or session.scalars(
                select(CatalogueIndex.index_dir).order_by(CatalogueIndex.index_dir)
            ).all()
        )
        for index_dir in chosen:
            frozen = release_index(
                session, services.storage, index_dir, caldbver=caldbver, actor=actor, now=now
            )
            path = f"{index_dir}/index/caldb.indx{caldbver}"
            released.append(f"{path}: {frozen.row_count} rows, sha256 {frozen.sha256}")
    # Only once committed: a later index's failure rolls back every release of the command.
    for line in released:
        click.echo(line)


@main.command("fsck")
@click.option(
    "--repair", is_flag=True, help="Move stray files to .trash/ and delete old temporary files."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def fsck_command(repair: bool, as_json: bool) -> None:
    """Check that the catalogue and the file tree agree (every sha256 verified)."""
    with (
        open_services() as (_app, services),
        services.database.unit_of_work(write=False) as session,
    ):
        report = fsck(session, services.storage, services.registry, repair=repair)
    document: dict[str, Any] = {
        "consistent": report.consistent,
        "files_checked": report.files_checked,
        "releases_checked": report.releases_checked,
        "findings": [vars(finding) for finding in report.findings],
        "repaired": report.repaired,
    }
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        for finding in report.findings:
            level = "ERROR" if finding.severe else "note"
            click.echo(f"{level}: {finding.kind}: {finding.path}: {finding.detail}")
        state = "consistent" if report.consistent else "INCONSISTENT"
        click.echo(
            f"{state}: {report.files_checked} files and {report.releases_checked} releases verified"
        )
    sys.exit(0 if report.consistent else 1)
