"""Dates and times: REF_TIME of validity starts and the instant of a request."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from caldb_selection import (
    TimeSpecError,
    normalise_validity_date,
    parse_time_of_day,
    ref_time,
    requested_mjd,
)
from caldb_selection.timespec import mjd_to_datetime, parse_as_of

FUZZ = settings(max_examples=200, deadline=None)
NOW = datetime(2012, 6, 16, 2, 20, 47, tzinfo=UTC)
NOW_MJD = 56094.0977662037
MIDNIGHT_2001 = 51910.0


# --- REF_TIME ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vsd", "vst", "expected"),
    [
        ("2001-01-01", "00:00:00", 51910.0),
        ("2012-06-16", "02:20:47", 56094.0977662037),
        ("1858-11-17", "00:00:00", 0.0),
        ("2012-06-16", "12:00:00", 56094.5),
        ("01/01/01", "00:00:00", 15385.0),
        ("16/06/12", "00:00:00", 19569.0),
        ("2012-06-30", "23:59:60", 56109.0),
    ],
)
def test_ref_time(vsd, vst, expected):
    assert ref_time(vsd, vst) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("vsd", "vst"), [("2001-02-29", "00:00:00"), ("2001-01-01", "24:00:00")])
def test_ref_time_rejects_invalid_values(vsd, vst):
    with pytest.raises(TimeSpecError):
        ref_time(vsd, vst)


@FUZZ
@given(st.dates(min_value=date(1858, 11, 17), max_value=date(9998, 12, 31)))
def test_ref_time_counts_days(day):
    following = day + timedelta(days=1)
    assert ref_time(following.isoformat(), "00:00:00") - ref_time(day.isoformat(), "00:00:00") == 1
    assert ref_time(day.isoformat(), "00:00:00") == (day - date(1858, 11, 17)).days


# --- CVSD -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2001-01-01", ("2001-01-01", False)),
        (" 2001-01-01 ", ("2001-01-01", False)),
        ("2000-02-29", ("2000-02-29", False)),
        ("31/12/99", ("1999-12-31", True)),
        ("01/01/00", ("1900-01-01", True)),
        ("29/02/96", ("1996-02-29", True)),
        ("16/06/12", ("1912-06-16", True)),
    ],
)
def test_normalise_validity_date(text, expected):
    assert normalise_validity_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2001-02-29",
        "2100-02-29",
        "2001-13-01",
        "2001-00-10",
        "2001-04-31",
        "0000-01-01",
        "29/02/00",  # 1900 is not a leap year
        "01/13/99",
        "32/01/99",
        "00/01/99",
        "2001/01/01",
        "2001-1-1",
        "01-01-2001",
        "1/1/99",
        "01/01/1999",
        "2001-01-01T00:00:00",
        "now",
        "",
    ],
)
def test_normalise_validity_date_rejects(text):
    with pytest.raises(TimeSpecError):
        normalise_validity_date(text)


# --- time of day ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:00", 0.0),
        ("02:20:47", 8447.0),
        ("12:00:00", 43200.0),
        (" 12:00:00 ", 43200.0),
        ("23:59:59", 86399.0),
        ("23:59:59.5", 86399.5),
        ("23:59:60", 86400.0),  # leap second
        ("23:59:60.999", 86400.999),
    ],
)
def test_parse_time_of_day(text, expected):
    assert parse_time_of_day(text) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    "text",
    [
        "24:00:00",
        "25:00:00",
        "23:60:00",
        "23:59:61",
        "1:00:00",
        "12:00",
        "12:00:00:00",
        "12:00:00.",
        "12h00m00s",
        "aa:bb:cc",
        "now",
        "-",
        "",
    ],
)
def test_parse_time_of_day_rejects(text):
    with pytest.raises(TimeSpecError):
        parse_time_of_day(text)


@FUZZ
@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 60))
def test_time_of_day_in_seconds(hours, minutes, seconds):
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    assert parse_time_of_day(text) == hours * 3600 + minutes * 60 + seconds


# --- the requested instant ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date_text", "time_text", "expected"),
    [
        (None, None, NOW_MJD),
        ("now", None, NOW_MJD),
        ("NOW", None, NOW_MJD),
        (" now ", None, NOW_MJD),
        ("now", "now", NOW_MJD),
        ("now", "-", 56094.0),
        ("now", "12:00:00", 56094.5),
        (None, "12:00:00", 56094.5),
        ("2001-01-01", None, MIDNIGHT_2001),
        ("2001-01-01", "-", MIDNIGHT_2001),
        ("2001-01-01", "", MIDNIGHT_2001),
        ("2001-01-01", "12:00:00", MIDNIGHT_2001 + 0.5),
        ("2001-01-01", "now", MIDNIGHT_2001 + 0.0977662037),
        ("2001-01-01", "NOW", MIDNIGHT_2001 + 0.0977662037),
        ("16/06/12", None, 19569.0),
        ("2012-06-16T02:20:47", None, NOW_MJD),
        ("2012-06-16T02:20:47", "-", NOW_MJD),
        ("2012-06-16T02:20:47Z", None, NOW_MJD),
        ("2012-06-16T04:20:47+02:00", None, NOW_MJD),
        ("2012-06-15T21:20:47-05:00", None, NOW_MJD),
        ("2012-06-16T12:00:00.5", None, 56094.5 + 0.5 / 86400),
    ],
)
def test_requested_mjd(date_text, time_text, expected):
    assert requested_mjd(date_text, time_text, NOW) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("date_text", "time_text"), [("-", None), ("-", "-"), (" - ", "")])
def test_dash_date_means_every_epoch(date_text, time_text):
    assert requested_mjd(date_text, time_text, NOW) is None


def test_now_is_taken_in_utc():
    now = datetime(2012, 6, 17, 1, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert requested_mjd(None, None, now) == pytest.approx(56094 + 23 / 24, abs=1e-9)
    assert requested_mjd("2001-01-01", "now", now) == pytest.approx(51910 + 23 / 24, abs=1e-9)


@pytest.mark.parametrize(
    ("date_text", "time_text"),
    [
        ("-", "12:00:00"),
        ("-", "now"),
        ("2012-06-16T02:20:47", "00:00:00"),
        ("2012-06-16T02:20:47", "now"),
        ("2012-06-16T25:00:00", None),
        ("2012-06-16T", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("9999-12-31T23:00:00-05:00", None),
        ("2001-02-29", None),
        ("2001-01-01", "24:00:00"),
        ("now", "12:00"),
        ("today", None),
        ("yesterday", None),
        ("2012-06-16 02:20:47", None),
        ("", None),
    ],
)
def test_requested_mjd_rejects(date_text, time_text):
    with pytest.raises(TimeSpecError):
        requested_mjd(date_text, time_text, NOW)


def test_time_spec_error_is_a_value_error():
    assert issubclass(TimeSpecError, ValueError)


def test_mjd_to_datetime():
    instant = mjd_to_datetime(NOW_MJD)
    assert abs(instant - NOW) < timedelta(milliseconds=1)
    assert mjd_to_datetime(51910.0) == datetime(2001, 1, 1, tzinfo=UTC)


# --- never another exception ----------------------------------------------------------------

OVERFLOWING = "0001-01-01T00:00:00+01:00"


@FUZZ
@given(st.text())
@example("31/02/99")
@example("2001-02-30")
def test_any_text_is_a_validity_date_or_raises_time_spec_error(text):
    try:
        iso, legacy = normalise_validity_date(text)
    except TimeSpecError:
        return
    assert date.fromisoformat(iso).isoformat() == iso
    assert isinstance(legacy, bool)


@FUZZ
@given(st.text())
@example("24:00:00")
def test_any_text_is_a_time_of_day_or_raises_time_spec_error(text):
    try:
        seconds = parse_time_of_day(text)
    except TimeSpecError:
        return
    assert 0 <= seconds < 86401


@FUZZ
@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
@example(OVERFLOWING, None)
@example("9999-12-31T23:00:00-05:00", None)
@example("-", "12:00:00")
def test_any_text_is_a_request_or_raises_time_spec_error(date_text, time_text):
    try:
        mjd = requested_mjd(date_text, time_text, NOW)
    except TimeSpecError:
        return
    assert mjd is None or isinstance(mjd, float)


@FUZZ
@given(st.text(alphabet="0123456789-:T+Z. /nowNOW", max_size=30))
@example(OVERFLOWING)
def test_date_like_text_is_a_request_or_raises_time_spec_error(date_text):
    try:
        mjd = requested_mjd(date_text, None, NOW)
    except TimeSpecError:
        return
    assert mjd is None or isinstance(mjd, float)


@pytest.mark.parametrize(
    "text", ["\u0662\u0660\u0660\u0661-01-01", "2001-01-0\u0661", "\u0662001-01-01T00:00:00"]
)
def test_non_ascii_digits_are_not_dates(text):
    with pytest.raises(TimeSpecError):
        requested_mjd(text, None, NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01", datetime(2025, 6, 1, tzinfo=UTC)),
        ("2025-06-01T12:30", datetime(2025, 6, 1, 12, 30, tzinfo=UTC)),
        ("2025-06-01 12:30:15.5", datetime(2025, 6, 1, 12, 30, 15, 500000, tzinfo=UTC)),
        ("2025-06-01T12:00:00+02:00", datetime(2025, 6, 1, 10, tzinfo=UTC)),
        ("2025-06-01T00:00:00Z", datetime(2025, 6, 1, tzinfo=UTC)),
    ],
)
def test_an_as_of_instant_is_read_in_utc(text, expected):
    assert parse_as_of(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", " 2025-06-01", "20250601T120000", "2025-06-01T12", "2025-13-01", "0000-01-01",
     "2025-06-01T12:00:00\x00", "٢٠٢٥-06-01", "yesterday", "0001-01-01T00:00:00+01:00"],
)  # fmt: skip
def test_what_is_not_an_as_of_instant_is_refused(text):
    with pytest.raises(ValueError, match="not an ISO 8601"):
        parse_as_of(text)


@pytest.mark.parametrize(("mjd", "year"), [(1e12, 9999), (-1e12, 1), (float(2**62), 9999)])
def test_an_mjd_beyond_the_representable_years_is_shown_at_their_edge(mjd, year):
    assert mjd_to_datetime(mjd).year == year
