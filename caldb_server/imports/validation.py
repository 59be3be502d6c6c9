"""Checking the rows of an imported CIF before anything is written.

Every check depends on a few values of a row (its path, its validity start, its
boundaries...), and a large index repeats them: a file's HDUs share the path and the
date, every file of a codename shares the boundaries. So each check runs once per
distinct value and its answer is reused, which keeps a 100 000-row index to a fraction of
a second, with the problems and notes of every row in the same order as one row at a time.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Hashable
from operator import attrgetter, itemgetter
from typing import Any, TypeVar

from caldb_selection import (
    BoundaryError,
    TimeSpecError,
    format_boundary,
    normalise_validity_date,
    parse_boundary,
    parse_time_of_day,
    ref_time,
)
from caldb_selection.heasoft import blank_led_numbers
from caldb_server import storage
from caldb_server.catalogue.indexes import index_dir_of
from caldb_server.errors import ValidationFailed
from caldb_server.heasarc.cif import CBD_WIDTH, CIF_COLUMNS, CifProblem, CifRow

__all__ = ["normalised", "validate"]

# A REF_TIME may be written by other software with another rounding: 0.1 s is plenty.
REF_TIME_TOLERANCE_DAYS = 1e-6
_NAMES = ("telescop", "instrume", "detnam", "filter", "cal_cnam")
_PRINTABLE = re.compile(r"[ -~]*", re.ASCII)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _memo(compute: Callable[[K], V]) -> Callable[[K], V]:
    """``compute`` answered once per distinct argument (for one import: no unbounded cache)."""
    answers: dict[K, V] = {}

    def answer(key: K) -> V:
        try:
            return answers[key]
        except KeyError:
            answers[key] = value = compute(key)
            return value

    return answer


def _name_of(text: str) -> str:
    return text.strip().upper()


def normalised(rows: list[CifRow]) -> list[CifRow]:
    """Selection names upper case and stripped, as udcif writes them (rows already so kept)."""
    name_of = _memo(_name_of)
    result = []
    for row in rows:
        names: dict[str, Any] = {name: name_of(getattr(row, name)) for name in _NAMES}
        changed = any(getattr(row, name) != value for name, value in names.items())
        result.append(dataclasses.replace(row, **names) if changed else row)
    return result


def _path_problems(place: tuple[str, str]) -> list[str]:
    cal_dir, cal_file = place
    problems = []
    try:
        storage.check_relative_dir(cal_dir)
        storage.check_file_name(cal_file)
    except storage.UnsafePathError as error:
        problems.append(str(error))
    if not cal_dir.startswith("data/"):
        problems.append(f"CAL_DIR {cal_dir} is not under data/")
    return problems


def _time_problems(start: tuple[str, str, float]) -> list[str]:
    cal_vsd, cal_vst, given = start
    try:
        expected = ref_time(cal_vsd, cal_vst, lenient=True)
    except TimeSpecError as error:
        return [f"CAL_VSD/CAL_VST: {error}"]
    if not math.isfinite(given) or abs(given - expected) > REF_TIME_TOLERANCE_DAYS:
        return [f"REF_TIME {given!r} is not CAL_VSD {cal_vsd} {cal_vst} ({expected!r})"]
    return []


def _value_problems(column: tuple[str, str, Any]) -> list[str]:
    """What a HEASARC CIF column cannot hold: the index must stay exportable (and storable)."""
    name, tform, value = column
    if tform == "I":
        return [] if -32768 <= value <= 32767 else [f"{name} {value} does not fit a 16-bit integer"]
    if tform == "D":
        return []
    width = CBD_WIDTH if name == "CAL_CBD" else int(tform.removesuffix("A"))
    reasons = []
    for text in value if name == "CAL_CBD" else (value,):
        if len(text) > width:
            reasons.append(f"{name} {text!r} is longer than the CIF column ({width})")
        elif not _PRINTABLE.fullmatch(text):
            reasons.append(f"{name} {text!r} holds a character that is not printable ASCII")
    return reasons


def _boundary_problems(cal_cbd: tuple[str, ...]) -> list[str]:
    reasons = []
    for cbd in cal_cbd:
        try:
            parse_boundary(cbd, lenient=True)
        except BoundaryError as error:
            reasons.append(f"CAL_CBD: {error}")
    return reasons


def _strictly(parse: Callable[[str], object], text: str) -> bool:
    """Whether the strict reading (that of new uploads) accepts ``text`` too."""
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _boundary_notes(cal_cbd: tuple[str, ...]) -> list[str]:
    """How boundaries that only HEASoft's reading accepts were read."""
    notes = []
    for cbd in cal_cbd:
        meaning = format_boundary(parse_boundary(cbd, lenient=True))
        if not _strictly(parse_boundary, cbd):
            notes.append(f"CAL_CBD {cbd!r} read as HEASoft reads it: {meaning}")
        if texts := blank_led_numbers(cbd):
            notes.append(
                f"CAL_CBD {cbd!r} read as {meaning}, but quzcif reads "
                f"{', '.join(map(repr, texts))} as text (a blank comes first): "
                "no requested number matches it there"
            )
    return notes


