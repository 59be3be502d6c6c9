"""``caldb_common.console``: the ``error:`` line, the exit code and the plain ``--help`` text."""

from __future__ import annotations

import pytest

from caldb_common.console import exit_code_for, help_summary, report_failure


class Refused(Exception):
    pass


class NotThere(LookupError):
    pass


CODES = {Refused: 3, LookupError: 5}


def test_report_failure_prints_one_prefixed_line_on_stderr_and_returns_the_code(capsys):
    assert report_failure("the file is missing", 2) == 2
    assert report_failure(NotThere("no such dataset"), 5, prefix="caldbio") == 5
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: the file is missing\ncaldbio: no such dataset\n"


@pytest.mark.parametrize(
    ("error", "code"),
    [(Refused("x"), 3), (NotThere("x"), 5), (KeyError("x"), 5), (ValueError("x"), 1)],
    ids=["exact kind", "subclass", "another subclass", "not in the table"],
)
def test_exit_code_for_takes_the_first_kind_that_matches(error, code):
    assert exit_code_for(error, CODES) == code


def test_exit_code_for_an_unknown_kind_is_the_default():
    assert exit_code_for(ValueError("x"), CODES, default=9) == 9
    assert exit_code_for(ValueError("x"), {}) == 1


@pytest.mark.parametrize(
    ("docstring", "summary"),
    [
        ("The ``caldbio`` command.\n\nMore.", "The caldbio command."),
        ("Uses :func:`run` and\n   :mod:`~a.b`.", "Uses run and a.b."),
        ("  plain  ", "plain"),
        ("", ""),
        (None, ""),
        ("An unclosed ``literal", "An unclosed ``literal"),
    ],
)
def test_help_summary_is_the_first_paragraph_in_plain_text(docstring, summary):
    assert help_summary(docstring) == summary
