"""The quzcif selection rules on small, hand-made candidate lists (reference §4.3-4.4)."""

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caldb_selection import ANY, Query, Reason, parse_expression, select

FUZZ = settings(max_examples=200, deadline=None)
NONES = ("NONE",) * 9
JAN_2001 = 51910.0  # 2001-01-01T00:00:00
JAN_2005 = 53371.0  # 2005-01-01T00:00:00
JAN_2010 = 55197.0  # 2010-01-01T00:00:00


@dataclass(frozen=True)
class Row:
    """A minimal Candidate; ``name`` only identifies it in assertions."""

    name: str
    ref_time: float = JAN_2001
    instrume: str = "XRT"
    detnam: str = "NONE"
    filter: str = "NONE"
    cal_cnam: str = "GAIN"
    cal_qual: int = 0
    cal_cbd: tuple[str, ...] = NONES


def cbds(*boundaries: str) -> tuple[str, ...]:
    return (*boundaries, *NONES[len(boundaries) :])


def query(time_mjd: float | None = None, expression: str = "-", **names: str) -> Query:
    return Query.create(
        names.pop("instrument", "XRT"),
        names.pop("codename", "GAIN"),
        expression=parse_expression(expression),
        time_mjd=time_mjd,
        **names,
    )


def selected_names(rows: list[Row], request: Query) -> list[str]:
    return [row.name for row in select(rows, request).selected]


def rejected(rows: list[Row], request: Query) -> list[tuple[str, Reason]]:
    return [(r.candidate.name, r.reason) for r in select(rows, request, explain=True).rejections]


# --- Query.create ---------------------------------------------------------------------------


def test_query_create_normalises_names():
    request = Query.create(" xrt ", " gain ", detector=" pc ", filter=" open ")
    assert (request.instrument, request.codename) == ("XRT", "GAIN")
    assert (request.detector, request.filter) == ("PC", "OPEN")


@pytest.mark.parametrize("value", [None, "", "   ", "-", " - "])
def test_query_create_blank_detector_and_filter_mean_anything(value):
    request = Query.create("XRT", "GAIN", detector=value, filter=value)
    assert (request.detector, request.filter) == ("-", "-")


def test_query_create_defaults_and_passthrough():
    assert Query.create("XRT", "GAIN") == Query("XRT", "GAIN", "-", "-", ANY, None)
    expression = parse_expression("xrtvsub.eq.6")
    request = Query.create("XRT", "GAIN", expression=expression, time_mjd=JAN_2005)
    assert (request.expression, request.time_mjd) == (expression, JAN_2005)


# --- static rules ---------------------------------------------------------------------------


def test_instrument_and_codename_are_compared_case_insensitively():
    rows = [
        Row("upper"),
        Row("lower", instrume="xrt", cal_cnam="gain"),
        Row("other instrument", instrume="BAT"),
        Row("other codename", cal_cnam="MATRIX"),
        Row("prefix", instrume="XRT1"),
    ]
    assert selected_names(rows, query(instrument="xrt", codename="Gain")) == ["upper", "lower"]


def test_other_instruments_and_codenames_are_not_rejections():
    rows = [Row("other instrument", instrume="BAT"), Row("other codename", cal_cnam="MATRIX")]
    selection = select(rows, query(), explain=True)
    assert (selection.selected, selection.rejections) == ((), ())


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("PC", ["pc", "PC lower", "none"]),
        ("pc", ["pc", "PC lower", "none"]),
        ("WT", ["wt", "none"]),
        ("NONE", ["none"]),
        ("-", ["pc", "PC lower", "wt", "none"]),
        (None, ["pc", "PC lower", "wt", "none"]),
    ],
)
def test_detector_matches_equal_or_none_rows(requested, expected):
    rows = [
        Row("pc", detnam="PC"),
        Row("PC lower", detnam="pc"),
        Row("wt", detnam="WT"),
        Row("none", detnam="NONE"),
    ]
    assert selected_names(rows, query(detector=requested)) == expected


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("OPEN", ["open", "none"]),
        ("open", ["open", "none"]),
        ("-", ["open", "closed", "none"]),
        ("", ["open", "closed", "none"]),
    ],
)
def test_filter_matches_equal_or_none_rows(requested, expected):
    rows = [Row("open", filter="OPEN"), Row("closed", filter="CLOSED"), Row("none", filter="none")]
    assert selected_names(rows, query(filter=requested)) == expected


@pytest.mark.parametrize("quality", [1, 5, -1])
def test_bad_quality_is_excluded(quality):
    rows = [Row("good"), Row("bad", cal_qual=quality)]
    assert selected_names(rows, query()) == ["good"]
    assert rejected(rows, query()) == [("bad", Reason.QUALITY)]


