"""The rules of one HDU's header: cards, mandatory keywords, placement, types, duplicates.

Each rule is one that fitsverify reports as an error (FITS Standard 4.0 §4-§8), plus one
it only warns about and a calibration file cannot afford: a keyword that appears twice
(which value would udcif index?). Commentary cards (COMMENT, HISTORY, blank, CONTINUE,
HIERARCH) may repeat. World-coordinate keyword semantics, TDISPn formats and the
content of data cells are not checked (see docs/architecture.md).
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict

from caldb_server.ingest.cards import COMMENTARY, Card
from caldb_server.ingest.checks import Check
from caldb_server.ingest.columns import check_columns, indexed_keyword
from caldb_server.ingest.mandatory import Mandatory, read_mandatory

__all__ = ["HeaderRules", "card_checks", "check_header", "valid_date"]

_STRINGS = frozenset(
    {"EXTNAME", "ORIGIN", "AUTHOR", "CREATOR", "REFERENC", "TELESCOP", "INSTRUME", "OBSERVER"}
    | {"OBJECT", "CHECKSUM", "DATASUM", "BUNIT"}
)
_INTEGERS = frozenset({"EXTVER", "EXTLEVEL", "BLANK"})
_NUMBERS = frozenset({"EQUINOX", "MJD-OBS", "MJD-AVG", "EPOCH", "BSCALE", "BZERO"})
_NUMBERS |= {"DATAMAX", "DATAMIN"}
_LOGICALS = frozenset({"EXTEND", "INHERIT"})
_GROUP_KEYWORDS = re.compile(r"(PTYPE|PSCAL|PZERO)\d+")
_NAXIS_N = re.compile(r"NAXIS(\d+)")
_ISO_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d):(\d\d(?:\.\d*)?))?")
_OLD_DATE = re.compile(r"(\d\d)/(\d\d)/(\d\d)")
_ARTICLES = {"string": "a string", "integer": "an integer", "logical": "a logical"}
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ARRAY_ONLY = ("BSCALE", "BZERO", "BUNIT", "BLANK", "DATAMAX", "DATAMIN")
_TABLE_ONLY = ("TFIELDS", "THEAP")
_LISTED = 10  # card numbers listed for a repeated keyword


class HeaderRules:
    """What :func:`check_header` found: the mandatory layout, first cards, problems."""

    def __init__(self, mandatory: Mandatory, cards: dict[str, Card], problems: list[Check]):
        self.mandatory = mandatory
        self.cards = cards
        self.problems = problems


def check_header(cards: list[Card], hdu: int) -> HeaderRules:
    """Every problem of one header (its cards, END included).

    ``hdu`` is 0 for the primary HDU.
    """
    problems = card_checks(cards, hdu)
    first: dict[str, Card] = {}
    positions: dict[str, list[int]] = defaultdict(list)
    for card in cards:
        if card.keyword not in COMMENTARY:
            first.setdefault(card.keyword, card)
            positions[card.keyword].append(card.position)
    groups = hdu == 0 and getattr(first.get("GROUPS"), "value", None) is True
    mandatory, mandatory_problems = read_mandatory(cards, hdu, groups)
    problems += mandatory_problems
    problems += [
        Check(f"{keyword} appears {len(at)} times (cards {_listed(at)})", hdu, keyword)
        for keyword, at in positions.items()
        if len(at) > 1
    ]
    problems += _placement(first, hdu, mandatory)
    problems += _types(first, hdu)
    axes = mandatory.axes
    if mandatory.tfields is not None and mandatory.kind in ("BINTABLE", "TABLE") and axes:
        problems += check_columns(
            first,
            hdu,
            kind=mandatory.kind,
            tfields=mandatory.tfields,
            row_bytes=axes[0],
            pcount=mandatory.pcount,
        )
    return HeaderRules(mandatory, first, problems)


def card_checks(cards: list[Card], hdu: int) -> list[Check]:
    """The problems of the cards themselves, one check each (bytes, name, value syntax)."""
    return [
        Check(f"card {card.position}: {reason}", hdu, card.keyword)
        for card in cards
        for reason in card.problems
    ]


def _listed(positions: list[int]) -> str:
    """Card numbers, the first :data:`_LISTED` of them: a keyword may repeat 100 000 times."""
    shown = ", ".join(map(str, positions[:_LISTED]))
    rest = len(positions) - _LISTED
    return f"{shown} and {rest} more" if rest > 0 else shown


def _placement(first: dict[str, Card], hdu: int, mandatory: Mandatory) -> list[Check]:
    """Keywords that the kind of HDU does not allow (FITS Standard §4.4.1, §7)."""
    reasons: dict[str, str] = {}
    kind = mandatory.kind
    for keyword in first:
        number = _NAXIS_N.fullmatch(keyword)
        if number and int(number[1]) > len(mandatory.axes) and mandatory.count:
            reasons[keyword] = f"{keyword} is not allowed with NAXIS = {len(mandatory.axes)}"
        if _GROUP_KEYWORDS.fullmatch(keyword) and not mandatory.groups:
            reasons[keyword] = f"{keyword} is only allowed in a random-groups primary HDU"
        if kind in ("PRIMARY", "IMAGE") and (
            keyword in _TABLE_ONLY or indexed_keyword(keyword) is not None
        ):
            reasons[keyword] = f"{keyword} is a table keyword; this HDU is an array"
        if kind in ("BINTABLE", "TABLE") and keyword in _ARRAY_ONLY:
            reasons[keyword] = f"{keyword} is an array keyword; this HDU is a table"
    if kind == "PRIMARY":
        reasons |= {
            k: f"{k} is not allowed in the primary HDU" for k in ("XTENSION",) if k in first
        }
        if not mandatory.groups:
            reasons |= {
                k: f"{k} is only allowed in a random-groups primary HDU"
                for k in ("PCOUNT", "GCOUNT")
                if k in first
            }
    else:
        reasons |= {
            k: f"{k} is not allowed in an extension"
            for k in ("SIMPLE", "EXTEND", "BLOCKED")
            if k in first
        }
    blank = first.get("BLANK")
    if blank is not None and (mandatory.bitpix or 0) < 0 and kind in ("PRIMARY", "IMAGE"):
        reasons.setdefault("BLANK", "BLANK cannot be used with floating-point data (BITPIX < 0)")
    return [Check(reason, hdu, keyword) for keyword, reason in reasons.items()]


def _types(first: dict[str, Card], hdu: int) -> list[Check]:
    """Reserved keywords whose value has the wrong type (FITS Standard §4.4.2)."""
    problems = []
    for keyword, card in first.items():
        if keyword in _STRINGS or keyword.startswith("DATE"):
            expected = "string"
        elif keyword in _INTEGERS:
            expected = "integer"
        elif keyword in _LOGICALS:
            expected = "logical"
        elif keyword in _NUMBERS:
            expected = "real" if card.kind == "real" else "integer"
        else:
            continue
        if card.kind != expected:
            what = "a number" if keyword in _NUMBERS else _ARTICLES[expected]
            problems.append(Check(f"{keyword} must be {what}", hdu, keyword))
        elif keyword.startswith("DATE") and not valid_date(str(card.value)):
            problems.append(Check(f"{card.value!r} is not a FITS date", hdu, keyword))
    return problems


def valid_date(text: str) -> bool:
    """Whether ``text`` is a FITS date: ``yyyy-mm-dd[Thh:mm:ss[.s]]`` or ``dd/mm/yy``."""
    if match := _OLD_DATE.fullmatch(text):
        day, month, year = (int(part) for part in match.groups())
        return _valid_day(1900 + year, month, day)
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        return False
    year, month, day = (int(part) for part in match.groups()[:3])
    if not _valid_day(year, month, day):
        return False
    if match[4] is None:
        return True
    return int(match[4]) < 24 and int(match[5]) < 60 and float(match[6]) < 61  # leap second


def _valid_day(year: int, month: int, day: int) -> bool:
    if not 1 <= month <= 12:
        return False
    days = 29 if month == 2 and calendar.isleap(year) else _MONTH_DAYS[month - 1]
    return 1 <= day <= days
