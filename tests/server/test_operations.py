"""Operating a CalDB: clear refusals, nothing created by refused commands, private files,
killed uploads cleaned at start (never a live one), and what revoke-token tells.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from caldb_server import create_app
from caldb_server.auth.records import is_revoked
from caldb_server.cli import main
from caldb_server.db import Database
from caldb_server.fsck import GRACE_SECONDS
from caldb_server.storage import Storage
from caldb_server.web import extension
from tests.conftest import SECRET
from tests.helpers import (
    MXT_GAIN,
    assert_problem,
    calfile_bytes,
    tree_files,
    upload,
    write_calfile,
)

PROGRAM = Path(sys.executable).with_name("caldb-server")
PROJECT = Path(__file__).resolve().parents[2]
UNREACHABLE = "postgresql://postgres:sekrit@127.0.0.1:1/caldb"
EXIT_NOT_INITIALISED, EXIT_UNAVAILABLE = 6, 7


def run_cli(env, *args, stdin=None):
    return CliRunner().invoke(
        main, [str(arg) for arg in args], env=env, input=stdin, catch_exceptions=False
    )


def run_program(env, *args, timeout=60):
    """The installed ``caldb-server``, with only the given CALDB_* settings."""
    if not PROGRAM.is_file():
        pytest.skip(f"{PROGRAM} is not installed (pip install -e .[server])")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CALDB_")}
    return subprocess.run(
        [str(PROGRAM), *map(str, args)],
        env=environment | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def snapshot(directory: Path) -> list[tuple[str, int, int]]:
    """Every entry under ``directory``: path, mode and size (directories: size 0)."""
    return sorted(
        (
            str(path.relative_to(directory)),
            path.stat().st_mode,
            0 if path.is_dir() else path.stat().st_size,
        )
        for path in [directory, *directory.rglob("*")]
    )


def refused_commands(files: Path) -> dict[str, tuple[list[str], str | None]]:
    """Commands that need an initialised, reachable database: arguments and stdin."""
    fits = write_calfile(files / "mxt_gain_v1.fits", MXT_GAIN)
    return {
        "ingest": (["ingest", fits], None),
        "import-cif": (["import-cif", fits], None),
        "export": (["export"], None),
        "release": (["release", "--version", "20260101"], None),
        "fsck": (["fsck", "--repair"], None),
        "create-user": (["create-user", "pat", "--role", "reader"], "correct horse battery\n"),
        "create-token": (["create-token", "--role", "reader", "--sub", "robot"], None),
        "revoke-token": (["revoke-token", "some-jti"], None),
        "demo-data": (["demo-data"], None),
        "deliver": (["deliver", "--once"], None),
    }


COMMANDS = [
    "ingest",
    "import-cif",
    "export",
    "release",
    "fsck",
    "create-user",
    "create-token",
    "revoke-token",
    "demo-data",
    "deliver",
]


# -- an unreachable database: one line, exit 7, for every command -----------------------------


@pytest.fixture
def unreachable_env(tmp_path):
    return {
        "CALDB_DATABASE_URL": UNREACHABLE,
        "CALDB_SECRET_KEY": SECRET,
        "CALDB_INSTANCE_PATH": str(tmp_path / "instance"),
        "CALDB_ROOT": str(tmp_path / "tree"),
    }


def assert_one_unavailable_line(stderr: str) -> None:
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith(
        "error: the database postgresql://postgres:***@127.0.0.1:1/caldb is unavailable: "
    ), stderr
    assert "Connection refused" in stderr
    assert "sekrit" not in stderr  # the URL's password is hidden


@pytest.mark.parametrize("command", ["init", *COMMANDS])
def test_an_unreachable_database_is_one_line_and_exit_7(unreachable_env, tmp_path, command):
    files = tmp_path / "files"
    files.mkdir()
    args, stdin = refused_commands(files).get(command, ([command], None))
    result = run_cli(unreachable_env, *args, stdin=stdin)
    assert result.exit_code == EXIT_UNAVAILABLE, result.output
    assert_one_unavailable_line(result.stderr)
    assert result.stdout == ""


def test_serve_with_an_unreachable_database_is_one_line_and_exit_7(unreachable_env):
    result = run_program(unreachable_env, "serve", "--port", "1")
    assert result.returncode == EXIT_UNAVAILABLE, result.stderr
    assert_one_unavailable_line(result.stderr)
    assert "Traceback" not in result.stderr


def test_a_bad_setting_is_one_line_and_exit_2(unreachable_env):
    result = run_cli(unreachable_env | {"CALDB_MAX_UPLOAD_MB": "lots"}, "fsck")
    assert result.exit_code == 2
    assert result.stderr == "error: CALDB_MAX_UPLOAD_MB must be an integer, got 'lots'\n"


# -- a never-initialised instance: refused, and left exactly as it was -----------------------


@pytest.fixture
def blank_instance(tmp_path):
    """An instance folder an operator made (with a note in it), never initialised."""
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "NOTES").write_text("for the CalDB\n")
    return instance


@pytest.mark.parametrize("secret", ["generated by init", "CALDB_SECRET_KEY"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_refused_command_leaves_a_blank_instance_as_it_was(
    blank_instance, tmp_path, command, secret
):
    env = {"CALDB_INSTANCE_PATH": str(blank_instance)}  # every other setting by default
    if secret == "CALDB_SECRET_KEY":
        env["CALDB_SECRET_KEY"] = SECRET
    files = tmp_path / "files"
    files.mkdir()
    args, stdin = refused_commands(files)[command]
    before = snapshot(blank_instance)
    result = run_cli(env, *args, stdin=stdin)
    assert result.exit_code == EXIT_NOT_INITIALISED, result.output
    assert "run 'caldb-server init'" in result.stderr
    assert result.stderr.count("\n") == 1
    assert snapshot(blank_instance) == before


@pytest.mark.parametrize("secret", ["generated by init", "CALDB_SECRET_KEY"])
def test_serve_refused_on_a_blank_instance_leaves_it_as_it_was(blank_instance, secret):
    env = {"CALDB_INSTANCE_PATH": str(blank_instance)}
    if secret == "CALDB_SECRET_KEY":
        env["CALDB_SECRET_KEY"] = SECRET
    before = snapshot(blank_instance)
    result = run_program(env, "serve", "--port", "1")
    assert result.returncode == EXIT_NOT_INITIALISED, result.stderr
    assert "caldb-server init" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(blank_instance) == before


def test_a_server_on_a_blank_instance_answers_503_and_creates_nothing(blank_instance):
    before = snapshot(blank_instance)
    app = create_app({"INSTANCE_PATH": blank_instance, "SECRET_KEY": SECRET})
    try:
        client = app.test_client()
        health = client.get("/api/v1/health")
        assert health.status_code == 503
        assert health.headers["Retry-After"] == "5"
        assert_problem(client.get("/api/v1/search?instrument=MXT&codename=GAIN"), 503)
        assert client.get("/caldb/data/svom/mxt/caldb.indx").status_code == 503
    finally:
        extension(app).database.dispose()
    assert snapshot(blank_instance) == before


def test_init_creates_the_instance_with_private_database_and_secret(blank_instance, tmp_path):
    env = {"CALDB_INSTANCE_PATH": str(blank_instance)}
    result = run_cli(env, "init")
    assert result.exit_code == 0, result.output
    assert "note:" not in result.stderr
    database, secret = blank_instance / "caldb.sqlite", blank_instance / "secret_key"
    assert database.stat().st_mode & 0o777 == 0o600
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (blank_instance / "caldb" / "data").is_dir()
    # The write-ahead log and shared memory of a running server are as private.
    server_database = Database(f"sqlite:///{database}")
    try:
        with server_database.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE probe (x INTEGER)")
            companions = [database.with_name(database.name + s) for s in ("-wal", "-shm")]
            assert all(path.exists() for path in companions)
            assert [p.stat().st_mode & 0o777 for p in companions] == [0o600, 0o600]
    finally:
        server_database.dispose()
    files = tmp_path / "files"
    files.mkdir()
    ingested = run_cli(env, "ingest", write_calfile(files / "mxt_gain_v1.fits", MXT_GAIN))
    assert ingested.exit_code == 0, ingested.output


def test_init_tells_about_a_database_others_can_read(blank_instance):
    env = {"CALDB_INSTANCE_PATH": str(blank_instance)}
    database = blank_instance / "caldb.sqlite"
    database.touch(mode=0o644)
    database.chmod(0o644)
    result = run_cli(env, "init")
    assert result.exit_code == 0, result.output
    assert f"note: {database} (password hashes, token records) has mode 0644" in result.stderr
    assert database.stat().st_mode & 0o777 == 0o644  # told, not changed behind one's back


# -- uploads left by killed processes: removed at start, never a live one ----------------------

HOLDER = """
import io, sys
from pathlib import Path
from caldb_server.storage import Storage