def test_boundary_failure_is_excluded():
    rows = [Row("s6", cal_cbd=cbds("XRTVSUB(6)")), Row("s0", cal_cbd=cbds("XRTVSUB(0)"))]
    assert selected_names(rows, query(expression="xrtvsub.eq.6")) == ["s6"]
    assert rejected(rows, query(expression="xrtvsub.eq.6")) == [("s0", Reason.BOUNDARY)]


def test_static_rules_are_checked_in_order():
    row = Row("everything wrong", detnam="WT", filter="CLOSED", cal_qual=5, cal_cbd=cbds("X(1)"))
    request = query(detector="PC", filter="OPEN", expression="x.eq.2")
    assert rejected([row], request) == [("everything wrong", Reason.DETECTOR)]
    assert rejected([row], query(filter="OPEN", expression="x.eq.2")) == [
        ("everything wrong", Reason.FILTER)
    ]
    assert rejected([row], query(expression="x.eq.2")) == [("everything wrong", Reason.QUALITY)]


# --- time -----------------------------------------------------------------------------------

EPOCHS = [
    Row("2001", ref_time=JAN_2001),
    Row("2005", ref_time=JAN_2005),
    Row("2010", ref_time=JAN_2010),
]


@pytest.mark.parametrize(
    ("time_mjd", "expected", "epoch"),
    [
        (JAN_2005 + 0.5, ["2005"], JAN_2005),
        (JAN_2005, ["2005"], JAN_2005),  # REF_TIME == t is valid
        (JAN_2005 - 1e-6, ["2001"], JAN_2001),
        (JAN_2010 + 1000, ["2010"], JAN_2010),
        (JAN_2001, ["2001"], JAN_2001),
        (JAN_2001 - 0.5, [], None),  # nothing before the first epoch
    ],
)
def test_latest_validity_start_not_after_t_wins(time_mjd, expected, epoch):
    selection = select(EPOCHS, query(time_mjd))
    assert [row.name for row in selection.selected] == expected
    assert selection.epoch_mjd == epoch
    assert selection.nfound == len(expected)


def test_no_time_returns_every_epoch():
    selection = select(EPOCHS, query(None))
    assert [row.name for row in selection.selected] == ["2001", "2005", "2010"]
    assert selection.epoch_mjd is None
    assert selection.nfound == 3


def test_input_order_does_not_decide_the_epoch():
    rows = list(reversed(EPOCHS))
    assert selected_names(rows, query(JAN_2005 + 1)) == ["2005"]


def test_ties_are_all_returned_in_input_order():
    rows = [
        Row("b", ref_time=JAN_2005),
        Row("old", ref_time=JAN_2001),
        Row("a", ref_time=JAN_2005),
        Row("c", ref_time=JAN_2005, detnam="PC"),
    ]
    selection = select(rows, query(JAN_2005 + 1))
    assert [row.name for row in selection.selected] == ["b", "a", "c"]
    assert selection.nfound == 3


def test_epoch_is_chosen_among_rows_that_pass_the_static_rules():
    rows = [
        Row("good old", ref_time=JAN_2001, cal_cbd=cbds("XRTVSUB(6)")),
        Row("bad quality", ref_time=JAN_2005, cal_qual=5),
        Row("other substrate", ref_time=JAN_2005, cal_cbd=cbds("XRTVSUB(0)")),
        Row("other detector", ref_time=JAN_2005, detnam="WT"),
    ]
    request = query(JAN_2010, expression="xrtvsub.eq.6", detector="PC")
    selection = select(rows, request)
    assert [row.name for row in selection.selected] == ["good old"]
    assert selection.epoch_mjd == JAN_2001


def test_select_accepts_any_iterable_and_returns_the_rows_themselves():
    rows = [Row("a"), Row("b")]
    selection = select(iter(rows), query())
    assert selection.selected[0] is rows[0]
    assert selection.selected[1] is rows[1]


@FUZZ
@given(
    st.lists(st.integers(0, 5).map(float), max_size=8),
    st.one_of(st.none(), st.integers(-1, 6).map(float)),
)
def test_selection_is_the_latest_epoch_not_after_t(ref_times, time_mjd):
    rows = [Row(str(index), ref_time=value) for index, value in enumerate(ref_times)]
    if time_mjd is None:
        expected = rows
    else:
        epoch = max((t for t in ref_times if t <= time_mjd), default=None)
        expected = [row for row in rows if row.ref_time == epoch]
    assert list(select(rows, query(time_mjd)).selected) == expected


# --- explain --------------------------------------------------------------------------------

