"""The ``caldbio`` command line against a real server: output for people and scripts,
exit codes per failure kind, in process and as the installed program."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from caldb_server.web import extension
from caldbio.cli import main
from tests.helpers import MXT_GAIN, add_user, calfile_bytes

PROGRAM = Path(sys.executable).parent / "caldbio"
PASSWORD = "a long enough password"


@pytest.fixture
def env(server, tmp_path, monkeypatch, clean_environment, make_token):
    """CALDB_URL of the test server, an uploader token, and two GAIN epochs uploaded."""
    monkeypatch.setenv("CALDB_URL", server.url)
    monkeypatch.setenv("CALDBIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CALDB_TOKEN", make_token("uploader"))
    for name, valid_from in [("gain_v1.fits", "2024-06-22"), ("gain_v2.fits", "2025-06-01")]:
        (tmp_path / name).write_bytes(calfile_bytes(MXT_GAIN | {"CVSD0001": valid_from}))
    return tmp_path


def caldbio(capsys, *args, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", _Lines(stdin))
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


class _Lines:
    def __init__(self, text):
        self.lines = text.splitlines(keepends=True)

    def isatty(self):
        return False

    def readline(self):
        return self.lines.pop(0) if self.lines else ""


def test_upload_search_get_and_json(env, capsys, tmp_path):
    code, out, _ = caldbio(capsys, "upload", env / "gain_v1.fits", env / "gain_v2.fits")
    assert code == 0
    assert out.splitlines() == [
        "gain_v1.fits: indexed: MXT/GAIN[1]",
        "gain_v2.fits: indexed: MXT/GAIN[1]",
    ]
    code, out, _ = caldbio(capsys, "upload", env / "gain_v1.fits")
    assert (code, out) == (0, "gain_v1.fits: already indexed: MXT/GAIN[1]\n")
    code, out, _ = caldbio(capsys, "search", "mxt", "gain", "--date", "2025-07-01")
    assert code == 0
    header, row, summary = out.splitlines()
    assert header.split()[:2] == ["id", "file[xno]"]
    assert "gain_v2.fits[1]" in row
    assert "2025-06-01 00:00:00" in row
    assert summary == "nfound=1"
    code, out, _ = caldbio(capsys, "--json", "search", "MXT", "GAIN", "--date", "2024-12-01")
    document = json.loads(out)
    assert document["nfound"] == 1
    assert document["results"][0]["cal_file"] == "gain_v1.fits"
    code, out, _ = caldbio(
        capsys, "get", "MXT", "GAIN", "--date", "2025-07-01", "-o", tmp_path / "here"
    )
    assert (code, out) == (0, f"{tmp_path / 'here' / 'gain_v2.fits'}\n")
    assert (tmp_path / "here" / "gain_v2.fits").read_bytes() == (env / "gain_v2.fits").read_bytes()


def test_upload_onboard_from_the_command_line(env, capsys):
    name = "VT_EXPSEQ_20250101T000000_V01.yaml"
    (env / name).write_text("blue: {exposures_s: [10, 20]}\nred: {exposures_s: [15]}\n")
    code, out, _ = caldbio(capsys, "upload-onboard", env / name)
    assert (code, out) == (0, f"{name}: indexed: VT/EXPSEQ[0]\n")
    (env / "VT_EXPSEQ_20250101T000000_V02.yaml").write_text("blue: {exposures_s: [-1]}\n")
    code, out, err = caldbio(capsys, "upload-onboard", env / "VT_EXPSEQ_20250101T000000_V02.yaml")
    assert (code, out) == (3, "")
    assert "schema" in err


def test_quzcif_prints_path_and_extension_lines(env, capsys, server, tmp_path, monkeypatch):
    caldbio(capsys, "upload", env / "gain_v1.fits", env / "gain_v2.fits")
    args = ("quzcif", "SVOM", "MXT", "-", "-", "GAIN", "2025-07-01", "00:00:00", "-")
    code, out, _ = caldbio(capsys, *args)
    assert (code, out) == (0, f"{server.url}/caldb/data/svom/mxt/bcf/gain/gain_v2.fits 1\n")
    monkeypatch.chdir(tmp_path)
    code, out, _ = caldbio(capsys, *args, "--retrieve")
    assert (code, out) == (0, f"{tmp_path / 'gain_v2.fits'} 1\n")
    code, out, err = caldbio(
        capsys, "quzcif", "SVOM", "MXT", "-", "-", "GAIN", "-", "-", "-", "--maxret", "1"
    )
    assert code == 0
    assert len(out.splitlines()) == 1
    assert "2 found, 1 returned" in err


def test_login_keeps_a_private_token_that_later_commands_use(
    env, capsys, server, monkeypatch, tmp_path
):
    add_user(extension(server.app).database, "carol", PASSWORD, "uploader")
    monkeypatch.delenv("CALDB_TOKEN")
    code, out, _ = caldbio(
        capsys, "login", "--username", "carol", stdin=PASSWORD + "\n", monkeypatch=monkeypatch
    )
    assert code == 0, out
    tokens = tmp_path / "config" / "tokens.json"
    assert f"saved in {tokens}" in out
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert PASSWORD not in tokens.read_text()
    code, out, _ = caldbio(capsys, "upload", env / "gain_v1.fits")
    assert code == 0
    code, out, _ = caldbio(capsys, "--json", "info")
    info = json.loads(out)
    assert info["whoami"]["subject"] == "carol"
    assert "caldbio login" in info["token_source"]
    code, _, err = caldbio(
        capsys, "login", "--username", "carol", stdin="wrong password\n", monkeypatch=monkeypatch
    )
    assert code == 6
    assert "password" in err


def test_sync_then_offline_search(env, capsys, server, monkeypatch):
    caldbio(capsys, "upload", env / "gain_v1.fits", env / "gain_v2.fits")
    code, out, _ = caldbio(capsys, "sync", "MXT")
    assert code == 0
    assert out.startswith("SVOM MXT: 2 datasets (2 good) in ")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    code, out, _ = caldbio(
        capsys,
        "--url",
        closed,
        "--offline",
        "--json",
        "search",
        "MXT",
        "GAIN",
        "--date",
        "2024-12-01",
    )
    assert code == 0
    assert json.loads(out)["results"][0]["cal_file"] == "gain_v1.fits"


@pytest.mark.parametrize(
    ("args", "setup", "code", "message"),
    [
        (["search", "MXT", "GAIN", "--date", "yesterday"], None, 3, "date"),
        (["upload", "{other}"], None, 4, "409"),
        (["get", "MXT", "TELDEF"], None, 5, "no TELDEF dataset"),
        (["upload", "{gain_v1}"], "no token", 6, "no token was found"),
        (["upload", "{gain_v1}"], "reader", 7, "'uploader' role"),
        (["--max-tries", "1", "search", "MXT", "GAIN"], "closed", 8, "no answer"),
        (["upload", "{missing}"], None, 1, "No such file"),
    ],
    ids=["validation", "conflict", "not found", "auth", "forbidden", "transport", "local file"],
)
def test_each_failure_kind_has_its_exit_code(
    env, capsys, monkeypatch, make_token, args, setup, code, message
):
    caldbio(capsys, "upload", env / "gain_v1.fits")
    other = env / "other" / "gain_v1.fits"
    other.parent.mkdir()
    other.write_bytes(calfile_bytes(MXT_GAIN | {"CDES0001": "other bytes"}))
    paths = {"other": other, "gain_v1": env / "gain_v1.fits", "missing": env / "missing.fits"}
    if setup == "no token":
        monkeypatch.delenv("CALDB_TOKEN")
    elif setup == "reader":
        monkeypatch.setenv("CALDB_TOKEN", make_token("reader"))
    elif setup == "closed":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            monkeypatch.setenv("CALDB_URL", f"http://127.0.0.1:{probe.getsockname()[1]}")
    result, out, err = caldbio(capsys, *(a.format(**paths) for a in args))
    assert (result, out) == (code, "")
    assert message in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(env, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["search", "MXT"])
    assert raised.value.code == 2
    assert "codename" in capsys.readouterr().err


def test_the_installed_program(env, server):
    if not PROGRAM.is_file():
        pytest.skip(f"{PROGRAM} is not installed (pip install -e .)")
    run = lambda *args: subprocess.run(  # noqa: E731
        [str(PROGRAM), *map(str, args)],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run("upload", env / "gain_v2.fits").returncode == 0
    found = run("--json", "search", "MXT", "GAIN", "--date", "2025-07-01")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["results"][0]["cal_file"] == "gain_v2.fits"
    missing = run("get", "MXT", "TELDEF")
    assert (missing.returncode, missing.stdout) == (5, "")
    assert missing.stderr.startswith("caldbio: ")