received = Storage(Path(sys.argv[1])).write_incoming(io.BytesIO(b"x" * 65536), "big.fits")
print(received.path, flush=True)
sys.stdin.read()  # holds the received file until the test lets go
"""


def start_holder(root: Path) -> tuple[subprocess.Popen, Path]:
    """Another process that has received a file into ``root``'s .incoming and holds it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)],
        cwd=PROJECT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line, "the holder process failed"
    return process, Path(line.strip())


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdin.close()
    process.stdout.close()


def lock_files(root: Path) -> list[str]:
    return sorted(path.name for path in (root / ".writers").glob("*.lock"))


def test_starting_removes_what_killed_processes_left_and_keeps_live_uploads(app_config):
    root = Path(app_config["ROOT"])
    live, live_part = start_holder(root)
    dead, dead_part = start_holder(root)
    try:
        kill(dead)  # SIGKILLed mid-upload: the kernel drops its lock, its bytes stay
        legacy = root / ".incoming" / "0123456789abcdef.part"  # named by an older version
        legacy.write_bytes(b"half an upload")
        assert len(lock_files(root)) == 2
        assert {dead_part, live_part} <= set((root / ".incoming").iterdir())

        app = create_app(app_config)  # a server (or a gunicorn worker) starting
        extension(app).database.dispose()
        assert not dead_part.exists()
        assert live_part.read_bytes() == b"x" * 65536  # a live process's file is never touched
        assert legacy.exists()  # not a writer's file: fsck --repair judges it by its age
        assert lock_files(root) == [f"{live_part.name.split('.')[0]}.lock"]

        assert Storage(root).remove_stale_parts() == []  # again: still nothing of the live one
        assert live_part.exists()
    finally:
        kill(live)
    removed = Storage(root).remove_stale_parts()
    assert removed == [str(live_part.relative_to(root))]
    assert lock_files(root) == []


