"""Bulk import of a large index: batched, all or nothing, same catalogue as row by row."""

from __future__ import annotations

import dataclasses
import gzip
import itertools

import pytest
from click.testing import CliRunner
from sqlalchemy import event, func, select

from caldb_selection import ref_time
from caldb_server.catalogue.models import CalibrationFile, CatalogueIndex, Dataset, QualityChange
from caldb_server.cli import main
from caldb_server.heasarc.cif import CifRow, read_cif, write_cif
from caldb_server.imports import service
from caldb_server.web import extension
from tests.helpers import cif_row, import_index, tree_files

SWIFT_CIF = "cif/swift_xrt_caldb.indx20160609"
RMF_DIR = "data/swift/xrt/cpf/rmf"
RMF = "swxpc0to12s6_20130101v014.rmf"


def _catalogue(app):
    """Everything an import may change: datasets (as CIF rows), files, history, indexes."""
    with extension(app).database.unit_of_work(write=False) as session:
        datasets = [
            (d.id, d.file.cal_dir, d.file.cal_file, d.cal_xno, d.cal_qual, d.cal_vsd)
            for d in session.scalars(select(Dataset).order_by(Dataset.id))
        ]
        files = session.execute(
            select(CalibrationFile.id, CalibrationFile.cal_dir, CalibrationFile.sha256)
        ).all()
        history = session.execute(select(QualityChange.dataset_id, QualityChange.new_qual)).all()
        indexes = session.execute(
            select(CatalogueIndex.index_dir, CatalogueIndex.serial, CatalogueIndex.updated_at)
        ).all()
    return datasets, sorted(files), sorted(history), sorted(indexes)


def _fail_on(app, table, count):
    """Make the ``count``-th INSERT into ``table`` fail as a lost database would."""
    seen = itertools.count(1)

    def fail(conn, cursor, statement, parameters, context, executemany):
        inserts = statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()}")
        if inserts and next(seen) == count:
            raise ConnectionResetError("injected: the database went away")

    engine = extension(app).database.engine
    event.listen(engine, "before_cursor_execute", fail)
    return lambda: event.remove(engine, "before_cursor_execute", fail)


@pytest.fixture
def swift_rows(heasarc_dir):
    return read_cif(heasarc_dir / SWIFT_CIF).rows


@pytest.fixture
def files_root(heasarc_dir, tmp_path):
    """A $CALDB-like tree holding only one RMF of the index, gzipped."""
    root = tmp_path / "heasarc_caldb"
    (root / RMF_DIR).mkdir(parents=True)
    source = heasarc_dir / f"calfiles/swift_xrt/{RMF}.gz"
    (root / RMF_DIR / f"{RMF}.gz").write_bytes(source.read_bytes())
    return root


@pytest.mark.parametrize(
    ("table", "count"),
    [("datasets", 3), ("quality_changes", 1)],
    ids=["third batch of datasets", "quality history"],
)
def test_an_import_failing_part_way_leaves_the_catalogue_as_it_was(
    app, monkeypatch, swift_rows, files_root, tmp_path, table, count
):
    import_index(app, _write(tmp_path / "first.indx", swift_rows[:20]))
    withdrawn = next(i for i, row in enumerate(swift_rows[:20]) if row.cal_qual == 0)
    newer = list(swift_rows)
    newer[withdrawn] = dataclasses.replace(newer[withdrawn], cal_qual=5)
    cif = _write(tmp_path / "newer.indx", newer)
    before = _catalogue(app)
    monkeypatch.setattr(service, "BATCH_ROWS", 100)  # 7 batches
    stop_failing = _fail_on(app, table, count)
    with pytest.raises(ConnectionResetError):
        import_index(app, cif, files_root)
    stop_failing()
    assert _catalogue(app) == before
    assert tree_files(extension(app).storage.root) == []  # the found RMF was not published
    report = import_index(app, cif, files_root)  # the same import, nothing failing
    assert (report.datasets_added, report.quality_changes, report.files_stored) == (679, 1, 1)
    assert _catalogue(app) != before
    assert tree_files(extension(app).storage.root) == [f"{RMF_DIR}/{RMF}"]


def _write(path, rows):
    write_cif(rows, path, caldbver="20260101")
    return path


