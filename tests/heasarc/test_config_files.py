import io
from pathlib import Path

import pytest
from astropy.io import fits

from caldb_server.heasarc import (
    format_caldb_config,
    parse_caldb_config,
    read_alias_config,
    write_alias_config,
)
from tests.helpers import assert_fitsverify_clean

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CONFIG_DIR = SHARED / "fixtures" / "heasarc" / "config"

ENTRIES = [
    ("SVOM", "MXT", "data/svom/mxt"),
    ("svom", "eclairs", "data/svom/eclairs"),
    ("GEN", "INS", "data/gen"),
    ("SVOM", "MXT", "data/svom/mxt"),  # repeated: written once
]
SVOM_ALIASES = {"SVOM": {"ALL": ("MXT", "ECLAIRS", "GRM", "VT"), "CAM": ("VT_B", "VT_R")}}


@pytest.fixture
def config_dir() -> Path:
    if not CONFIG_DIR.is_dir():
        pytest.skip(f"HEASARC fixture config files not found under {CONFIG_DIR}")
    return CONFIG_DIR


# -- caldb.config -------------------------------------------------------------------------


def test_format_caldb_config() -> None:
    text = format_caldb_config(ENTRIES)
    lines = text.splitlines()
    data = [line for line in lines if not line.startswith("#")]

    assert data == [
        "GEN INS CALDB data/gen caldb.indx CALDB data/gen",
        "SVOM ECLAIRS CALDB data/svom/eclairs caldb.indx CALDB data/svom/eclairs",
        "SVOM MXT CALDB data/svom/mxt caldb.indx CALDB data/svom/mxt",
    ]
    assert lines[: -len(data)] == [line for line in lines if line.startswith("#")]
    assert "seven" in text
    assert text.endswith("\n")
    # The HEASoft C reader splits on single spaces and needs 7 tokens.
    assert all(len(line.split(" ")) == 7 for line in data)


def test_caldb_config_round_trip() -> None:
    assert parse_caldb_config(format_caldb_config(ENTRIES)) == [
        ("GEN", "INS", "data/gen", "caldb.indx"),
        ("SVOM", "ECLAIRS", "data/svom/eclairs", "caldb.indx"),
        ("SVOM", "MXT", "data/svom/mxt", "caldb.indx"),
    ]


