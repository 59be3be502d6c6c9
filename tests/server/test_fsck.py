"""``caldb-server fsck``: the catalogue and the file tree agree, and it says so when not."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from caldb_server.cli import main
from caldb_server.db import utcnow
from caldb_server.fsck import GRACE_SECONDS
from caldb_server.heasarc.tree import release_index
from caldb_server.imports.service import import_cif
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, calfile_bytes, upload

GAIN = "data/svom/mxt/bcf/gain/mxt_gain_v1.fits"
RELEASE = "data/svom/mxt/index/caldb.indx20260101"
RMF_DIR = "data/swift/xrt/cpf/rmf"
RMF_GZ = "calfiles/swift_xrt/swxpc0to12s6_20130101v014.rmf.gz"


@pytest.fixture
def cli_env(app_config):
    return {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}


def run_fsck(env, *args):
    result = CliRunner().invoke(main, ["fsck", *args], env=env, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def fsck_json(env, *args):
    result = run_fsck(env, "--json", *args)
    report = json.loads(result.stdout)
    assert result.exit_code == (0 if report["consistent"] else 1)
    return report


def _release(app, index_dir="data/svom/mxt"):
    services = extension(app)
    with services.database.unit_of_work() as session:
        release_index(
            session, services.storage, index_dir, caldbver="20260101", actor="test", now=utcnow()
        )


def _age(path, seconds):
    """Move a file's modification time back by ``seconds`` (relative to its own)."""
    stat = path.stat()
    os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds))


@pytest.fixture
def root(app, client, uploader, cli_env):
    """Two uploaded MXT files and a release of their index; returns the tree root."""
    for name, keywords in [
        ("mxt_gain_v1.fits", MXT_GAIN),
        ("mxt_cti_v1.fits", {**MXT_GAIN, "CCNM0001": "CTI"}),
    ]:
        assert upload(client, calfile_bytes(keywords), name, headers=uploader).status_code == 201
    _release(app)
    return Path(cli_env["CALDB_ROOT"])


def test_consistent_after_uploads_import_with_files_release_and_export(
    app, root, cli_env, heasarc_dir, tmp_path
):
    files_root = tmp_path / "swift"
    (files_root / RMF_DIR).mkdir(parents=True)
    (files_root / RMF_DIR / "swxpc0to12s6_20130101v014.rmf.gz").symlink_to(heasarc_dir / RMF_GZ)
    services = extension(app)
    with services.database.unit_of_work() as session:
        cif = heasarc_dir / "cif/swift_xrt_caldb.indx20160609"
        import_cif(
            session, services.storage, cif, files_root=files_root, actor="test", now=utcnow()
        )
    _release(app, "data/swift/xrt")
    export = CliRunner().invoke(main, ["export"], env=cli_env, catch_exceptions=False)
    assert export.exit_code == 0, export.output
    report = fsck_json(cli_env)
    assert report["consistent"] is True
    assert (report["files_checked"], report["releases_checked"]) == (3, 2)
    assert report["findings"] == []
    assert report["repaired"] == []
    text = run_fsck(cli_env)
    assert text.exit_code == 0
    assert text.stdout.splitlines() == ["consistent: 3 files and 2 releases verified"]


def _corrupt(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path):
    path.write_bytes(path.read_bytes()[:-1])


def _grow(path):
    path.write_bytes(path.read_bytes() + b"\0" * 2880)


@pytest.mark.parametrize("target", [GAIN, RELEASE])
@pytest.mark.parametrize(
    ("damage", "kind"),
    [
        (_corrupt, "corrupt"),
        (Path.unlink, "missing"),
        (_truncate, "wrong-size"),
        (_grow, "wrong-size"),
    ],
)
def test_damaged_files_are_reported(root, cli_env, target, damage, kind):
    damage(root / target)
    result = run_fsck(cli_env)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1
    assert errors[0].startswith(f"ERROR: {kind}: {target}: ")
    assert result.stdout.splitlines()[-1].startswith("INCONSISTENT")
    report = fsck_json(cli_env)
    assert report["consistent"] is False
    assert [(f["kind"], f["path"], f["severe"]) for f in report["findings"]] == [
        (kind, target, True)
    ]


