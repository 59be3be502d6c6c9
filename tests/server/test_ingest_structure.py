"""The structural verifier against HEASARC's fitsverify, real files, and its own costs.

The verifier refuses a file exactly when fitsverify reports an error, or one of the two
warnings this server treats as errors (a keyword given twice, a CHECKSUM or DATASUM that
does not match). Its one leniency, whole blocks after the last HDU (FITS "special
records"), is tested on its own.
"""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from caldb_server.ingest.compression import is_plain_fits
from caldb_server.ingest.structure import BLOCK, StructureLimit, verify_structure
from tests.helpers import calfile_bytes
from tests.server.fits_corpus import BAD_FILES, GAIN, GOOD_FILES, add


def problems(data: bytes, **kwargs: Any) -> list[tuple[Any, ...]]:
    structure = verify_structure(io.BytesIO(data), **kwargs)
    return [(p.hdu, p.keyword, p.field, p.reason) for p in structure.problems]


def fitsverify_verdict(path: Path) -> tuple[list[str], list[str]]:
    """(errors, the warnings this server treats as errors) that fitsverify reports."""
    executable = shutil.which("fitsverify")
    if executable is None:
        pytest.skip("fitsverify is not installed (Debian package fitsverify; make system-deps)")
    result = subprocess.run([executable, str(path)], capture_output=True, check=False, timeout=120)
    lines = (result.stdout + result.stderr).decode("latin-1").splitlines()
    errors = [line for line in lines if "*** Error" in line or "Abort Verification" in line]
    strict = [
        line
        for line in lines
        if "*** Warning" in line and ("duplicated" in line or "checksum" in line.lower())
    ]
    assert "Verification found" in result.stdout.decode("latin-1") or errors, lines
    return errors, strict


@pytest.mark.parametrize("data", GOOD_FILES.values(), ids=GOOD_FILES)
def test_good_file_passes_both_verifiers(data, tmp_path):
    assert is_plain_fits(data[:80])
    assert problems(data) == []
    path = tmp_path / "good.fits"
    path.write_bytes(data)
    assert fitsverify_verdict(path) == ([], [])


@pytest.mark.parametrize("data", BAD_FILES.values(), ids=BAD_FILES)
def test_bad_file_fails_both_verifiers(data, tmp_path):
    found = problems(data)
    assert found, "the verifier accepted it"
    for hdu, keyword, field, _reason in found:
        assert keyword is not None or field == "file", found  # every problem says where
        assert hdu is not None or field == "file", found
    path = tmp_path / "bad.fits"
    path.write_bytes(data)
    errors, strict = fitsverify_verdict(path)
    assert errors or strict, "fitsverify accepted it"


def test_corpus_covers_the_issue_cases():
    for name in (
        "BITPIX = 7 in the primary",
        "NAXIS1 = -5",
        "TFIELDS = 999999 with one column",
        "duplicate INSTRUME",
        "duplicate CCNM0001",
        "wrong CHECKSUM",
        "wrong DATASUM",
    ):
        assert name in BAD_FILES
    assert len(GOOD_FILES) + len(BAD_FILES) >= 90


def test_every_problem_is_listed_with_its_place():
    data = add(
        GAIN,
        1,
        "INSTRUME= 'ECL     '",
        "remark  = 'x'",
        "DATE-OBS= '2024-13-01'",
        b"REMARK  = 'a\x00b'",
        "TTYPE4  = 'FOURTH  '",
    )
    places = {(hdu, keyword) for hdu, keyword, _, _ in problems(data)}
    assert places == {
        (1, "INSTRUME"),
        (1, "remark"),
        (1, "DATE-OBS"),
        (1, "REMARK"),
        (1, "TTYPE4"),
    }


def test_tfields_far_beyond_the_columns_is_one_problem():
    data = GAIN.replace(b"TFIELDS =                    1", b"TFIELDS =                  999")
    assert [(h, k) for h, k, _, _ in problems(data)] == [(1, "TFIELDS")]


# -- real files ---------------------------------------------------------------------------


def _real_files(heasarc_dir: Path) -> list[Path]:
    return sorted((heasarc_dir / "calfiles").glob("*/*"))


def test_every_real_calibration_file_passes(heasarc_dir, tmp_path):
    checked = 0
    for path in _real_files(heasarc_dir):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        structure = verify_structure(io.BytesIO(data))
        assert structure.problems == [], path
        copy = tmp_path / path.name.removesuffix(".gz")
        copy.write_bytes(data)
        errors, strict = fitsverify_verdict(copy)
        if structure.notes:  # special records: fitsverify calls them extra bytes, an error
            assert len(errors) == 1, errors
            assert "extra byte(s) after last HDU" in errors[0]
        else:
            assert (errors, strict) == ([], []), path
        checked += 1
    assert checked == 9


def test_whole_blocks_after_the_last_hdu_are_special_records():
    structure = verify_structure(io.BytesIO(GAIN + bytes(2 * BLOCK)))
    assert structure.problems == []
    assert structure.notes == [
        "2 block(s) after the last HDU were ignored (special records, FITS Standard §3.5)"
    ]
    assert [(k, f) for _, k, f, _ in problems(GAIN + bytes(BLOCK + 1))] == [(None, "file")]


# -- bounded, linear work -----------------------------------------------------------------


class CountingStream(io.BytesIO):
    """A file that counts what is read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.reads.append(len(chunk))
        return chunk


def _tables(count: int) -> bytes:
    return calfile_bytes(*({"CCLS0001": "BCF"} for _ in range(count)))


@pytest.mark.parametrize("tables", [100, 200, 400])
def test_each_header_is_read_once_and_data_is_skipped(tables):
    data = _tables(tables)
    stream = CountingStream(data)
    structure = verify_structure(stream)
    assert structure.problems == []
    assert len(structure.hdus) == tables + 1
    header_blocks = tables + 1  # each header here is one block
    assert stream.reads.count(BLOCK) == header_blocks
    # per extension: its 8 first bytes peeked and the fill of its 16 data bytes checked
    assert sum(stream.reads) == header_blocks * BLOCK + tables * (8 + BLOCK - 16)
    assert sum(stream.reads) <= len(data) + 8 * tables


def test_a_file_past_the_hdu_limit_is_refused_after_reading_that_many_headers():
    stream = CountingStream(_tables(60))
    with pytest.raises(StructureLimit, match="more than 10 HDUs"):
        verify_structure(stream, max_hdus=10)
    assert stream.reads.count(BLOCK) == 10  # headers of HDUs 0..9, not one more
    assert sum(stream.reads) < 10 * 2 * BLOCK + 8 * 10


def test_a_file_at_the_hdu_limit_passes():
    assert len(verify_structure(io.BytesIO(_tables(9)), max_hdus=10).hdus) == 10


def test_a_header_without_end_costs_no_more_than_its_blocks():
    # The header never ends: every block is read once, no card kept past the limit.
    data = calfile_bytes({"CCLS0001": "BCF"})[:BLOCK].replace(b"END     ", b"COMMENT ")
    data += (b"COMMENT " + b" " * 72) * 36 * 20
    stream = CountingStream(data)
    assert [(h, f) for h, _, f, _ in problems(data)] == [(0, "file")]
    verify_structure(stream)
    assert sum(stream.reads) == len(data)


def test_checksums_are_read_in_one_pass_per_hdu():
    data = GOOD_FILES["gain table with CHECKSUM and DATASUM"]
    stream = CountingStream(data)
    assert verify_structure(stream).problems == []
    assert sum(stream.reads) <= 2 * len(data)
