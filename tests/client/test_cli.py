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

import caldb_server
import caldbio as caldbio_package
from caldb_server.web import extension
from caldbio.cli import NOTHING_FOUND, _parser, main
from tests.client.cli_run import caldbio
from tests.helpers import MXT_GAIN, add_user, calfile_bytes

PROGRAM = Path(sys.executable).parent / "caldbio"
PASSWORD = "a long enough password"


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


def test_unknown_names_exit_not_found_and_name_the_known_ones(env, capsys):
    code, out, err = caldbio(capsys, "search", "MXR", "GAIN")
    assert (code, out) == (5, "")
    assert "unknown instrument MXR of SVOM; known instruments of SVOM: ECL" in err
    assert "MXT" in err
    code, out, err = caldbio(capsys, "search", "MXT", "GAINS")
    assert (code, out) == (5, "")
    assert "unknown codename GAINS of MXT; known codenames of MXT: BADPIX" in err
    assert len(err.splitlines()) == 1  # the item repeating the detail is not printed
    args = ("quzcif", "SVOM", "MXT", "-", "-", "GAINS", "-", "-", "-")
    code, out, err = caldbio(capsys, *args)
    assert (code, out) == (5, "")
    assert "known codenames of MXT" in err


def test_quzcif_with_nothing_valid_says_so_with_its_own_exit_code(env, capsys):
    caldbio(capsys, "upload", env / "gain_v1.fits")
    args = ("quzcif", "SVOM", "MXT", "-", "-", "GAIN", "2024-01-01", "00:00:00", "-")
    code, out, err = caldbio(capsys, *args)
    assert (code, out) == (NOTHING_FOUND, "")
    assert err == "caldbio quzcif: no datasets found matching selection criteria\n"
    code, out, _ = caldbio(capsys, "search", "MXT", "GAIN", "--date", "2024-01-01")
    assert code == 0
    assert out.splitlines()[-1] == "nfound=0"


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
        (["upload", "{missing}"], None, 2, "no such file: "),
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


GLOBAL_OPTIONS = {
    "--json": ("json", True),
    "--offline": ("offline", True),
    "--url": ("url", "http://caldb.invalid"),
    "--max-tries": ("max_tries", 3),
    "--cache-dir": ("cache_dir", Path("/somewhere")),
}
SUB_COMMANDS = {
    "search": ["MXT", "GAIN"],
    "get": ["MXT", "GAIN"],
    "upload": ["a.fits"],
    "upload-onboard": ["a.yaml"],
    "quzcif": ["SVOM", "MXT", "-", "-", "GAIN", "-", "-", "-"],
    "login": [],
    "sync": ["MXT"],
    "info": [],
}


@pytest.mark.parametrize("command", sorted(SUB_COMMANDS))
def test_global_options_are_accepted_after_the_sub_command(command):
    parser = _parser()
    arguments = SUB_COMMANDS[command]
    defaults = vars(parser.parse_args([command, *arguments]))
    assert {defaults[name] for name, _ in GLOBAL_OPTIONS.values()} == {None, False, 5}
    for option, (name, value) in GLOBAL_OPTIONS.items():
        given = [] if value is True else [str(value)]
        before = vars(parser.parse_args([option, *given, command, *arguments]))
        after = vars(parser.parse_args([command, *arguments, option, *given]))
        assert before[name] == after[name] == value, option
        assert before == after
        # Given before the command, the sub-command's absent option does not reset it.
        assert before == defaults | {name: value}


def test_the_readme_search_line_runs_with_json_last(env, capsys):
    caldbio(capsys, "upload", env / "gain_v1.fits", env / "gain_v2.fits")
    code, out, _ = caldbio(capsys, "search", "MXT", "gain", "--date", "2025-07-01", "--json")
    assert code == 0
    assert json.loads(out)["results"][0]["cal_file"] == "gain_v2.fits"
    code, out, _ = caldbio(capsys, "info", "--json")
    assert code == 0
    assert json.loads(out)["url"] == os.environ["CALDB_URL"]