def test_a_writer_lock_that_cannot_be_opened_keeps_its_files_and_the_start_goes_on(tmp_path):
    # Another account's lock (a CLI run as root, 0644) cannot be opened read-write; tests run
    # as root, so a directory in its place stands for it: opening it fails the same way.
    root = tmp_path / "tree"
    writer = "0123456789abcdef"
    (root / ".writers" / f"{writer}.lock").mkdir(parents=True)
    part = root / ".incoming" / f"{writer}.{'a' * 32}.part"
    part.parent.mkdir()
    part.write_bytes(b"someone else's upload")
    assert Storage(root).remove_stale_parts() == []
    assert part.exists()


def test_fsck_repair_never_deletes_a_live_upload_however_old(app_config, app):
    root = Path(app_config["ROOT"])
    env = {f"CALDB_{k}": str(v) for k, v in app_config.items() if k != "TESTING"}
    live, part = start_holder(root)
    try:
        stat = part.stat()
        os.utime(part, (stat.st_atime, stat.st_mtime - 2 * GRACE_SECONDS))  # a very slow upload
        result = run_cli(env, "fsck", "--repair", "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        relative = str(part.relative_to(root))
        assert [(f["kind"], f["path"]) for f in report["findings"]] == [("temporary", relative)]
        assert report["repaired"] == []
        assert part.exists()
    finally:
        kill(live)


def test_a_file_held_in_this_process_survives_another_app_starting(app_config, app):
    root = Path(app_config["ROOT"])
    received = Storage(root).write_incoming(io.BytesIO(b"held"), "held.fits")
    try:
        other = create_app(app_config)
        extension(other).database.dispose()
        assert received.path.read_bytes() == b"held"
        assert Storage(root).part_in_use(received.path)
    finally:
        received.discard()
    assert not received.path.exists()
    assert lock_files(root) == []  # the last file released the lock file too


def test_an_upload_leaves_neither_its_file_nor_a_lock(app_config, client, uploader):
    root = Path(app_config["ROOT"])
    response = upload(client, calfile_bytes(MXT_GAIN), "mxt_gain_v1.fits", headers=uploader)
    assert response.status_code == 201, response.get_json()
    assert tree_files(root) == ["data/svom/mxt/bcf/gain/mxt_gain_v1.fits"]
    assert lock_files(root) == []


# -- revoke-token says what it did ----------------------------------------------------------


@pytest.fixture
def cli_env(app_config, app):
    return {f"CALDB_{k}": str(v) for k, v in app_config.items() if k != "TESTING"}


def test_revoking_a_jti_never_issued_here_says_so(cli_env, app):
    result = run_cli(cli_env, "revoke-token", "not-ours-123")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "jti not-ours-123 was never issued here; recorded as revoked (external token)\n"
    )
    assert "no identity provider is configured" in result.stderr  # a mistyped jti?
    with extension(app).database.unit_of_work(write=False) as session:
        assert is_revoked(session, "not-ours-123")  # an identity provider's token is refused
    again = run_cli(cli_env, "revoke-token", "not-ours-123")
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith(
        "jti not-ours-123 was never issued here; already recorded as revoked at "
    )


def test_revoking_an_external_jti_with_an_identity_provider_is_plain(cli_env, tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    env = cli_env | {
        "CALDB_OIDC_ISSUER": "https://idp.example",
        "CALDB_OIDC_AUDIENCE": "caldb",
        "CALDB_OIDC_JWKS": str(jwks),
    }
    result = run_cli(env, "revoke-token", "idp-token-7")
    assert result.exit_code == 0, result.output
    assert "(external token)" in result.stdout
    assert result.stderr == ""


def test_revoking_a_token_issued_here_twice(cli_env):
    created = run_cli(cli_env, "create-token", "--role", "reader", "--sub", "robot")
    assert created.exit_code == 0, created.output
    jti = created.stderr.split()[2].rstrip(",")
    first = run_cli(cli_env, "revoke-token", jti, "--actor", "ops")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith(f"token {jti} revoked at ")
    second = run_cli(cli_env, "revoke-token", jti)
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith(f"token {jti} was already revoked at ")
    assert second.stdout.endswith(" by ops\n")
