"""The caldb-server command line, in process (CliRunner) and as a real program."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine

from caldb_server.auth.tokens import verify_token
from caldb_server.cli import main
from caldb_server.db import utcnow
from caldb_server.heasarc.cif import read_cif, write_cif
from caldb_server.heasarc.config_files import parse_caldb_config, read_alias_config
from caldb_server.imports.service import import_cif
from caldb_server.migrate import current_revision, head_revision
from caldb_server.registry import load_registry
from caldb_server.web import extension
from tests.conftest import SECRET
from tests.helpers import MXT_GAIN, calfile_bytes, upload, write_calfile

PROGRAM = Path(sys.executable).with_name("caldb-server")
CTI = {**MXT_GAIN, "CCNM0001": "CTI", "CDES0001": "MXT charge transfer inefficiency"}
SWIFT_CIF = "cif/swift_xrt_caldb.indx20160609"
RMF_GZ = "calfiles/swift_xrt/swxpc0to12s6_20130101v014.rmf.gz"
SWIFT_SUBSET = 25


@pytest.fixture
def cli_env(app_config):
    """The CALDB_* variables of the test app (its database, tree and registry)."""
    return {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}


@pytest.fixture
def fresh_env(tmp_path):
    """Settings for a SQLite database that was never initialised."""
    return {
        "CALDB_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh' / 'caldb.sqlite'}",
        "CALDB_ROOT": str(tmp_path / "fresh" / "tree"),
        "CALDB_INSTANCE_PATH": str(tmp_path / "fresh" / "instance"),
        "CALDB_SECRET_KEY": SECRET,
    }


def run_cli(env, *args):
    """The command in process; ``stdout`` and ``stderr`` are kept apart."""
    return CliRunner().invoke(main, [str(arg) for arg in args], env=env, catch_exceptions=False)


def run_program(env, *args, timeout=120):
    """The installed ``caldb-server`` as a subprocess, with only our CALDB_* settings."""
    if not PROGRAM.is_file():
        pytest.skip(f"{PROGRAM} is not installed (pip install -e .[server])")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CALDB_")}
    environment.update(env)
    return subprocess.run(
        [str(PROGRAM), *map(str, args)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def _files(tmp_path, **named):
    return [write_calfile(tmp_path / name, *hdus) for name, hdus in named.items()]


def test_init_migrates_an_empty_sqlite_database_and_creates_the_tree(fresh_env, tmp_path):
    result = run_program(fresh_env, "init")
    assert result.returncode == 0, result.stderr
    assert f"schema:   {head_revision()}" in result.stdout
    again = run_cli(fresh_env, "init")  # running it twice is harmless
    assert again.exit_code == 0, again.output
    engine = create_engine(fresh_env["CALDB_DATABASE_URL"])
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    root = Path(fresh_env["CALDB_ROOT"])
    assert all((root / name).is_dir() for name in ("data", ".incoming", ".cache"))
    assert run_cli(fresh_env, "fsck").exit_code == 0


def test_init_is_harmless_on_a_migrated_database(cli_env):
    result = run_cli(cli_env, "init")
    assert result.exit_code == 0, result.output
    assert head_revision() in result.stdout


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "args",
    [
        ["ingest", "FILE"],
        ["import-cif", "CIF"],
        ["export"],
        ["release", "--version", "20260101"],
        ["fsck"],
        ["fsck", "--json"],
    ],
    ids=" ".join,
)
def test_commands_refuse_a_database_that_was_never_initialised(
    fresh_env, tmp_path, heasarc_dir, args
):
    arguments = {
        "FILE": write_calfile(tmp_path / "mxt_gain_v1.fits", MXT_GAIN),
        "CIF": heasarc_dir / SWIFT_CIF,
    }
    result = run_cli(fresh_env, *(arguments.get(arg, arg) for arg in args))
    assert result.exit_code == 6, result.output
    assert "caldb-server init" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "fresh").exists()  # no database, tree or instance folder made


def test_serve_refuses_a_database_that_was_never_initialised(fresh_env):
    result = run_program(fresh_env, "serve", "--port", _free_port(), timeout=60)
    assert result.returncode == 6, result.stderr
    assert "caldb-server init" in result.stderr


def test_ingest_reports_each_file_and_keeps_the_good_ones(cli_env, tmp_path, client):
    files = _files(
        tmp_path,
        **{
            "mxt_gain_v1.fits": [MXT_GAIN],
            "mxt_bad_v1.fits": [{**MXT_GAIN, "CCNM0001": None}],
            "mxt_cti_v1.fits": [CTI, {**CTI, "CVSD0001": "2025-01-01"}],
        },
    )
    result = run_program(cli_env, "ingest", *files)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "mxt_gain_v1.fits: indexed, 1 dataset(s): MXT/GAIN[1]" in result.stdout
    assert "mxt_cti_v1.fits: indexed, 2 dataset(s): MXT/CTI[1] MXT/CTI[2]" in result.stdout
    assert "mxt_bad_v1.fits: refused" in result.stderr
    assert "CCNM0001" in result.stderr
    assert "mxt_bad" not in result.stdout
    for codename, count in [("GAIN", 1), ("CTI", 2)]:
        found = client.get(f"/api/v1/search?instrument=MXT&codename={codename}&date=-")
        assert found.get_json()["nfound"] == count
    again = run_cli(cli_env, "ingest", files[0])
    assert again.exit_code == 0, again.output
    assert "mxt_gain_v1.fits: already indexed" in again.stdout


def test_ingest_supersede_withdraws_the_duplicated_dataset(cli_env, tmp_path, client):
    first, second = _files(
        tmp_path,
        **{
            "mxt_gain_v1.fits": [MXT_GAIN],
            "mxt_gain_v2.fits": [{**MXT_GAIN, "CDES0001": "MXT gain, corrected"}],
        },
    )
    assert run_cli(cli_env, "ingest", first).exit_code == 0
    search = "/api/v1/search?instrument=MXT&codename=GAIN&date=-"
    (old,) = client.get(search).get_json()["results"]
    refused = run_cli(cli_env, "ingest", second)
    assert refused.exit_code == 4, refused.output  # a conflict with what is stored
    assert "mxt_gain_v2.fits: refused" in refused.stderr
    assert f"duplicates dataset {old['id']} (mxt_gain_v1.fits[1])" in refused.stderr
    replaced = run_cli(cli_env, "ingest", "--supersede", second)
    assert replaced.exit_code == 0, replaced.output
    assert client.get(f"/api/v1/datasets/{old['id']}").get_json()["cal_qual"] == 5
    found = client.get(search).get_json()
    assert [d["cal_file"] for d in found["results"]] == ["mxt_gain_v2.fits"]


def test_import_cif_reports_what_it_did(cli_env, heasarc_dir, tmp_path):
    root = tmp_path / "swift"
    (root / "data/swift/xrt/cpf/rmf").mkdir(parents=True)
    (root / "data/swift/xrt/cpf/rmf/swxpc0to12s6_20130101v014.rmf.gz").symlink_to(
        heasarc_dir / RMF_GZ
    )
    cif = heasarc_dir / SWIFT_CIF
    first = run_cli(cli_env, "import-cif", cif)
    assert first.exit_code == 0, first.output
    assert "699 rows, 699 datasets added, 0 already present" in first.stdout
    assert "0 files stored, 397 files not held" in first.stdout
    second = run_cli(cli_env, "import-cif", cif, "--files-root", root)
    assert second.exit_code == 0, second.output
    assert "0 datasets added, 699 already present (0 quality changes)" in second.stdout
    assert "1 files stored, 396 files not held" in second.stdout


@pytest.fixture
def populated(app, client, uploader, heasarc_dir, tmp_path):
    """Two MXT files uploaded and part of the Swift XRT index imported; returns the root."""
    for name, keywords in [("mxt_gain_v1.fits", MXT_GAIN), ("mxt_cti_v1.fits", CTI)]:
        assert upload(client, calfile_bytes(keywords), name, headers=uploader).status_code == 201
    subset = tmp_path / "caldb.indx20160609"
    write_cif(read_cif(heasarc_dir / SWIFT_CIF).rows[:SWIFT_SUBSET], subset, caldbver="20160609")
    services = extension(app)
    with services.database.unit_of_work() as session:
        import_cif(session, services.storage, subset, files_root=None, actor="test", now=utcnow())
    return services.storage.root


def _served(client, path):
    response = client.get(path)
    assert response.status_code == 200
    data = response.get_data()
    response.close()
    return data


def test_export_writes_a_complete_local_caldb(cli_env, populated, client):
    result = run_cli(cli_env, "export")
    assert result.exit_code == 0, result.output
    # Every index of the catalogue or the registry (registered empty ones as empty CIFs).
    registered = {
        entry[2] for entry in load_registry(Path(cli_env["CALDB_REGISTRY"])).index_entries()
    }
    indexes = sorted(registered | {"data/svom/mxt", "data/swift/xrt"})
    expected = [f"{index}/caldb.indx" for index in indexes]
    expected += ["software/tools/caldb.config", "software/tools/alias_config.fits"]
    assert sorted(result.stdout.split()) == sorted(str(populated / p) for p in expected)
    assert read_cif(populated / "data/svom/vt/caldb.indx").rows == []
    for index in ("data/svom/mxt", "data/swift/xrt"):
        exported = read_cif(populated / index / "caldb.indx")
        served = read_cif(io.BytesIO(_served(client, f"/caldb/{index}/caldb.indx")))
        assert exported == served
    config = (populated / "software/tools/caldb.config").read_text()
    assert config == _served(client, "/caldb/software/tools/caldb.config").decode()
    entries = parse_caldb_config(config)
    assert ("SVOM", "MXT", "data/svom/mxt", "caldb.indx") in entries
    assert ("SWIFT", "XRT", "data/swift/xrt", "caldb.indx") in entries
    aliases = read_alias_config(populated / "software/tools/alias_config.fits")
    assert aliases["SVOM"] == {"ECLAIRS": ("ECL",)}
    assert run_cli(cli_env, "fsck").exit_code == 0  # exported indexes are not strays


@pytest.mark.parametrize(
    "case",
    [
        (["export", "--index", "data/svom/mxt"], "--index and --output go together"),
        (["release", "--version", "2026"], "YYYYMMDD"),
        (["release", "--version", "2026010a"], "YYYYMMDD"),
        (["ingest", "no_such_file.fits"], "does not exist"),
        (["ingest"], "Missing argument"),
        (["import-cif", "no_such.indx"], "does not exist"),
        (["create-token", "--role", "superuser"], "Invalid value for '--role'"),
        (["create-token"], "Missing option '--role'"),
        (["create-token", "--role", "reader", "--days", "0"], "--days"),
        (["create-token", "--role", "reader", "--sub", "x" * 201], "1 to 200 characters"),
        (["fsck", "--repare"], "No such option"),
    ],
    ids=lambda case: " ".join(case[0]),
)
def test_usage_errors_exit_2_before_touching_the_database(fresh_env, tmp_path, case):
    args, message = case
    result = run_cli(
        fresh_env, *(str(tmp_path / a) if a.startswith("no_such") else a for a in args)
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--index", "data/svom/nope", "--output", "x.indx"],
        ["release", "--index", "data/svom/nope", "--version", "20260101"],
    ],
    ids=" ".join,
)
def test_unknown_index_exits_5(cli_env, tmp_path, args):
    result = run_cli(cli_env, *(str(tmp_path / a) if a.endswith(".indx") else a for a in args))
    assert result.exit_code == 5, result.output
    assert "there is no index data/svom/nope" in result.stderr
    assert result.stdout == ""


def test_export_of_one_index_writes_only_that_file(cli_env, populated, tmp_path, client):
    output = tmp_path / "mxt.indx"
    result = run_cli(cli_env, "export", "--index", "data/svom/mxt", "--output", output)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(output)
    served = read_cif(io.BytesIO(_served(client, "/caldb/data/svom/mxt/caldb.indx")))
    assert read_cif(output) == served
    assert not (populated / "software").exists()


def test_release_freezes_every_index_once(cli_env, populated, client):
    result = run_cli(cli_env, "release", "--version", "20260101")
    assert result.exit_code == 0, result.output
    lines = sorted(result.stdout.splitlines())
    assert len(lines) == 2
    for line, (index, rows) in zip(
        lines, [("data/svom/mxt", 2), ("data/swift/xrt", SWIFT_SUBSET)], strict=True
    ):
        path = f"{index}/index/caldb.indx20260101"
        data = (populated / path).read_bytes()
        assert line == f"{path}: {rows} rows, sha256 {hashlib.sha256(data).hexdigest()}"
        assert _served(client, f"/caldb/{path}") == data
        assert read_cif(io.BytesIO(data)).caldbver == "20260101"
    again = run_cli(cli_env, "release", "--version", "20260101", "--index", "data/svom/mxt")
    assert again.exit_code == 4, again.output
    assert "exists already" in again.stderr
    assert run_cli(cli_env, "fsck").exit_code == 0


def test_release_of_several_indexes_is_all_or_nothing(cli_env, populated):
    first = run_cli(cli_env, "release", "--version", "20260101", "--index", "data/swift/xrt")
    assert first.exit_code == 0, first.output
    result = run_cli(cli_env, "release", "--version", "20260101")
    assert result.exit_code == 4, result.output
    assert "data/swift/xrt exists already" in result.stderr
    assert result.stdout == ""  # nothing was released, so nothing is reported as released
    assert not (populated / "data/svom/mxt/index").exists()
    assert list((populated / ".incoming").iterdir()) == []
    assert run_cli(cli_env, "fsck").stdout.endswith("2 files and 1 releases verified\n")


def test_create_token_prints_only_a_valid_token_and_records_it(cli_env, client, make_token):
    result = run_program(cli_env, "create-token", "--role", "uploader", "--sub", "bob", "--days", 2)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    principal = verify_token(token, SECRET, issuer="svom-caldb")
    assert principal.subject == "bob"
    assert principal.roles == frozenset({"uploader"})
    claims = jwt.decode(token, options={"verify_signature": False})
    assert timedelta(seconds=claims["exp"] - claims["iat"]) == timedelta(days=2)
    assert f"token id {claims['jti']}" in result.stderr
    admin = {"Authorization": f"Bearer {make_token('admin')}"}
    listed = client.get("/api/v1/auth/tokens?subject=bob", headers=admin).get_json()["tokens"]
    assert [(t["jti"], t["roles"]) for t in listed] == [(claims["jti"], ["uploader"])]
    assert listed[0]["issued_by"].startswith("cli:")


def test_create_token_accepts_several_roles_and_signs_for_the_server(cli_env, client, tmp_path):
    result = run_cli(cli_env, "create-token", "--role", "reader", "--role", "uploader")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert verify_token(token, SECRET, issuer="svom-caldb").roles == {"reader", "uploader"}
    content = write_calfile(tmp_path / "mxt_gain_v1.fits", MXT_GAIN).read_bytes()
    response = client.post(
        "/api/v1/files",
        data={"file": (io.BytesIO(content), "mxt_gain_v1.fits")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_json()


def test_fsck_passes_on_a_good_tree(cli_env, populated):
    result = run_cli(cli_env, "fsck")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "consistent: 2 files and 0 releases verified"
