"""The content-addressed cache: verified stores, read-only objects, safe names, many processes.

Unit tests run :class:`caldbio.cache.Cache` on temporary directories; the concurrency test
starts eight real processes that download one file into one shared cache from the real
test server, and the progress-bar tests watch stderr.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits

import caldbio.cache
import caldbio.progress
from caldbio.cache import Cache, CorruptDownload
from tests.helpers import MXT_GAIN, calfile_bytes

CONTENT = b"SIMPLE  = T / a calibration file, or nearly\n" * 100
SHA = hashlib.sha256(CONTENT).hexdigest()
ROOT = Path(__file__).resolve().parents[2]


def temporaries(root):
    return sorted(str(p) for p in root.rglob(".tmp-*"))


def objects(root):
    """The cached objects (not the ``.verified`` stamps beside them)."""
    files = (root / "objects").rglob("*")
    return sorted(p for p in files if p.is_file() and p.suffix != ".verified")


def stamp(path):
    return path.with_name(path.name + ".verified")


def writing(data):
    calls = []

    def fill(writer):
        calls.append(1)
        writer.write(data[:10])
        writer.write(data[10:])

    return fill, calls


def test_store_writes_once_and_read_only(tmp_path):
    cache = Cache(tmp_path)
    assert cache.lookup(SHA) is None
    fill, calls = writing(CONTENT)
    path, filled = cache.store(SHA, fill, size=len(CONTENT))
    assert (path, filled, calls) == (cache.object_path(SHA), True, [1])
    assert path == tmp_path / "objects" / SHA[:2] / SHA
    assert path.read_bytes() == CONTENT
    assert path.stat().st_mode & 0o777 == 0o444
    assert stamp(path).is_file()
    again, filled = cache.store(SHA, fill, size=len(CONTENT))
    assert (again, filled, calls) == (path, False, [1])  # fill not called again
    assert cache.lookup(SHA.upper()) == path
    assert objects(tmp_path) == [path]
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize(
    ("data", "size", "message"),
    [
        (CONTENT[:-1] + b"X", len(CONTENT), "sha256"),
        (CONTENT[:-1], len(CONTENT), "bytes"),
        (CONTENT, len(CONTENT) + 1, "bytes"),
        (CONTENT + b"more", None, "sha256"),
    ],
    ids=["wrong-bytes", "truncated", "wrong-size", "too-long-no-size"],
)
def test_a_wrong_fill_leaves_nothing_behind(tmp_path, data, size, message):
    cache = Cache(tmp_path)
    fill, _ = writing(data)
    with pytest.raises(CorruptDownload, match=message):
        cache.store(SHA, fill, size=size)
    assert objects(tmp_path) == []
    assert temporaries(tmp_path) == []
    assert cache.lookup(SHA) is None
    good, _ = writing(CONTENT)
    assert cache.store(SHA, good, size=len(CONTENT))[1]  # a retry then succeeds


def test_a_failing_fill_leaves_nothing_and_its_error_passes(tmp_path):
    def broken(writer):
        writer.write(CONTENT[:100])
        raise ConnectionResetError("the server went away")

    with pytest.raises(ConnectionResetError):
        Cache(tmp_path).store(SHA, broken)
    assert objects(tmp_path) == []
    assert temporaries(tmp_path) == []


def test_a_corrupted_object_is_deleted_on_lookup(tmp_path):
    cache = Cache(tmp_path)
    path, _ = cache.store(SHA, writing(CONTENT)[0])
    path.chmod(0o644)
    path.write_bytes(CONTENT[:-1] + b"?")  # same size: the new mtime betrays it
    assert cache.lookup(SHA) is None
    assert not path.exists()
    assert not stamp(path).exists()
    fill, calls = writing(CONTENT)
    assert cache.store(SHA, fill) == (path, True)
    assert calls == [1]
    assert cache.lookup(SHA) == path


def test_a_replaced_object_is_hashed_again_even_with_its_old_mtime(tmp_path):
    cache = Cache(tmp_path)
    path, _ = cache.store(SHA, writing(CONTENT)[0])
    assert cache.lookup(SHA) == path
    before = path.stat()
    path.unlink()
    path.write_bytes(b"garbage")  # another inode and size, the same mtime
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert cache.lookup(SHA) is None
    assert not path.exists()


def test_a_fill_may_reuse_its_buffer_as_file_writes_allow(tmp_path, monkeypatch):
    released = threading.Event()

    class Digest:  # hashes only once the fill has returned, or after 0.2 s
        def __init__(self):
            self.inner = hashlib.sha256()

        def update(self, data):
            released.wait(0.2)
            self.inner.update(data)

        def hexdigest(self):
            return self.inner.hexdigest()

    monkeypatch.setattr(caldbio.cache, "hashlib", SimpleNamespace(sha256=Digest))
    first, second = b"first half of the file" * 50, b"other half of the file" * 50

    def fill(writer):
        buffer = bytearray(first)
        writer.write(buffer)
        buffer[:] = second  # io: "the caller may release or mutate b" once written
        writer.write(buffer)
        released.set()

    sha = hashlib.sha256(first + second).hexdigest()
    path, _ = Cache(tmp_path).store(sha, fill, size=len(first + second))
    assert path.read_bytes() == first + second


@pytest.mark.parametrize(
    "text", ["", "abc", SHA[:-1], SHA + "0", "g" * 64, "../" + SHA[3:], SHA[:32] + "/" + SHA[33:]]
)
def test_object_path_refuses_what_is_not_a_sha256(tmp_path, text):
    cache = Cache(tmp_path)
    with pytest.raises(ValueError, match="not a sha256"):
        cache.object_path(text)
    with pytest.raises(ValueError, match="not a sha256"):
        cache.store(text, writing(CONTENT)[0])
    assert not (tmp_path / "objects").exists()


def test_materialize_links_the_object_and_is_idempotent(tmp_path):
    cache = Cache(tmp_path / "cache")
    source, _ = cache.store(SHA, writing(CONTENT)[0])
    target = tmp_path / "work" / "sub"
    placed = cache.materialize(SHA, target, "gain.fits")
    assert placed == target / "gain.fits"
    assert placed.stat().st_ino == source.stat().st_ino
    assert cache.materialize(SHA, target, "gain.fits") == placed
    assert placed.stat().st_ino == source.stat().st_ino
    stale = target / "teldef.fits"
    stale.write_bytes(b"an older file of the same name")
    assert cache.materialize(SHA, target, "teldef.fits").read_bytes() == CONTENT
    assert sorted(p.name for p in target.iterdir()) == ["gain.fits", "teldef.fits"]


def test_materialize_copies_when_links_fail(tmp_path, monkeypatch):
    cache = Cache(tmp_path / "cache")
    source, _ = cache.store(SHA, writing(CONTENT)[0])

    def no_link(*_args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    placed = cache.materialize(SHA, tmp_path / "work", "gain.fits")
    assert placed.read_bytes() == CONTENT
    assert placed.stat().st_ino != source.stat().st_ino
    assert cache.materialize(SHA, tmp_path / "work", "gain.fits").read_bytes() == CONTENT
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["gain.fits"]


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../escape.fits", "a\\b", "nul\0.fits"])
def test_materialize_refuses_names_that_are_not_plain(tmp_path, name):
    cache = Cache(tmp_path / "cache")
    cache.store(SHA, writing(CONTENT)[0])
    with pytest.raises(ValueError, match="plain file name"):
        cache.materialize(SHA, tmp_path / "work" / "inner", name)
    assert not (tmp_path / "work").exists()
    assert not (tmp_path / "escape.fits").exists()


# -- with the real server ------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import hashlib, pathlib, sys, time
    from caldbio import CaDBIO
    url, cache, work, number, gate = sys.argv[1:]
    client = CaDBIO(url, cache_dir=cache, use_tokens=False, max_tries=1)
    (found,) = client.search("MXT", "GAIN", date="2025-07-01")
    pathlib.Path(gate, f"ready-{number}").touch()
    while not pathlib.Path(gate, "go").exists():
        time.sleep(0.001)
    path = client.download(found, pathlib.Path(work, number))
    print(path, hashlib.sha256(path.read_bytes()).hexdigest())
    """
)


