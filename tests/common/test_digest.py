"""caldb_common.digest.sha256_of: the digest the server, the client and the bricks agree on."""

from __future__ import annotations

import hashlib
import random

import pytest

from caldb_common.digest import sha256_of


@pytest.mark.parametrize("size", [0, 1, 1 << 20, (3 << 20) + 7])  # empty, small, chunk-sized, more
def test_sha256_of_matches_hashing_the_bytes(tmp_path, size):
    data = random.Random(size).randbytes(size)
    path = tmp_path / "file.fits"
    path.write_bytes(data)
    assert sha256_of(path) == hashlib.sha256(data).hexdigest()


def test_sha256_of_a_known_content(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")  # FIPS 180-2 example
    assert sha256_of(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_of_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        sha256_of(tmp_path / "absent")
