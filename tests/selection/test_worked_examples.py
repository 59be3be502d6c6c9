"""The ten worked examples of reference §4.10 on the real Swift XRT CIF (CALDBVER 20160609)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from caldb_selection import Query, Reason, parse_boundary, parse_expression, requested_mjd, select
from caldb_selection.boundaries import Text
from caldb_server.heasarc.cif import CifRow, read_cif

HEASARC = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "heasarc"
SWIFT_CIF = HEASARC / "cif" / "swift_xrt_caldb.indx20160609"
NOW = datetime(2016, 6, 9, tzinfo=UTC)  # irrelevant: every example gives a date
RMF_EXPR = "datamode.eq.PHOTON.and.grade.eq.G0:12.and.xrtvsub.eq.6"
TELDEF_ROWS = [*range(300, 309), 405, *range(548, 556), *range(696, 700)]
EEF_FILE = "swxeef20010101v001.fits"


@pytest.fixture(scope="module")
def rows() -> list[CifRow]:
    if not SWIFT_CIF.is_file():
        pytest.skip(f"Swift XRT fixture CIF not found at {SWIFT_CIF} (../shared is absent)")
    return read_cif(SWIFT_CIF).rows


def quzcif(
    rows: list[CifRow], codename: str, date: str, time: str, expr: str
) -> list[tuple[int, str, int]]:
    """``quzcif SWIFT XRT - - codename date time expr``: (1-based row, CAL_FILE, CAL_XNO)."""
    numbers = {id(row): number for number, row in enumerate(rows, start=1)}
    request = Query.create(
        "XRT",
        codename,
        detector="-",
        filter="-",
        expression=parse_expression(expr),
        time_mjd=requested_mjd(date, time, NOW),
    )
    return [(numbers[id(row)], row.cal_file, row.cal_xno) for row in select(rows, request).selected]


def test_fixture_is_the_expected_cif(rows):
    assert len(rows) == 699
    assert {row.instrume for row in rows} == {"XRT"}


PC6 = "datamode.eq.PHOTON.and.xrtvsub.eq.6"
WT6 = "datamode.eq.WINDOWED.and.xrtvsub.eq.6"
SINGLE_DATASET_EXAMPLES = {
    "1": (("TELDEF", "2014-03-01", "00:00:00", "-"), (696, "swx20140101v001.teldef", 0)),
    "2": (("TELDEF", "2015-06-01", "00:00:00", "-"), (699, "swx20150601v001.teldef", 0)),
    "3": (("TELDEF", "2005-01-01", "00:00:00", "-"), (300, "swx20010101v007.teldef", 0)),
    "5": (
        ("MATRIX", "2014-03-01", "12:00:00", RMF_EXPR),
        (572, "swxpc0to12s6_20130101v014.rmf", 1),
    ),
    "6": (
        ("MATRIX", "2012-03-01", "12:00:00", RMF_EXPR),
        (570, "swxpc0to12s6_20110101v014.rmf", 1),
    ),
    "7": (
        ("EBOUNDS", "2014-03-01", "12:00:00", RMF_EXPR),
        (573, "swxpc0to12s6_20130101v014.rmf", 2),
    ),
    "8": (("GAIN", "2014-03-01", "12:00:00", PC6), (464, "swxpcgains6_20010101v010.fits", 1)),
    "9": (("SPECRESP", "2014-03-01", "12:00:00", WT6), (534, "swxs6_20010101v001.arf", 1)),
}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    list(SINGLE_DATASET_EXAMPLES.values()),
    ids=[f"example-{number}" for number in SINGLE_DATASET_EXAMPLES],
)
def test_single_dataset_examples(rows, arguments, expected):
    assert quzcif(rows, *arguments) == [expected]


def test_example_1_directory(rows):
    ((number, _, _),) = quzcif(rows, "TELDEF", "2014-03-01", "00:00:00", "-")
    assert rows[number - 1].cal_dir == "data/swift/xrt/bcf/teldef"


def test_example_2_validity_start_equal_to_t_is_valid(rows):
    ((number, _, _),) = quzcif(rows, "TELDEF", "2015-06-01", "00:00:00", "-")
    assert rows[number - 1].ref_time == requested_mjd("2015-06-01", "00:00:00", NOW)


def test_example_4_all_epochs(rows):
    found = quzcif(rows, "TELDEF", "-", "-", "-")
    assert len(found) == 22
    assert [number for number, _, _ in found] == TELDEF_ROWS
    assert {xno for _, _, xno in found} == {0}
    assert all(name.endswith(".teldef") for _, name, _ in found)


def test_example_9_multi_valued_datamode(rows):
    ((number, _, _),) = quzcif(rows, "SPECRESP", "2014-03-01", "12:00:00", WT6)
    assert "DATAMODE(PHOTON,WINDOWED)" in rows[number - 1].cal_cbd


def test_example_10_one_eef_per_energy(rows):
    found = quzcif(rows, "EEF", "2014-03-01", "12:00:00", "theta.eq.2")
    assert found == [
        (4, EEF_FILE, 2),
        (9, EEF_FILE, 7),
        (14, EEF_FILE, 12),
        (19, EEF_FILE, 17),
        (24, EEF_FILE, 22),
    ]


def test_example_10_without_expression(rows):
    found = quzcif(rows, "EEF", "2014-03-01", "12:00:00", "-")
    assert len(found) == 24
    assert [xno for _, _, xno in found] == list(range(1, 25))
    assert [number for number, _, _ in found] == list(range(3, 27))
    assert {name for _, name, _ in found} == {EEF_FILE}


def test_example_1_explained(rows):
    request = Query.create("XRT", "TELDEF", time_mjd=requested_mjd("2014-03-01", "00:00:00", NOW))
    selection = select(rows, request, explain=True)
    numbers = {id(row): number for number, row in enumerate(rows, start=1)}
    by_reason: dict[Reason, list[int]] = {}
    for rejection in selection.rejections:
        by_reason.setdefault(rejection.reason, []).append(numbers[id(rejection.candidate)])
    assert (
        by_reason
        == {
            Reason.QUALITY: [49, 98, 181, 182, 229],  # older TELDEF versions flagged 5
            Reason.SUPERSEDED: TELDEF_ROWS[:18],
            Reason.LATER_VALIDITY: [697, 698, 699],
        }
    )


def test_every_boundary_of_the_cif_parses(rows):
    cbds = {cbd for row in rows for cbd in row.cal_cbd}
    parsed = {cbd: parse_boundary(cbd) for cbd in cbds}
    assert parsed.pop("NONE") is None
    assert all(boundary is not None for boundary in parsed.values())
    assert len(parsed) > 40


@pytest.mark.parametrize(
    ("cbd", "descriptors"),
    [
        ("GRADE(G0:12)", (Text("G0:12"),)),
        ('GRADE("0:12")', (Text("0:12"),)),
        ('CHANTYPE("PI")', (Text("PI"),)),
        ("DATAMODE(PHOTON,WINDOWED)", (Text("PHOTON"), Text("WINDOWED"))),
    ],
)
def test_cif_contains_the_typed_boundaries_of_the_reference(rows, cbd, descriptors):
    assert any(cbd in row.cal_cbd for row in rows)
    assert parse_boundary(cbd).descriptors == descriptors