def big_gain(rows):
    """An MXT GAIN file of about ``4 * rows`` bytes (a race needs time to happen in)."""
    header = fits.Header()
    for key, value in (MXT_GAIN | {"CDES0001": "MXT per-column gain, large"}).items():
        header[key] = value
    column = fits.Column(name="RAWX", format="J", array=np.arange(rows, dtype=np.int32))
    table = fits.BinTableHDU.from_columns([column], header=header)
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buffer)
    return buffer.getvalue()


@pytest.fixture
def big_upload(make_client, make_token, tmp_path):
    content = big_gain(1_000_000)
    path = tmp_path / "gain_big.fits"
    path.write_bytes(content)
    assert make_client(token=make_token("uploader")).upload(path).created
    return content


def test_eight_processes_download_one_file_once(server, big_upload, tmp_path):
    cache, work, gate = tmp_path / "shared-cache", tmp_path / "work", tmp_path / "gate"
    gate.mkdir()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CALDB", "RUNTIME"))}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, server.url, str(cache), str(work), str(n), str(gate)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    deadline = time.monotonic() + 60
    while len(list(gate.glob("ready-*"))) < 8 and time.monotonic() < deadline:
        assert all(child.poll() is None for child in children), children[0].communicate()
        time.sleep(0.01)
    (gate / "go").touch()
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0] * 8, outputs
    expected = hashlib.sha256(big_upload).hexdigest()
    lines = sorted(out.split() for out, _ in outputs)
    assert lines == [[str(work / str(n) / "gain_big.fits"), expected] for n in range(8)]
    for n in range(8):
        local = work / str(n) / "gain_big.fits"
        assert hashlib.sha256(local.read_bytes()).hexdigest() == expected
    assert objects(cache) == [Cache(cache).object_path(expected)]
    assert temporaries(cache) == []
    assert temporaries(work) == []
    assert server.meter.content_bytes == len(big_upload)  # one download, thanks to the lock


