"""Table columns: TFIELDS, TFORMn and the keywords indexed by column (FITS Standard §7.2-7.3).

Every column 1..TFIELDS has one valid TFORMn, no column keyword names a column past
TFIELDS, a binary table's row (NAXIS1) is exactly its columns' widths, an ASCII table's
columns (TBCOLn) lie inside its row, and scaling or null keywords only go with the
column types they can apply to. These are the errors CFITSIO refuses to open a table
for, or that fitsverify reports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from caldb_server.ingest.cards import Card
from caldb_server.ingest.checks import Check

__all__ = ["INDEXED", "check_columns", "indexed_keyword"]

INDEXED = re.compile(
    r"(TTYPE|TFORM|TUNIT|TDISP|TNULL|TSCAL|TZERO|TDIM|TBCOL|TCTYP|TCUNI|TCRVL|TCDLT|TCRPX|TCROT)"
    r"(\d+)"
)
# Bytes per element of each binary table type (X is bits, rounded up to whole bytes).
_WIDTHS = {"L": 1, "X": 1, "B": 1, "I": 2, "J": 4, "K": 8, "A": 1, "E": 4, "D": 8, "C": 8, "M": 16}
_DESCRIPTORS = {"P": 8, "Q": 16}
_BINARY_FORM = re.compile(r"(\d*)([LXBIJKAEDCM])(\d*)")  # rAw: the character-width convention
_VARIABLE_FORM = re.compile(r"([01]?)([PQ])([LXBIJKAEDCM])(\(\d+\))?")
_ASCII_FORM = re.compile(r"A(\d+)|I(\d+)|[FED](\d+)\.\d+")
_TDIM = re.compile(r"\( *\d+ *(, *\d+ *)*\)")
_ARTICLES = {"string": "a string", "integer": "an integer", "logical": "a logical"}
_TYPES = {  # the value type each column keyword must have
    "TTYPE": "string",
    "TFORM": "string",
    "TUNIT": "string",
    "TDISP": "string",
    "TDIM": "string",
    "TSCAL": "number",
    "TZERO": "number",
    "TBCOL": "integer",
}


def indexed_keyword(keyword: str) -> tuple[str, int] | None:
    """(root, column number) of a column keyword such as TFORM3, else None."""
    match = INDEXED.fullmatch(keyword)
    return (match[1], int(match[2])) if match else None


def _binary_width(form: str) -> tuple[int, str, int] | None:
    """(bytes per row, type letter, repeat) of a binary table TFORM, or None if invalid."""
    if match := _VARIABLE_FORM.fullmatch(form):
        repeat = 0 if match[1] == "0" else 1
        return _DESCRIPTORS[match[2]] * repeat, match[2], repeat
    match = _BINARY_FORM.fullmatch(form)
    if match is None or (match[3] and match[2] != "A"):
        return None
    repeat = int(match[1]) if match[1] else 1
    if match[2] == "X":
        return (repeat + 7) // 8, "X", repeat
    return repeat * _WIDTHS[match[2]], match[2], repeat


def _ascii_width(form: str) -> tuple[int, str, int] | None:
    match = _ASCII_FORM.fullmatch(form)
    if match is None:
        return None
    width = int(next(group for group in match.groups() if group))
    return width, form[0], 1


def check_columns(
    cards: Mapping[str, Card], hdu: int, *, kind: str, tfields: int, row_bytes: int, pcount: int
) -> list[Check]:
    """Every column problem of a table HDU whose mandatory keywords are sound.

    ``cards`` maps each keyword to its (first) card; ``kind`` is BINTABLE or TABLE.
    """
    problems: list[Check] = []
    types: dict[int, tuple[str, int]] = {}  # column number: (type letter, repeat)
    width = 0
    missing = []
    for number in range(1, tfields + 1):
        card = cards.get(f"TFORM{number}")
        if card is None:
            missing.append(number)
            continue
        if card.kind != "string":
            continue  # reported with the other column keywords' types below
        form = str(card.value)
        parsed = (_binary_width if kind == "BINTABLE" else _ascii_width)(form)
        if parsed is None or form != form.strip():
            problems.append(Check(f"{form!r} is not a valid {kind} TFORM", hdu, card.keyword))
            continue
        width += parsed[0]
        types[number] = parsed[1:]
    if missing:
        problems.append(
            Check(
                f"TFIELDS = {tfields} but TFORMn is missing for {_numbers(missing)}",
                hdu,
                "TFIELDS",
            )
        )
    if kind == "BINTABLE" and not missing and len(types) == tfields and width != row_bytes:
        problems.append(
            Check(f"NAXIS1 = {row_bytes} but the columns take {width} bytes", hdu, "NAXIS1")
        )
    problems += _column_keywords(
        cards, hdu, kind=kind, tfields=tfields, types=types, row_bytes=row_bytes, pcount=pcount
    )
    return problems


def _numbers(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"column {numbers[0]}"
    return f"{len(numbers)} columns ({numbers[0]}..{numbers[-1]})"


def _column_keywords(
    cards: Mapping[str, Card],
    hdu: int,
    *,
    kind: str,
    tfields: int,
    types: dict[int, tuple[str, int]],
    row_bytes: int,
    pcount: int,
) -> list[Check]:
    problems = []
    for keyword, card in cards.items():
        indexed = indexed_keyword(keyword)
        if indexed is None:
            continue
        root, number = indexed
        if not 1 <= number <= tfields:
            problems.append(Check(f"column {number} is beyond TFIELDS = {tfields}", hdu, keyword))
            continue
        reason = _column_rule(root, card, kind, types.get(number), row_bytes)
        if reason:
            problems.append(Check(reason, hdu, keyword))
    if kind == "TABLE":
        problems += [
            Check(f"TBCOL{n} is missing: every ASCII table column has one", hdu, f"TBCOL{n}")
            for n in range(1, tfields + 1)
            if f"TBCOL{n}" not in cards
        ]
    if "THEAP" in cards:
        if kind == "TABLE":
            problems.append(Check("THEAP is not allowed in an ASCII table", hdu, "THEAP"))
        elif pcount == 0:
            problems.append(Check("THEAP is present but PCOUNT = 0 (no heap)", hdu, "THEAP"))
    return problems


def _column_rule(  # noqa: PLR0911, PLR0912 - one answer per rule, in fitsverify's order
    root: str, card: Card, kind: str, column: tuple[str, int] | None, row_bytes: int
) -> str | None:
    """Why one column keyword is wrong, or None."""
    expected = _TYPES.get(root)
    if root == "TNULL":
        expected = "integer" if kind == "BINTABLE" else "string"
    if root == "TDISP" and card.kind == "string" and not card.value:
        expected = None  # a blank TDISPn is ignored
    if expected == "number" and card.kind not in ("integer", "real"):
        return f"{card.keyword} must be a number"
    if expected not in (None, "number") and card.kind != expected:
        return f"{card.keyword} must be {_ARTICLES[expected]}"
    if root in ("TFORM", "TDISP", "TDIM") and str(card.value).startswith(" "):
        return f"{card.keyword} must not start with a blank"
    if root == "TBCOL" and kind == "BINTABLE":
        return "TBCOLn is not allowed in a binary table"
    if root == "TDIM" and kind == "TABLE":
        return "TDIMn is not allowed in an ASCII table"
    if root == "TDIM" and not _TDIM.fullmatch(str(card.value)):
        return f"{card.value!r} is not a TDIM value such as (2,3)"
    if root == "TBCOL" and not 1 <= int(card.value) <= row_bytes:  # type: ignore[arg-type]
        return f"TBCOL = {card.value} is outside the row (1..NAXIS1 = {row_bytes})"
    if column is None:
        return None
    letter, repeat = column
    if root == "TDIM" and math.prod(map(int, re.findall(r"\d+", str(card.value)))) > repeat:
        return f"TDIM {card.value} holds more elements than the column's repeat ({repeat})"
    if root == "TSCAL" and letter in "ALX":
        return f"{card.keyword} cannot scale a column of type {letter}"
    if root in ("TSCAL", "TZERO") and kind == "TABLE" and letter == "A":
        return f"{card.keyword} cannot scale a character column"
    if root == "TNULL" and kind == "BINTABLE" and letter not in "BIJK":
        return f"{card.keyword} only applies to integer columns (B, I, J, K), not {letter}"
    return None