MIXED = [
    Row("later", ref_time=JAN_2010),
    Row("detector", detnam="WT"),
    Row("chosen", ref_time=JAN_2005),
    Row("quality", cal_qual=5),
    Row("other instrument", instrume="BAT"),
    Row("superseded", ref_time=JAN_2001),
    Row("filter", filter="CLOSED"),
    Row("boundary", cal_cbd=cbds("DATAMODE(PHOTON)", "XRTVSUB(0)")),
]
MIXED_QUERY = query(JAN_2005 + 1, "xrtvsub.eq.6", detector="PC", filter="OPEN")


def test_explain_returns_every_rejection_in_input_order():
    selection = select(MIXED, MIXED_QUERY, explain=True)
    assert [row.name for row in selection.selected] == ["chosen"]
    assert [(r.candidate.name, r.reason) for r in selection.rejections] == [
        ("later", Reason.LATER_VALIDITY),
        ("detector", Reason.DETECTOR),
        ("quality", Reason.QUALITY),
        ("superseded", Reason.SUPERSEDED),
        ("filter", Reason.FILTER),
        ("boundary", Reason.BOUNDARY),
    ]


def test_without_explain_there_are_no_rejections():
    selection = select(MIXED, MIXED_QUERY)
    assert [row.name for row in selection.selected] == ["chosen"]
    assert selection.rejections == ()


def test_explain_does_not_change_the_selection():
    plain, explained = select(MIXED, MIXED_QUERY), select(MIXED, MIXED_QUERY, explain=True)
    assert (plain.selected, plain.epoch_mjd) == (explained.selected, explained.epoch_mjd)


def test_rejection_carries_the_candidate_itself():
    rejection = select(MIXED, MIXED_QUERY, explain=True).rejections[0]
    assert rejection.candidate is MIXED[0]


@pytest.mark.parametrize(
    ("reason", "value"),
    [
        (Reason.DETECTOR, "detector"),
        (Reason.FILTER, "filter"),
        (Reason.QUALITY, "quality"),
        (Reason.BOUNDARY, "boundary"),
        (Reason.LATER_VALIDITY, "later_validity"),
        (Reason.SUPERSEDED, "superseded"),
    ],
)
def test_reason_values(reason, value):
    assert reason == value
    assert str(reason) == value


def test_reason_has_exactly_the_documented_members():
    assert len(Reason) == 6


def details() -> dict[str, str]:
    rejections = select(MIXED, MIXED_QUERY, explain=True).rejections
    return {r.candidate.name: r.detail for r in rejections}


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("detector", ["DETNAM WT", "PC", "NONE"]),
        ("filter", ["FILTER CLOSED", "OPEN", "NONE"]),
        ("quality", ["CAL_QUAL is 5"]),
        ("boundary", ["XRTVSUB(0)", "XRTVSUB.EQ.6"]),
        ("later", ["2010-01-01T00:00:00", "after the requested time"]),
        ("superseded", ["2001-01-01T00:00:00", "2005-01-01T00:00:00", "superseded"]),
    ],
)
def test_rejection_details_state_the_key_fact(name, fragments):
    detail = details()[name]
    for fragment in fragments:
        assert fragment in detail


def test_boundary_detail_names_only_the_failing_parameter():
    detail = details()["boundary"]
    assert "DATAMODE" not in detail


def test_boundary_detail_ignores_unparsable_boundaries():
    row = Row("odd", cal_cbd=cbds("BAD(", "XRTVSUB(0)"))
    (rejection,) = select([row], query(expression="xrtvsub.eq.6"), explain=True).rejections
    assert rejection.reason is Reason.BOUNDARY
    assert "XRTVSUB(0)" in rejection.detail
    assert "BAD(" not in rejection.detail


def test_boundary_detail_lists_every_slot_of_a_repeated_parameter():
    row = Row("twice", cal_cbd=cbds("DATAMODE(PHOTON)", "DATAMODE(PHOTON,WINDOWED)"))
    (rejection,) = select([row], query(expression="datamode.eq.WINDOWED"), explain=True).rejections
    assert "DATAMODE(PHOTON), DATAMODE(PHOTON,WINDOWED)" in rejection.detail


def test_explain_before_the_first_epoch_rejects_everything_as_later():
    selection = select(EPOCHS, query(JAN_2001 - 1), explain=True)
    assert selection.selected == ()
    assert [r.reason for r in selection.rejections] == [Reason.LATER_VALIDITY] * 3


def test_explain_without_time_has_no_time_rejections():
    rows = [*EPOCHS, Row("bad", cal_qual=5)]
    selection = select(rows, query(None), explain=True)
    assert [r.reason for r in selection.rejections] == [Reason.QUALITY]
