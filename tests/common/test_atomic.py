"""caldb_common.atomic: a file is replaced whole or not at all, and no temporary is left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from caldb_common.atomic import (
    TEMPORARY_PREFIX,
    atomic_path,
    atomic_writer,
    write_bytes_atomically,
    write_text_atomically,
)


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(TEMPORARY_PREFIX))


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("durable", [True, False])
def test_new_content_replaces_the_old_and_nothing_else_is_left(tmp_path, durable):
    path = tmp_path / "index.json"
    path.write_text("old")
    write_text_atomically(path, "new é", durable=durable)
    assert path.read_bytes() == "new é".encode()
    write_bytes_atomically(path, b"\x00\xff", durable=durable)
    assert path.read_bytes() == b"\x00\xff"
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]


class Interrupted(BaseException):
    """Like KeyboardInterrupt: not an Exception, and must clean up all the same."""


@pytest.mark.parametrize("error", [OSError("disk full"), Interrupted()])
def test_a_failed_write_leaves_the_old_content_and_no_temporary(tmp_path, error):
    path = tmp_path / "caldb.indx"
    path.write_bytes(b"old content")
    written_beside = []

    def write_half_then_fail() -> None:
        with atomic_writer(path) as stream:
            stream.write(b"half of the new")
            stream.flush()
            written_beside.extend(temporaries(tmp_path))
            raise error

    with pytest.raises(type(error)):
        write_half_then_fail()
    assert len(written_beside) == 1  # the half was beside the destination, under another name
    assert path.read_bytes() == b"old content"
    assert temporaries(tmp_path) == []


def test_a_failed_rename_removes_the_temporary(tmp_path):
    destination = tmp_path / "taken"
    destination.mkdir()
    (destination / "inside").write_text("kept")
    with pytest.raises(IsADirectoryError):
        write_bytes_atomically(destination, b"a file cannot replace a directory")
    assert (destination / "inside").read_text() == "kept"
    assert temporaries(tmp_path) == []


def test_a_missing_directory_is_an_error_not_a_creation(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_text_atomically(tmp_path / "absent" / "file.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_a_private_file_is_never_readable_by_others(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text("{}")
    path.chmod(0o644)
    with atomic_writer(path, mode=0o600) as stream:
        (temporary,) = temporaries(tmp_path)
        assert stat.S_IMODE((tmp_path / temporary).stat().st_mode) == 0o600
        stream.write(b'{"token": "secret"}')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == '{"token": "secret"}'


def test_modes_given_and_default(tmp_path):
    write_bytes_atomically(tmp_path / "object", b"x", mode=0o444)
    assert stat.S_IMODE((tmp_path / "object").stat().st_mode) == 0o444
    write_bytes_atomically(tmp_path / "plain", b"x")
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o666 & ~current_umask()


def test_atomic_path_publishes_what_the_block_puts_there(tmp_path):
    source = tmp_path / "source"
    source.write_bytes(b"calibration")
    destination = tmp_path / "linked"
    destination.write_bytes(b"old")
    with atomic_path(destination, durable=False) as temporary:
        assert not temporary.exists()
        assert temporary.parent == tmp_path
        os.link(source, temporary)
    assert destination.read_bytes() == b"calibration"
    assert destination.samefile(source)
    assert temporaries(tmp_path) == []


def test_atomic_path_removes_a_half_made_file(tmp_path):
    destination = tmp_path / "copy"

    def copy_half_then_fail() -> None:
        with atomic_path(destination) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("copy failed")

    with pytest.raises(RuntimeError, match="copy failed"):
        copy_half_then_fail()
    assert not destination.exists()
    assert temporaries(tmp_path) == []


def test_atomic_path_with_nothing_made_is_an_error(tmp_path):
    destination = tmp_path / "never"
    with pytest.raises(FileNotFoundError), atomic_path(destination):
        pass
    assert list(tmp_path.iterdir()) == []


def test_two_writers_never_share_a_temporary(tmp_path):
    path = tmp_path / "stamp"
    with atomic_writer(path) as first, atomic_writer(path) as second:
        first.write(b"first")
        second.write(b"second")
        assert len(temporaries(tmp_path)) == 2
    assert path.read_bytes() == b"first"  # the outer block ends last and wins
    assert temporaries(tmp_path) == []