def _start_notes(start: tuple[str, str]) -> list[str]:
    """How a validity start that only HEASoft's reading accepts was read."""
    cal_vsd, cal_vst = start
    notes = []
    if not _strictly(normalise_validity_date, cal_vsd):
        meaning = normalise_validity_date(cal_vsd, lenient=True)[0]
        notes.append(f"CAL_VSD {cal_vsd!r} read as HEASoft reads it: {meaning}")
    if not _strictly(parse_time_of_day, cal_vst):
        seconds = parse_time_of_day(cal_vst, lenient=True)
        notes.append(f"CAL_VST {cal_vst!r} read as HEASoft reads it: {seconds:g} s")
    return notes


def _bad_values(rows: list[CifRow]) -> list[tuple[str, dict[Any, list[str]]]]:
    """Per CIF column, the values a CIF cannot hold and why: each distinct value checked once.

    Only the columns with at least one such value are returned, so that rows are looked at
    again only in those columns (none, for a sound index).
    """
    bad = []
    for name, tform in CIF_COLUMNS:
        values = set(map(attrgetter(name.lower()), rows))
        reasons = {value: why for value in values if (why := _value_problems((name, tform, value)))}
        if reasons:
            bad.append((name.lower(), reasons))
    return bad


def _row_checks(rows: list[CifRow]) -> Callable[[CifRow], list[str]]:
    """Every reason a row cannot be imported, each check memoised for this import."""
    path, time = _memo(_path_problems), _memo(_time_problems)
    boundaries = _memo(_boundary_problems)
    bad_columns = _bad_values(rows)

    def problems(row: CifRow) -> list[str]:
        reasons = path((row.cal_dir, row.cal_file)) + time((row.cal_vsd, row.cal_vst, row.ref_time))
        for field, bad in bad_columns:
            reasons += bad.get(getattr(row, field), [])
        if row.cal_xno < 0:
            reasons.append(f"CAL_XNO {row.cal_xno} is negative")
        if row.cal_qual < 0:  # the catalogue's check constraint would refuse it
            reasons.append(f"CAL_QUAL {row.cal_qual} is negative")
        return reasons + boundaries(row.cal_cbd)

    return problems


def _index_problems(rows: list[CifRow]) -> list[dict[str, object]]:
    """One mission per index, and one directory per file name within an index."""
    missions: dict[str, set[str]] = {}
    directories: dict[tuple[str, str], set[str]] = {}
    index_of = _memo(index_dir_of)
    for row in rows:
        index = index_of(row.cal_dir)
        missions.setdefault(index, set()).add(row.telescop)
        directories.setdefault((index, row.cal_file), set()).add(row.cal_dir)
    problems: list[dict[str, object]] = [
        {"reason": f"{index} would hold several missions: {', '.join(sorted(names))}"}
        for index, names in missions.items()
        if len(names) > 1
    ]
    problems += [
        {"reason": f"{name} is in several directories of {index}: {', '.join(sorted(dirs))}"}
        for (index, name), dirs in directories.items()
        if len(dirs) > 1
    ]
    return problems


def validate(rows: list[CifRow], unreadable: tuple[CifProblem, ...]) -> list[str]:
    """Check every row; refuse the whole index listing each problem, or return the notes.

    Raises
    ------
    ValidationFailed
        Listing every problem of every row, with the row number (from 1, as fv shows it).
    """
    problems: list[dict[str, Any]] = [
        {"row": problem.row, "reason": problem.reason} for problem in unreadable
    ]
    notes = []
    row_problems = _row_checks(rows)
    boundary_notes, start_notes = _memo(_boundary_notes), _memo(_start_notes)
    for position, row in enumerate(rows, start=1):  # fv numbers rows from 1
        if reasons := row_problems(row):
            problems += [{"row": position, "reason": reason} for reason in reasons]
            continue
        for note in boundary_notes(row.cal_cbd) + start_notes((row.cal_vsd, row.cal_vst)):
            notes.append(f"row {position}: {note}")
    problems.sort(key=itemgetter("row"))
    problems += _index_problems(rows)
    if problems:
        bad_rows = len({problem["row"] for problem in problems if "row" in problem})
        raise ValidationFailed(
            f"the index cannot be imported: {len(problems)} problem(s) in {bad_rows} row(s)",
            errors=problems,
        )
    return notes