def test_version_is_the_distribution_version(capsys):
    assert caldbio_package.__version__ == caldb_server.__version__
    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    assert raised.value.code == 0
    assert capsys.readouterr().out == f"caldbio {caldb_server.__version__}\n"


def test_instruments_lists_codenames_and_onboard_codenames(env, capsys):
    caldbio(capsys, "upload", env / "gain_v1.fits", env / "gain_v2.fits")
    code, out, _ = caldbio(capsys, "instruments")
    assert code == 0
    mxt = out.split("\n\n")[0].splitlines()
    assert mxt[0].startswith("SVOM MXT: Microchannel X-ray Telescope")
    assert mxt[0].endswith("(2 good of 2 datasets)")
    assert mxt[1] == "  codenames:"
    assert any(line.split()[:2] == ["GAIN", "2/2"] and "Per-column gain" in line for line in mxt)
    assert any(line.split()[:2] == ["TELDEF", "0/0"] for line in mxt)
    assert "  onboard codenames:" in mxt
    assert any(line.split()[0] == "EVTTHR" and "onboard event finder" in line for line in mxt)
    assert "SVOM VT: Visible Telescope" in out
    assert "EXPSEQ" in out
    assert "SVOM aliases: ECLAIRS = ECL" in out
    code, out, _ = caldbio(capsys, "instruments", "--mission", "svom", "--json")
    (mission,) = json.loads(out)["missions"]
    names = {i["name"]: i for i in mission["instruments"]}
    assert {"MXT", "ECL", "VT"} <= set(names)
    assert {c["name"] for c in names["VT"]["onboard"]} == {"EXPSEQ"}
    code, out, err = caldbio(capsys, "instruments", "--mission", "HXMT")
    assert (code, out) == (5, "")
    assert "no mission HXMT (known: SVOM" in err


def test_explain_says_why_each_other_candidate_lost(env, capsys, server):
    caldbio(capsys, "upload", env / "gain_v1.fits", env / "gain_v2.fits")
    code, out, _ = caldbio(capsys, "search", "MXT", "GAIN", "--date", "2025-01-01", "--explain")
    assert code == 0
    lines = out.splitlines()
    assert "gain_v1.fits[1]" in lines[1]
    assert lines[2] == "nfound=1"
    assert lines[3] == "not chosen:"
    assert lines[4].split()[:4] == ["id", "file[xno]", "reason", "why"]
    (rejected,) = lines[5:]
    assert rejected.split()[1:3] == ["gain_v2.fits[1]", "later_validity"]
    assert "valid from 2025-06-01T00:00:00" in rejected
    assert "after the requested time" in rejected
    code, out, _ = caldbio(
        capsys, "search", "MXT", "GAIN", "--date", "2025-07-01", "--explain", "--json"
    )
    (item,) = json.loads(out)["explain"]
    assert (item["cal_file"], item["reason"]) == ("gain_v1.fits", "superseded")
    assert "superseded by the later start 2025-06-01" in item["detail"]
    code, out, _ = caldbio(capsys, "search", "MXT", "GAIN", "--date", "2025-07-01")
    assert "not chosen" not in out
    code, out, _ = caldbio(capsys, "--json", "search", "MXT", "GAIN", "--date", "2025-07-01")
    assert "explain" not in json.loads(out)
    args = ("quzcif", "SVOM", "MXT", "-", "-", "GAIN", "2025-07-01", "00:00:00", "-", "--explain")
    code, out, err = caldbio(capsys, *args)
    assert (code, out) == (0, f"{server.url}/caldb/data/svom/mxt/bcf/gain/gain_v2.fits 1\n")
    assert err.splitlines()[0] == "not chosen:"
    assert "gain_v1.fits[1]" in err
    assert "superseded" in err
    code, out, err = caldbio(capsys, "search", "MXT", "GAIN", "--date", "2024-01-01", "--explain")
    lines = out.splitlines()
    assert lines[1:3] == ["nfound=0", "not chosen:"]
    assert [line.split()[1:3] for line in lines[4:]] == [
        ["gain_v1.fits[1]", "later_validity"],
        ["gain_v2.fits[1]", "later_validity"],
    ]