def _synthetic_rows(count):
    """``count`` rows over files of 8 HDUs; some rows twice, once with another quality."""
    rows = []
    for number in itertools.count():
        day = (number // 8) % 900
        vsd = f"{2020 + day // 300}-{day % 300 // 25 + 1:02d}-{day % 25 + 1:02d}"
        vst = f"{number % 3:02d}:30:00"
        row = cif_row(
            cal_dir=f"data/swift/xrt/bcf/c{number // 8 % 5}",
            cal_file=f"f{number // 8:04d}.fits",
            cal_cnam=f"CAL{number // 8 % 5}",
            cal_xno=number % 8 + 1,
            cal_vsd=vsd,
            cal_vst=vst,
            ref_time=ref_time(vsd, vst),
            cal_cbd=(f"ENERG({number % 4}-10)keV", *["NONE"] * 8),
            cal_qual=5 if number % 11 == 0 else 0,
        )
        rows.append(row)
        if number % 97 == 0:
            rows.append(row if number % 194 else dataclasses.replace(row, cal_qual=9))
        if len(rows) >= count:
            return rows[:count]
    raise AssertionError("unreachable")


def _key(row):
    """What the old import compared: the file, and everything selection reads but quality."""
    file, hdu = (row.cal_dir, row.cal_file), (row.cal_xno, row.instrume, row.detnam, row.filter)
    return (*file, *hdu, row.cal_cnam, row.ref_time, tuple(row.cal_cbd))


def _row_by_row(stored, rows):
    """The catalogue the old import made, one row at a time: the reference.

    Each stored dataset answers at most one row of its file with the same identity (the
    earliest first); a row it answers only sets its quality; any other row is appended.
    """
    catalogue = list(stored)
    unmatched = list(range(len(stored)))
    for row in rows:
        match = next((i for i in unmatched if _key(catalogue[i]) == _key(row)), None)
        if match is None:
            catalogue.append(row)
        else:
            unmatched.remove(match)
            catalogue[match] = dataclasses.replace(catalogue[match], cal_qual=row.cal_qual)
    return catalogue


def _catalogue_rows(app):
    with extension(app).database.unit_of_work(write=False) as session:
        return [
            CifRow(
                **{
                    field.name: getattr(dataset, field.name)
                    for field in dataclasses.fields(CifRow)
                    if field.name not in ("cal_dir", "cal_file", "cal_cbd")
                },
                cal_dir=dataset.file.cal_dir,
                cal_file=dataset.file.cal_file,
                cal_cbd=tuple(dataset.cal_cbd),
            )
            for dataset in session.scalars(select(Dataset).order_by(Dataset.id))
        ]


@pytest.mark.parametrize("batch_rows", [700, service.BATCH_ROWS])
def test_a_large_import_gives_the_catalogue_of_the_row_by_row_rules(
    app, monkeypatch, tmp_path, batch_rows
):
    monkeypatch.setattr(service, "BATCH_ROWS", batch_rows)
    rows = _synthetic_rows(5000)
    assert len(set(rows)) < len(rows)  # the CIF holds some row twice
    earlier = [*rows[:2000:3], rows[0]]  # imported before, one of them twice
    earlier = [
        dataclasses.replace(row, cal_qual=0 if row.cal_qual else 5) if position < 300 else row
        for position, row in enumerate(earlier)
    ]  # the import changes these qualities back
    import_index(app, _write(tmp_path / "earlier.indx", earlier))
    report = import_index(app, _write(tmp_path / "caldb.indx", rows))
    expected = _row_by_row(earlier, rows)
    assert _catalogue_rows(app) == expected
    assert report.datasets_added == len(expected) - len(earlier)
    assert report.datasets_present == len(rows) - report.datasets_added
    changed = sum(a.cal_qual != b.cal_qual for a, b in zip(earlier, expected, strict=False))
    assert report.quality_changes == changed > 0
    with extension(app).database.unit_of_work(write=False) as session:
        assert session.scalar(select(func.count()).select_from(QualityChange)) == changed
        serial = session.scalar(select(CatalogueIndex.serial))
    assert serial == 2  # one new serial per import, not per row
    again = import_index(app, _write(tmp_path / "caldb.indx", rows))
    assert (again.datasets_added, again.quality_changes) == (0, 0)
    assert _catalogue_rows(app) == expected
    with extension(app).database.unit_of_work(write=False) as session:
        assert session.scalar(select(CatalogueIndex.serial)) == serial


def test_the_cli_draws_no_progress_bar_off_a_terminal(app, app_config, tmp_path):
    env = {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}
    cif = _write(tmp_path / "caldb.indx", _synthetic_rows(50))
    compressed = tmp_path / "caldb.indx.gz"
    compressed.write_bytes(gzip.compress(cif.read_bytes()))
    result = CliRunner().invoke(main, ["import-cif", str(compressed)], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "caldb.indx.gz: 50 rows, 50 datasets added, 0 already present (0 quality changes), "
        "0 files stored, 7 files not held (metadata only)"
    ]
    assert "rows" not in result.stderr  # no bar, not even a finished one
