"""The ``caldbio`` command line and local files: each upload command refuses the other's
kind of file, a missing file or a directory before anything is sent, and a bad path of
any command is said in one sentence."""

from __future__ import annotations

import pytest

from tests.client.cli_run import caldbio


def test_upload_onboard_from_the_command_line(env, capsys):
    name = "VT_EXPSEQ_20250101T000000_V01.yaml"
    (env / name).write_text("blue: {exposures_s: [10, 20]}\nred: {exposures_s: [15]}\n")
    code, out, _ = caldbio(capsys, "upload-onboard", env / name)
    assert (code, out) == (0, f"{name}: indexed: VT/EXPSEQ[0]\n")
    (env / "VT_EXPSEQ_20250101T000000_V02.yaml").write_text("blue: {exposures_s: [-1]}\n")
    code, out, err = caldbio(capsys, "upload-onboard", env / "VT_EXPSEQ_20250101T000000_V02.yaml")
    assert (code, out) == (3, "")
    assert "schema" in err


@pytest.mark.parametrize(
    ("command", "name", "message"),
    [
        ("upload", "VT_EXPSEQ_20250101T000000_V01.yaml", "'caldbio upload-onboard {path}'"),
        ("upload", "VT_EXPSEQ_20250101T000000_V01.YML", "'caldbio upload-onboard {path}'"),
        ("upload-onboard", "gain_v1.fits", "'caldbio upload {path}'"),
        ("upload-onboard", "gain_v1.fits.gz", "'caldbio upload {path}'"),
        ("upload", "missing.fits", "no such file: {path}"),
        ("upload-onboard", "missing.yaml", "no such file: {path}"),
        ("upload", "a-directory", "{path} is a directory"),
        ("upload-onboard", "a-directory", "{path} is a directory"),
    ],
)
def test_files_of_the_wrong_kind_or_missing_are_named_in_a_sentence(
    env, capsys, server, command, name, message
):
    path = env / name
    if name == "a-directory":
        path.mkdir()
    elif not name.startswith("missing"):
        path.write_bytes(b"blue: {exposures_s: [10]}\n")
    before = len(server.meter.paths)
    code, out, err = caldbio(capsys, command, path)
    assert (code, out) == (2, "")
    assert err.startswith("caldbio: ")
    assert len(err.splitlines()) == 1
    assert message.format(path=path) in err
    assert "Errno" not in err
    assert "ignore_missing_simple" not in err
    assert len(server.meter.paths) == before  # refused before anything was sent


def test_a_bad_file_refuses_the_whole_upload(env, capsys, server):
    code, _, err = caldbio(capsys, "upload", env / "gain_v1.fits", env / "missing.fits")
    assert code == 2
    assert "no such file" in err
    assert not [p for p in server.meter.paths if p.endswith("/files")]


def test_file_errors_of_other_commands_are_sentences(env, capsys):
    caldbio(capsys, "upload", env / "gain_v1.fits")
    (env / "a-file").write_text("")
    code, out, err = caldbio(capsys, "get", "MXT", "GAIN", "-o", env / "a-file" / "here")
    assert (code, out) == (1, "")
    assert err.startswith("caldbio: ")
    assert str(env / "a-file") in err
    assert "Errno" not in err
