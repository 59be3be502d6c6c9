"""Progress bars of uploads and ``sync``: drawn on a terminal, silent everywhere else.

The terminal is a real pseudo-terminal: the command's stderr is its slave end, so
``isatty()`` is true as for a person at a shell; what the bar drew is read at the master end.
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import sys
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from tqdm import tqdm

from caldbio.multipart import MultipartUpload
from tests.client.cli_run import caldbio


@contextmanager
def terminal_stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Make ``sys.stderr`` a pseudo-terminal; the list receives what was written to it."""
    master, slave = pty.openpty()
    # A new pseudo-terminal has 0 rows and columns; tqdm draws no bar below the last row.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    received: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the slave end was closed: nothing more will come
                return
            if not data:
                return
            received.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stream = os.fdopen(slave, "w", buffering=1, encoding="utf-8")
    real_stderr = sys.stderr
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        yield received
    finally:
        monkeypatch.setattr(sys, "stderr", real_stderr)
        stream.close()
        reader.join(timeout=10)
        os.close(master)


def drawn(received: list[bytes]) -> str:
    return b"".join(received).decode("utf-8", "replace")


@pytest.fixture
def every_file_is_large(monkeypatch):
    """The test files are small: let a byte bar draw for any size (a terminal is still needed)."""
    monkeypatch.setattr("caldbio.progress.PROGRESS_MIN_BYTES", 0)


def test_upload_draws_a_bar_on_a_terminal(env, capsys, monkeypatch, every_file_is_large):
    with terminal_stderr(monkeypatch) as received:
        code, out, _ = caldbio(capsys, "upload", env / "gain_v1.fits", env / "gain_v2.fits")
    assert code == 0, out
    text = drawn(received)
    assert "gain_v1.fits" in text
    assert "gain_v2.fits" in text
    assert "%|" in text  # a bar of bytes (redrawn at most every 0.1 s)
    assert "B/s" in text
    assert out.splitlines()[0] == "gain_v1.fits: indexed: MXT/GAIN[1]"  # stdout stays clean


def test_upload_draws_nothing_when_stderr_is_not_a_terminal(env, capsys, every_file_is_large):
    code, out, err = caldbio(capsys, "upload", env / "gain_v1.fits")
    assert (code, err) == (0, "")
    assert out == "gain_v1.fits: indexed: MXT/GAIN[1]\n"


def test_a_small_upload_draws_nothing_even_on_a_terminal(env, capsys, monkeypatch):
    with terminal_stderr(monkeypatch) as received:
        code, _, _ = caldbio(capsys, "upload-onboard", env / "absent.yaml")
        assert code == 2  # refused before any bar: a sentence only
        code, _, _ = caldbio(capsys, "upload", env / "gain_v1.fits")
    assert code == 0
    assert "gain_v1.fits" not in drawn(received)
    assert "absent.yaml" in drawn(received)


def test_sync_draws_a_bar_of_files_on_a_terminal(env, capsys, monkeypatch):
    caldbio(capsys, "upload", env / "gain_v1.fits", env / "gain_v2.fits")
    with terminal_stderr(monkeypatch) as received:
        code, out, _ = caldbio(capsys, "sync", "MXT")
    assert code == 0, out
    text = drawn(received)
    assert "sync MXT" in text
    assert "/2 [" in text  # a bar of the two files
    assert "file/s" in text
    assert out.startswith("SVOM MXT: 2 datasets (2 good)")


def test_sync_draws_nothing_when_stderr_is_not_a_terminal(env, capsys):
    caldbio(capsys, "upload", env / "gain_v1.fits")
    code, out, err = caldbio(capsys, "sync", "MXT")
    assert (code, err) == (0, "")
    assert out.startswith("SVOM MXT: 1 datasets (1 good)")


def test_the_upload_body_restarts_its_bar_when_rewound(tmp_path):
    path = tmp_path / "a.fits"
    path.write_bytes(b"x" * 5000)
    bar = tqdm(total=None, file=io.StringIO(), disable=False)
    with MultipartUpload(path, {"supersede": "false"}, bar=bar) as body:
        first = b"".join(iter(lambda: body.read(777), b""))
        assert len(first) == len(body) == bar.n
        assert body.read() == b""
        body.seek(0)
        assert bar.n == 0
        assert body.read() == first
        assert bar.n == len(body)
        with pytest.raises(OSError, match="cannot seek"):
            body.seek(len(body) + 1)
    assert first.count(b"x" * 5000) == 1


def test_a_file_shortened_during_its_upload_is_an_error(tmp_path):
    path = tmp_path / "a.fits"
    path.write_bytes(b"x" * 5000)
    with MultipartUpload(path, {}) as body:
        path.write_bytes(b"x" * 10)
        with pytest.raises(OSError, match="became shorter"):
            body.read()