def small_gain(make_client, make_token, tmp_path):
    path = tmp_path / "gain_v1.fits"
    path.write_bytes(calfile_bytes(MXT_GAIN))
    make_client(token=make_token("uploader")).upload(path)
    return make_client().search("MXT", "GAIN", date="2025-07-01")[0]


def test_progress_true_draws_a_bar_on_stderr(make_client, make_token, tmp_path, capfd):
    found = small_gain(make_client, make_token, tmp_path)
    capfd.readouterr()
    make_client(progress=True).download(found, tmp_path / "work")
    err = capfd.readouterr().err
    assert "gain_v1.fits" in err
    assert "B/s" in err or "%" in err


@pytest.mark.parametrize(
    ("tty", "threshold", "drawn"),
    [(False, 0, False), (True, None, False), (True, 0, True)],
    ids=["not-a-terminal", "terminal-small-file", "terminal-large-file"],
)
def test_progress_none_draws_only_for_large_files_on_a_terminal(
    make_client, make_token, tmp_path, capsys, monkeypatch, tty, threshold, drawn
):
    found = small_gain(make_client, make_token, tmp_path)
    if threshold is not None:
        monkeypatch.setattr(caldbio.progress, "PROGRESS_MIN_BYTES", threshold)
    capsys.readouterr()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    make_client(progress=None).download(found, tmp_path / "work")
    err = capsys.readouterr().err
    assert ("gain_v1.fits" in err) is drawn, err
    if not drawn:
        assert err == ""