def test_repair_never_touches_damaged_catalogue_files(root, cli_env):
    _corrupt(root / GAIN)
    damaged = (root / GAIN).read_bytes()
    report = fsck_json(cli_env, "--repair")
    assert report["repaired"] == []
    assert (root / GAIN).read_bytes() == damaged


@pytest.mark.parametrize(
    "stray",
    [
        "data/svom/mxt/bcf/gain/mxt_gain_v2.fits",
        "data/svom/mxt/index/caldb.indx20250101",
        "data/svom/vt/bcf/flat/vt_flat_v1.fits",
        "data/leftover.txt",
    ],
)
def test_old_stray_is_an_error_and_repair_moves_it_to_the_trash(root, cli_env, stray):
    path = root / stray
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"never committed")
    _age(path, 2 * GRACE_SECONDS)
    result = run_fsck(cli_env)
    assert result.exit_code == 1, result.output
    assert f"ERROR: stray: {stray}: " in result.stdout
    repaired = fsck_json(cli_env, "--repair")
    assert repaired["repaired"] == [stray]
    assert not path.exists()
    trashed = list((root / ".trash").rglob(path.name))
    assert len(trashed) == 1
    assert trashed[0].relative_to(root / ".trash").parts[1:] == Path(stray).parts
    assert trashed[0].read_bytes() == b"never committed"
    assert fsck_json(cli_env) == {
        "consistent": True,
        "files_checked": 2,
        "releases_checked": 1,
        "findings": [],
        "repaired": [],
    }


def test_young_stray_is_only_a_notice(root, cli_env):
    path = root / "data/svom/mxt/bcf/gain/mxt_gain_v2.fits"
    path.write_bytes(b"about to be committed")
    result = run_fsck(cli_env)
    assert result.exit_code == 0, result.output
    assert "note: stray: data/svom/mxt/bcf/gain/mxt_gain_v2.fits: " in result.stdout
    assert "ERROR" not in result.stdout
    report = fsck_json(cli_env, "--repair")
    assert [(f["kind"], f["severe"]) for f in report["findings"]] == [("stray", False)]
    assert report["repaired"] == []
    assert path.read_bytes() == b"about to be committed"


@pytest.mark.parametrize(("age", "removed"), [(0, False), (2 * GRACE_SECONDS, True)])
def test_leftover_incoming_part_is_a_notice(root, cli_env, age, removed):
    part = root / ".incoming" / "0123456789abcdef.part"
    part.write_bytes(b"half an upload")
    _age(part, age)
    result = run_fsck(cli_env)
    assert result.exit_code == 0, result.output
    assert "note: temporary: .incoming/0123456789abcdef.part: " in result.stdout
    report = fsck_json(cli_env, "--repair")
    assert report["consistent"] is True
    assert [(f["kind"], f["severe"]) for f in report["findings"]] == [("temporary", False)]
    assert report["repaired"] == ([".incoming/0123456789abcdef.part"] if removed else [])
    assert part.exists() is not removed


@pytest.mark.parametrize(("age", "removed"), [(0, False), (2 * GRACE_SECONDS, True)])
def test_interrupted_index_write_is_a_notice(root, cli_env, age, removed):
    leftover = root / "data/svom/mxt/.tmp-caldb.indx.x1y2z3"  # an export killed mid-write
    leftover.write_bytes(b"half an index")
    _age(leftover, age)
    report = fsck_json(cli_env, "--repair")
    assert report["consistent"] is True
    assert [(f["kind"], f["severe"]) for f in report["findings"]] == [("temporary", False)]
    assert leftover.exists() is not removed


def test_fsck_reports_every_problem_at_once(root, cli_env):
    (root / GAIN).unlink()
    _truncate(root / RELEASE)
    stray = root / "data/svom/mxt/bcf/cti/mxt_cti_v0.fits"
    stray.write_bytes(b"x")
    _age(stray, 2 * GRACE_SECONDS)
    report = fsck_json(cli_env)
    assert sorted((f["kind"], f["path"]) for f in report["findings"]) == [
        ("missing", GAIN),
        ("stray", "data/svom/mxt/bcf/cti/mxt_cti_v0.fits"),
        ("wrong-size", RELEASE),
    ]
