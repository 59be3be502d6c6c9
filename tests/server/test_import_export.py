"""Importing a HEASARC index, exporting it again, and freezing releases."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner
from sqlalchemy import func, select

from caldb_server.catalogue.models import (
    CalibrationFile,
    CatalogueIndex,
    Dataset,
    QualityChange,
    Release,
)
from caldb_server.cli import main
from caldb_server.db import utcnow
from caldb_server.errors import Conflict, ValidationFailed
from caldb_server.heasarc.cif import CifRow, read_cif, write_cif
from caldb_server.heasarc.tree import release_index
from caldb_server.imports.service import import_cif
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, assert_fitsverify_clean, calfile_bytes, tree_files, upload

SWIFT_CIF = "cif/swift_xrt_caldb.indx20160609"
RMF_GZ = "calfiles/swift_xrt/swxpc0to12s6_20130101v014.rmf.gz"
RMF_DIR = "data/swift/xrt/cpf/rmf"
RMF = "swxpc0to12s6_20130101v014.rmf"
SWIFT_ROWS = 699
SWIFT_FILES = 397


@pytest.fixture
def swift_cif(heasarc_dir):
    return heasarc_dir / SWIFT_CIF


@pytest.fixture
def files_root(heasarc_dir, tmp_path):
    """A $CALDB-like tree holding only the RMF, gzipped, as a symlink."""
    root = tmp_path / "heasarc_caldb"
    (root / RMF_DIR).mkdir(parents=True)
    (root / RMF_DIR / f"{RMF}.gz").symlink_to(heasarc_dir / RMF_GZ)
    return root


@pytest.fixture
def rmf_bytes(heasarc_dir):
    return gzip.decompress((heasarc_dir / RMF_GZ).read_bytes())


@pytest.fixture
def cli_env(app_config):
    return {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}


def run_cli(env, *args):
    return CliRunner().invoke(main, [str(arg) for arg in args], env=env, catch_exceptions=False)


def _import(app, cif, files_root=None):
    services = extension(app)
    with services.database.unit_of_work() as session:
        return import_cif(
            session, services.storage, cif, files_root=files_root, actor="test", now=utcnow()
        )


def _catalogue_rows(app):
    """Every dataset as a CIF row, in index order, read straight from the tables."""
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


def _count(app, what, *where):
    with extension(app).database.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(what).where(*where))


def _stored_file(app, cal_dir, cal_file):
    with extension(app).database.unit_of_work(write=False) as session:
        return session.scalars(
            select(CalibrationFile).where(
                CalibrationFile.cal_dir == cal_dir, CalibrationFile.cal_file == cal_file
            )
        ).one()


def test_import_keeps_every_row_and_value_in_cif_order(app, swift_cif):
    report = _import(app, swift_cif)
    assert (report.rows_read, report.datasets_added, report.datasets_present) == (699, 699, 0)
    assert report.files_stored == 0
    assert len(report.files_metadata_only) == SWIFT_FILES
    original = read_cif(swift_cif).rows
    assert _catalogue_rows(app) == original
    assert [r.cal_qual for r in original].count(5) == 370  # the fixture's withdrawn rows


def test_import_is_idempotent_and_reads_gzipped_cifs(app, swift_cif, tmp_path):
    compressed = tmp_path / "caldb.indx20160609.gz"
    compressed.write_bytes(gzip.compress(swift_cif.read_bytes()))
    assert _import(app, compressed).datasets_added == SWIFT_ROWS
    again = _import(app, swift_cif)
    assert (again.datasets_added, again.datasets_present, again.quality_changes) == (0, 699, 0)
    assert _count(app, Dataset) == SWIFT_ROWS
    assert _count(app, CalibrationFile) == SWIFT_FILES
    assert _catalogue_rows(app) == read_cif(swift_cif).rows


def _subset(swift_cif, path, count=20):
    """The first rows of the fixture as a CIF of their own."""
    rows = read_cif(swift_cif).rows[:count]
    write_cif(rows, path, caldbver="20160609")
    return rows


def test_reimport_records_a_withdrawn_row_as_a_quality_change(app, swift_cif, tmp_path):
    rows = _subset(swift_cif, tmp_path / "caldb.indx20160609")
    _import(app, tmp_path / "caldb.indx20160609")
    position = next(i for i, row in enumerate(rows) if row.cal_qual == 0)
    rows[position] = dataclasses.replace(rows[position], cal_qual=5)
    newer = tmp_path / "caldb.indx20170101"
    write_cif(rows, newer, caldbver="20170101")
    report = _import(app, newer)
    assert (report.datasets_added, report.quality_changes) == (0, 1)
    assert _catalogue_rows(app) == rows
    assert _count(app, QualityChange, QualityChange.new_qual == 5) == 1


def test_import_with_files_stores_the_found_file_decompressed(
    app, client, swift_cif, files_root, rmf_bytes
):
    report = _import(app, swift_cif, files_root)
    assert report.files_stored == 1
    assert len(report.files_metadata_only) == SWIFT_FILES - 1
    assert f"{RMF_DIR}/{RMF}" not in report.files_metadata_only
    stored = _stored_file(app, RMF_DIR, RMF)
    assert stored.sha256 == hashlib.sha256(rmf_bytes).hexdigest()
    assert stored.size_bytes == len(rmf_bytes)
    path = extension(app).storage.root / RMF_DIR / RMF
    assert not path.is_symlink()
    assert path.read_bytes() == rmf_bytes
    assert _count(app, CalibrationFile, CalibrationFile.sha256.is_(None)) == SWIFT_FILES - 1
    served = client.get(f"/caldb/{RMF_DIR}/{RMF}")
    assert served.get_data() == rmf_bytes
    served.close()
    assert tree_files(extension(app).storage.root) == [f"{RMF_DIR}/{RMF}"]


def test_later_import_with_files_attaches_bytes_to_metadata_only_rows(
    app, swift_cif, files_root, rmf_bytes
):
    _import(app, swift_cif)
    assert _stored_file(app, RMF_DIR, RMF).sha256 is None
    report = _import(app, swift_cif, files_root)
    assert (report.datasets_added, report.files_stored) == (0, 1)
    assert _stored_file(app, RMF_DIR, RMF).sha256 == hashlib.sha256(rmf_bytes).hexdigest()
    assert _count(app, Dataset) == SWIFT_ROWS
    third = _import(app, swift_cif, files_root)  # held files are not copied again
    assert third.files_stored == 0


def test_exported_cif_equals_the_imported_one(app, cli_env, swift_cif, tmp_path):
    _import(app, swift_cif)
    output = tmp_path / "exported.indx"
    result = run_cli(cli_env, "export", "--index", "data/swift/xrt", "--output", output)
    assert result.exit_code == 0, result.output
    with fits.open(output, checksum=True) as exported, fits.open(swift_cif) as original:
        new, old = exported["CIF"], original["CIF"]
        assert new.columns.names == old.columns.names
        assert new.columns.formats == old.columns.formats
        assert new.header["CIFVERSN"] == old.header["CIFVERSN"]
        assert new.data.shape == old.data.shape == (SWIFT_ROWS,)
        for name in old.columns.names:
            assert np.array_equal(new.data[name], old.data[name]), name
        # Same bytes in every row: blank padding, the 630A70 CBD field, big-endian numbers.
        assert new.data.tobytes() == old.data.tobytes()
    assert read_cif(output).rows == read_cif(swift_cif).rows
    assert_fitsverify_clean(output)


def _upload(client, uploader, name, keywords):
    response = upload(client, calfile_bytes(keywords), name, headers=uploader)
    assert response.status_code == 201, response.get_json()


def _release(app, caldbver, index_dir="data/svom/mxt"):
    services = extension(app)
    with services.database.unit_of_work() as session:
        release = release_index(
            session, services.storage, index_dir, caldbver=caldbver, actor="test", now=utcnow()
        )
        return release.sha256, release.row_count


def _get(client, path):
    response = client.get(path)
    data = response.get_data()
    response.close()
    return response.status_code, data


def test_release_is_written_served_and_recorded(app, client, uploader):
    _upload(client, uploader, "mxt_gain_v1.fits", MXT_GAIN)
    _upload(client, uploader, "mxt_cti_v1.fits", {**MXT_GAIN, "CCNM0001": "CTI"})
    sha256, row_count = _release(app, "20260101")
    path = extension(app).storage.root / "data/svom/mxt/index/caldb.indx20260101"
    on_disk = path.read_bytes()
    assert sha256 == hashlib.sha256(on_disk).hexdigest()
    assert row_count == 2
    status, served = _get(client, "/caldb/data/svom/mxt/index/caldb.indx20260101")
    assert (status, served) == (200, on_disk)
    release = read_cif(io.BytesIO(on_disk))
    assert release.caldbver == "20260101"
    assert (
        release.rows
        == read_cif(io.BytesIO(_get(client, "/caldb/data/svom/mxt/caldb.indx")[1])).rows
    )


def test_releasing_a_version_twice_is_a_conflict(app, client, uploader):
    _upload(client, uploader, "mxt_gain_v1.fits", MXT_GAIN)
    sha256, _ = _release(app, "20260101")
    _upload(client, uploader, "mxt_cti_v1.fits", {**MXT_GAIN, "CCNM0001": "CTI"})
    with pytest.raises(Conflict, match="20260101"):
        _release(app, "20260101")
    path = extension(app).storage.root / "data/svom/mxt/index/caldb.indx20260101"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    assert _count(app, Release) == 1
    assert (
        tree_files(extension(app).storage.root).count("data/svom/mxt/index/caldb.indx20260101") == 1
    )


def test_release_stays_frozen_after_later_changes(app, client, uploader):
    _upload(client, uploader, "mxt_gain_v1.fits", MXT_GAIN)
    _release(app, "20260101")
    path = "/caldb/data/svom/mxt/index/caldb.indx20260101"
    frozen = _get(client, path)[1]
    _upload(client, uploader, "mxt_gain_v2.fits", {**MXT_GAIN, "CVSD0001": "2026-02-01"})
    patched = client.patch(
        "/api/v1/datasets/1", json={"cal_qual": 5, "reason": "v2"}, headers=uploader
    )
    assert patched.status_code == 200, patched.get_json()
    assert _get(client, path)[1] == frozen
    current = read_cif(io.BytesIO(_get(client, "/caldb/data/svom/mxt/caldb.indx")[1])).rows
    assert [r.cal_qual for r in current] == [5, 0]
    assert [r.cal_qual for r in read_cif(io.BytesIO(frozen)).rows] == [0]
    sha256, _ = _release(app, "20260201")
    assert _get(client, path)[1] == frozen
    assert read_cif(io.BytesIO(_get(client, path[:-8] + "20260201")[1])).rows == current
    assert sha256 != hashlib.sha256(frozen).hexdigest()


def _traversal_cif(swift_cif, path, **changes):
    """The first two fixture rows, the second one made unsafe."""
    rows = read_cif(swift_cif).rows[:2]
    rows[1] = dataclasses.replace(rows[1], **changes)
    write_cif(rows, path, caldbver="20260101")
    return path


BAD_INPUT = {
    "text": (lambda d, p: p.write_bytes(b"not a FITS file\n" * 200), "is not a FITS file"),
    "empty": (lambda d, p: p.write_bytes(b""), "is not a FITS file"),
    "calfile": (lambda d, p: p.write_bytes(calfile_bytes(MXT_GAIN)), "missing column"),
    "dotdot-dir": (
        lambda d, p: _traversal_cif(d, p, cal_dir="data/swift/xrt/../../../etc"),
        "not a clean relative directory",
    ),
    "absolute-dir": (
        lambda d, p: _traversal_cif(d, p, cal_dir="/etc/swift/xrt/bcf"),
        "not a clean relative directory",
    ),
    "dotdot-file": (
        lambda d, p: _traversal_cif(d, p, cal_file="../../passwd"),
        "not a bare file name",
    ),
}


@pytest.mark.parametrize("kind", BAD_INPUT)
def test_bad_cif_input_is_refused_and_nothing_imported(app, cli_env, swift_cif, tmp_path, kind):
    make, message = BAD_INPUT[kind]
    path = tmp_path / "caldb.indx"
    make(swift_cif, path)
    result = run_cli(cli_env, "import-cif", path)
    assert result.exit_code == 3, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert _count(app, Dataset) == 0
    assert _count(app, CatalogueIndex) == 0
    assert tree_files(extension(app).storage.root) == []


def test_cif_putting_another_mission_in_a_hosted_index_is_a_conflict(
    app, cli_env, swift_cif, tmp_path
):
    hosted = _subset(swift_cif, tmp_path / "caldb.indx20160609")
    _import(app, tmp_path / "caldb.indx20160609")
    rows = [dataclasses.replace(row, telescop="NUSTAR", cal_date="2026-01-01") for row in hosted]
    foreign = tmp_path / "caldb.indx"
    write_cif(rows, foreign, caldbver="20260101")
    result = run_cli(cli_env, "import-cif", foreign)
    assert result.exit_code == 4, result.output
    assert "SWIFT" in result.stderr
    assert _count(app, Dataset) == len(hosted)
    assert _count(app, Dataset, Dataset.telescop == "NUSTAR") == 0


def test_traversal_is_refused_by_the_service_too(app, swift_cif, tmp_path, files_root):
    path = _traversal_cif(swift_cif, tmp_path / "caldb.indx", cal_dir="data/../../../tmp")
    with pytest.raises(ValidationFailed) as refused:
        _import(app, path, files_root)
    assert refused.value.errors[0]["row"] == 2
    assert _count(app, Dataset) == 0
