"""Whole-number query values (search ``maxret``, listing ``after`` and ``limit``): one rule.

Both endpoints read them with :func:`caldb_server.web.parse_bounded_integer`: ASCII digits
only, in range, and always the same one-sentence reason; never Python's own message (a very
long number makes ``int()`` suggest ``sys.set_int_max_str_digits``).
"""

from __future__ import annotations

import pytest

from caldb_server.web import parse_bounded_integer
from tests.helpers import assert_problem

HUGE = "9" * 5000  # beyond int()'s 4 300-digit limit for strings
BAD_VALUES = [
    "", "0", "10001", HUGE, "-1", "+5", " 5", "5 ", "1_0", "1e3", "\uff15",
]  # fmt: skip


@pytest.mark.parametrize("text", BAD_VALUES)
def test_a_bad_maxret_gets_the_range_sentence(client, text):
    response = client.get(
        "/api/v1/search", query_string={"instrument": "MXT", "codename": "GAIN", "maxret": text}
    )
    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "maxret", "reason": "must be an integer from 1 to 10000"}]


@pytest.mark.parametrize("field", ["after", "limit"])
@pytest.mark.parametrize("text", [HUGE, "-1", "\uff11", "ten"])
def test_a_bad_listing_number_gets_the_range_sentence(client, field, text):
    response = client.get("/api/v1/datasets", query_string={"instrument": "MXT", field: text})
    body = assert_problem(response, 422)
    (error,) = body["errors"]
    assert error["field"] == field
    assert error["reason"].startswith("must be an integer from ")
    assert "sys." not in error["reason"]


@pytest.mark.parametrize(
    ("text", "value"), [("1", 1), ("10000", 10000), ("007", 7), ("0" * 5000 + "42", 42)]
)
def test_whole_numbers_in_range_are_read(text, value):
    assert parse_bounded_integer(text, 1, 10000) == value


def test_zero_is_read_when_the_range_starts_there():
    assert parse_bounded_integer("0", 0, 5) == 0
    assert parse_bounded_integer("000", 0, 5) == 0