def test_format_caldb_config_without_entries_is_only_comments() -> None:
    text = format_caldb_config([])
    assert parse_caldb_config(text) == []
    assert all(line.startswith("#") for line in text.splitlines())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("SVOM", "M XT", "data/svom/mxt"), "blanks"),
        (("SVOM", "MXT", "data/svom/mxt\n"), "blanks"),
        (("", "MXT", "data/svom/mxt"), "non-empty"),
        (("SVOM", "MXT", "/caldb/data/svom/mxt"), "relative"),
        (("#SVOM", "MXT", "data/svom/mxt"), "comment"),
        (("SVOM", "MXT", "d" * 160), "longer"),
    ],
)
def test_format_caldb_config_rejects_bad_tokens(entry: tuple[str, str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        format_caldb_config([entry])


def test_format_caldb_config_rejects_two_directories_for_one_instrument() -> None:
    with pytest.raises(ValueError, match="two index directories"):
        format_caldb_config([("SVOM", "MXT", "data/svom/mxt"), ("SVOM", "mxt", "data/mxt")])


def test_parse_caldb_config_fixture(config_dir: Path) -> None:
    entries = parse_caldb_config((config_dir / "caldb.config").read_text())
    assert len(entries) == 76
    assert entries[0] == ("GEN", "INS", "data/gen", "caldb.indx")
    assert ("SWIFT", "XRT", "data/swift/xrt", "caldb.indx") in entries
    assert ("ROSAT", "HRI", "data/rosat/hri", "caldb.indx") in entries  # double blanks
    # Chandra lines carry 3 extra tokens, which HEASoft ignores.
    assert ("CHANDRA", "ACIS", "data/chandra/acis", "caldb.indx") in entries


def test_parse_caldb_config_skips_comments_and_blank_lines() -> None:
    text = "# header\n\n   \nSVOM MXT CALDB data/svom/mxt caldb.indx\n#SVOM VT x y z\n"
    assert parse_caldb_config(text) == [("SVOM", "MXT", "data/svom/mxt", "caldb.indx")]


def test_parse_caldb_config_rejects_short_lines() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_caldb_config("# header\nSVOM MXT CALDB data/svom/mxt\n")


# -- alias_config.fits --------------------------------------------------------------------


def test_alias_config_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "alias_config.fits"
    aliases = SVOM_ALIASES | {"ASCA": {"GIS": ["GIS2", "GIS3"]}, "XMM": {}}
    write_alias_config(aliases, path)

    assert read_alias_config(path) == {
        "ASCA": {"GIS": ("GIS2", "GIS3")},
        "SVOM": {"ALL": ("MXT", "ECLAIRS", "GRM", "VT"), "CAM": ("VT_B", "VT_R")},
    }
    with fits.open(path, checksum=True) as hdulist:
        assert [hdu.name for hdu in hdulist] == ["PRIMARY", "ASCA", "SVOM"]
        for hdu in hdulist:
            assert {"CHECKSUM", "DATASUM"} <= set(hdu.header)
        header = hdulist["SVOM"].header
        layout = [(header[f"TTYPE{i}"], header[f"TFORM{i}"]) for i in (1, 2, 3)]
        assert layout == [("ALIAS", "10A"), ("ALIAS_NO", "I"), ("VALUES", "100A10")]
    assert_fitsverify_clean(path)


def test_alias_config_names_fill_ten_character_slots() -> None:
    buffer = io.BytesIO()
    write_alias_config({"SVOM": {"ALL": ("MXT", "ABCDEFGHIJ", "VT")}}, buffer)
    with fits.open(io.BytesIO(buffer.getvalue()), character_as_bytes=True) as hdulist:
        values = bytes(hdulist["SVOM"].data.field("VALUES")[0])
    assert values.startswith(b"MXT       ABCDEFGHIJVT")
    buffer.seek(0)
    assert read_alias_config(buffer) == {"SVOM": {"ALL": ("MXT", "ABCDEFGHIJ", "VT")}}


def test_alias_config_without_aliases_has_only_primary(tmp_path: Path) -> None:
    path = tmp_path / "alias_config.fits"
    write_alias_config({"SVOM": {}}, path)
    with fits.open(path) as hdulist:
        assert len(hdulist) == 1
    assert read_alias_config(path) == {}
    assert_fitsverify_clean(path)


@pytest.mark.parametrize(
    ("aliases", "error", "message"),
    [
        ({"SVOM": {"EVERYTHING1": ("MXT",)}}, ValueError, "longer than 10"),
        ({"SVOM": {"ALL": ("MXT", "ECLAIRS_LONG")}}, ValueError, "longer than 10"),
        ({"SVOM": {"ALL": tuple(f"I{i}" for i in range(11))}}, ValueError, "11 instruments"),
        ({"SVOM": {"ALL": ()}}, ValueError, "0 instruments"),
        ({"SVOM": {"ALL": ("M XT",)}}, ValueError, "blanks"),
        ({"SVOM": {"ALL": "MXT"}}, TypeError, "not a string"),
        ({"SVOM_MISSION": {"ALL": ("MXT",)}}, ValueError, "longer than 10"),
        ({"SVOM": {"A": ("MXT",)}, "svom": {"B": ("VT",)}}, ValueError, "twice"),
    ],
)
def test_write_alias_config_validates(
    tmp_path: Path, aliases: dict, error: type[Exception], message: str
) -> None:
    path = tmp_path / "alias_config.fits"
    with pytest.raises(error, match=message):
        write_alias_config(aliases, path)
    assert not list(tmp_path.iterdir())


def test_read_alias_config_fixture(config_dir: Path) -> None:
    aliases = read_alias_config(config_dir / "alias_config.fits")
    assert set(aliases) == {"ASCA", "ROSAT"}
    assert aliases["ASCA"]["GIS"] == ("GIS2", "GIS3")
    assert aliases["ASCA"]["XRT"] == ("XRT1", "XRT2", "XRT3", "XRT4")
    assert aliases["ASCA"]["ALL"][-1] == "INS"
    assert len(aliases["ASCA"]["ALL"]) == 9
    assert aliases["ROSAT"] == {"PSPC": ("PSPCB", "PSPCC"), "ALL": ("PSPCB", "PSPCC", "HRI", "XRT")}


def test_fixture_aliases_rewrite_identically(tmp_path: Path, config_dir: Path) -> None:
    aliases = read_alias_config(config_dir / "alias_config.fits")
    path = tmp_path / "alias_config.fits"
    write_alias_config(aliases, path)
    assert read_alias_config(path) == aliases
    assert_fitsverify_clean(path)
