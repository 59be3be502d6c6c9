"""Bad uploads, their content: keywords, values, lengths, names, registry.

Each gets a problem+json answer listing every failed check, and nothing is left behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from caldb_server.ingest.headers import REQUIRED
from tests.helpers import calfile_bytes
from tests.server.uploads import GOOD, gain, places, refused, send

# -- required keywords --------------------------------------------------------------------


@pytest.mark.parametrize("keyword", REQUIRED)
def test_missing_required_keyword_is_named_with_its_hdu(client, uploader, root, keyword):
    errors = refused(client, uploader, root, calfile_bytes(gain(**{keyword: None})))
    assert places(errors) == {(1, keyword)}
    assert "missing" in errors[0]["reason"]


@pytest.mark.parametrize("keyword", ["TELESCOP", "CCNM0001", "CVSD0001"])
def test_missing_keyword_in_the_primary_hdu_names_hdu_0(client, uploader, root, keyword):
    content = calfile_bytes(primary=gain(**{keyword: None}))
    assert places(refused(client, uploader, root, content)) == {(0, keyword)}


EMPTY = [(keyword, "") for keyword in REQUIRED] + [("CCNM0001", "   "), ("CVST0001", " ")]


@pytest.mark.parametrize(("keyword", "value"), EMPTY)
def test_empty_required_keyword_is_refused(client, uploader, root, keyword, value):
    errors = refused(client, uploader, root, calfile_bytes(gain(**{keyword: value})))
    assert places(errors) == {(1, keyword)}


def test_every_failure_of_every_hdu_is_listed(client, uploader, root):
    content = calfile_bytes(
        gain(CCNM0001=None),
        gain(CVSD0001=None, CBD10001="ENERG(0.1-", CDES0001="x" * 71),
        gain(CVST0001="25:00:00"),
    )
    errors = refused(client, uploader, root, content, name="../bad.fits")
    assert places(errors) == {
        ("field", "file"),
        (1, "CCNM0001"),
        (2, "CVSD0001"),
        (2, "CBD10001"),
        (2, "CDES0001"),
        (3, "CVST0001"),
    }


# -- values -------------------------------------------------------------------------------

BAD_VALUES = {
    "CBD cut short": ("CBD10001", "ENERG(0.1-"),
    "CBD without values": ("CBD10001", "ENERG"),
    "CBD without name": ("CBD10001", "(0.1-12)"),
    "CBD with empty values": ("CBD10001", "ENERG()"),
    "CBD with unbalanced quotes": ("CBD10001", 'MODE("FULL)'),
    "CBD with a space in the name": ("CBD50001", "EN ERG(1)"),
    "month 13": ("CVSD0001", "2024-13-01"),
    "30 February": ("CVSD0001", "2024-02-30"),
    "two-digit year": ("CVSD0001", "24-01-01"),
    "one-digit day and month": ("CVSD0001", "1/1/93"),
    "legacy day 32": ("CVSD0001", "32/01/93"),
    "slashes in ISO order": ("CVSD0001", "2024/01/01"),
    "date with a time": ("CVSD0001", "2024-01-01T00:00:00"),
    "hour 25": ("CVST0001", "25:00:00"),
    "no seconds": ("CVST0001", "12:00"),
    "minute 60": ("CVST0001", "12:60:00"),
    "one-digit hour": ("CVST0001", "1:00:00"),
    "fractional seconds (CAL_VST is 8 characters)": ("CVST0001", "00:00:00.5"),
    "unknown class": ("CCLS0001", "XYZ"),
    "empty class": ("CCLS0001", ""),
    "blank class": ("CCLS0001", "   "),
    "unknown data type": ("CDTP0001", "FOO"),
    "codename with a slash": ("CCNM0001", "GA/IN"),
    "codename climbing out": ("CCNM0001", "../../ETC"),
    "codename with a space": ("CCNM0001", "MY GAIN"),
}


@pytest.mark.parametrize(("keyword", "value"), BAD_VALUES.values(), ids=BAD_VALUES)
def test_bad_value_is_refused_naming_its_keyword(client, uploader, root, keyword, value):
    errors = refused(client, uploader, root, calfile_bytes(gain(**{keyword: value})))
    assert places(errors) == {(1, keyword)}


NOT_STRINGS = {
    "CVSD0001": 20240622,
    "CVST0001": 0,
    "CCNM0001": 1.5,
    "TELESCOP": True,
    "INSTRUME": 7,
    "DETNAM": 3,
    "CBD10001": 10,
}


@pytest.mark.parametrize(("keyword", "value"), NOT_STRINGS.items(), ids=NOT_STRINGS)
def test_keyword_that_is_not_a_string_is_refused(client, uploader, root, keyword, value):
    errors = refused(client, uploader, root, calfile_bytes(gain(**{keyword: value})))
    assert places(errors) == {(1, keyword)}
    assert "string" in errors[0]["reason"]


TOO_LONG = {
    "CCNM0001": "G" * 21,
    "CDES0001": "d" * 71,
    "CBD10001": "ENERG(0.1-12)" + "K" * 58,
    "TELESCOP": "S" * 11,
    "INSTRUME": "I" * 11,
    "DETNAM": "D" * 21,
    "FILTER": "F" * 11,
}


@pytest.mark.parametrize(("keyword", "value"), TOO_LONG.items(), ids=TOO_LONG)
def test_over_long_value_is_refused(client, uploader, root, keyword, value):
    errors = refused(client, uploader, root, calfile_bytes(gain(**{keyword: value})))
    assert places(errors) == {(1, keyword)}
    assert "longer than" in errors[0]["reason"]


def test_file_name_of_41_characters_is_refused(client, uploader, root):
    name = "m" * 36 + ".fits"
    errors = refused(client, uploader, root, GOOD, name=name)
    assert places(errors) == {("field", "file")}
    assert "40" in errors[0]["reason"]


def test_values_at_the_length_limits_are_accepted(heasarc_registry, client, uploader):
    # SWIFT XRT (in the registry made from HEASARC's caldb.config, so skipped without it)
    # declares no codename list, so any codename is allowed.
    longest = gain(
        TELESCOP="SWIFT",
        INSTRUME="XRT",
        CCNM0001="G" * 20,
        CDES0001="d" * 70,
        CBD10001="ENERG(0.1-12)" + "K" * 57,
    )
    response = send(client, uploader, calfile_bytes(longest), name="m" * 35 + ".fits")
    assert response.status_code == 201, response.get_json()
    (row,) = response.get_json()["datasets"]
    assert (len(row["cal_file"]), len(row["cal_cnam"]), len(row["cal_desc"])) == (40, 20, 70)
    assert len(row["cal_cbd"][0]) == 70


def test_unregistered_codename_of_a_registered_instrument_is_refused(client, uploader, root):
    errors = refused(client, uploader, root, calfile_bytes(gain(CCNM0001="TELDEFF")))
    assert places(errors) == {(1, "CCNM0001")}
    assert "unknown codename TELDEFF of MXT" in errors[0]["reason"]
    assert "TELDEF" in errors[0]["reason"]  # the registered ones are listed


# -- file names ---------------------------------------------------------------------------

UNSAFE_NAMES = {
    "parent": "../evil.fits",
    "two parents": "../../etc/passwd",
    "absolute": "/abs/evil.fits",
    "subdirectory": "a/b.fits",
    "dot dot": "..",
    "dot": ".",
    "hidden": ".hidden.fits",
    "NUL byte": "evil\x00.fits",
    "backslash": "a\\b.fits",
    "windows parent": "..\\evil.fits",
    "empty": "",
    "space": "my gain.fits",
    "quote": 'a"b.fits',
    "non-ASCII": "gain\u00e9.fits",
}


def files_under(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*") if p.is_file() and "caldb.sqlite" not in p.name}


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path, with the working directory three levels below it.

    Whatever a file name could be resolved against (the tree, ``.incoming``, the working
    directory) then lies deep enough in tmp_path that climbing out still lands inside it.
    """
    cwd = tmp_path / "work" / "dir" / "deep"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    return tmp_path


@pytest.mark.parametrize("name", UNSAFE_NAMES.values(), ids=UNSAFE_NAMES)
def test_unsafe_file_name_is_refused_and_writes_nowhere(client, uploader, root, sandbox, name):
    before = files_under(sandbox)
    errors = refused(client, uploader, root, GOOD, name=name)
    assert places(errors) == {("field", "file")}
    assert repr(name) in errors[0]["reason"]  # the server judged the name that was sent
    assert files_under(sandbox) == before
    assert not Path("/abs").exists()
