"""The mandatory keywords that open every HDU, and the size of its data unit.

FITS Standard 4.0 §4.4.1 and §7: a primary HDU opens with SIMPLE, BITPIX, NAXIS,
NAXIS1..NAXISn; an extension with XTENSION, BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT, and
tables go on with TFIELDS. Each is at its fixed card position, of its type, in fixed
format (value ending in column 30), with a legal value. Without them the data unit's
size is unknown, so nothing after that HDU can be located.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from caldb_server.ingest.cards import Card, Value
from caldb_server.ingest.checks import Check

__all__ = ["BITPIX", "Mandatory", "read_mandatory"]

BITPIX = (8, 16, 32, 64, -32, -64)
# Registered extension types (fitsverify's list), by how CFITSIO reads them.
TABLES = {"BINTABLE": "BINTABLE", "A3DTABLE": "BINTABLE", "TABLE": "TABLE"}
IMAGES = {"IMAGE": "IMAGE", "IUEIMAGE": "IMAGE"}
OTHERS = {"FOREIGN": "OTHER", "DUMP": "OTHER"}
MAX_AXES = 999
MAX_FIELDS = 999

_FIXED_INTEGER = re.compile(r" *[+-]?\d+")


@dataclass(frozen=True)
class Mandatory:
    """What the mandatory keywords say: the HDU's kind and its data unit's size.

    ``kind`` is ``PRIMARY``, ``IMAGE``, ``BINTABLE``, ``TABLE`` or ``OTHER``;
    ``data_bytes`` is None when the keywords are too broken to know it.
    """

    kind: str
    bitpix: int | None = None
    axes: tuple[int, ...] = ()
    pcount: int = 0
    gcount: int = 1
    tfields: int | None = None
    groups: bool = False
    data_bytes: int | None = None
    count: int = 0  # how many cards the mandatory keywords take


def _fixed(card: Card) -> bool:
    """Whether a mandatory value is in fixed format (FITS Standard §4.2.1.1)."""
    text = card.text
    if card.kind == "logical":
        return not text[10:29].strip(" ") and text[29] in "TF"
    if card.kind == "string":  # opening quote in column 11, closing one in column 20 or later
        return text[10] == "'" and text.find("'", 11) >= 19
    return bool(_FIXED_INTEGER.fullmatch(text[10:30])) and not text[30:31].isdigit()


class _Reader:
    """Reads the mandatory cards in order, collecting problems."""

    def __init__(self, cards: list[Card], hdu: int) -> None:
        self.cards = cards
        self.hdu = hdu
        self.problems: list[Check] = []
        self.position = 0

    def fail(self, keyword: str, reason: str) -> None:
        self.problems.append(Check(reason, self.hdu, keyword))

    def next(self, keyword: str, kind: str) -> Value:
        """The value of ``keyword`` as the next card, or None (with a problem)."""
        self.position += 1
        index = self.position - 1
        card = self.cards[index] if index < len(self.cards) else None
        if card is None or card.keyword != keyword:
            found = card.keyword if card is not None else "nothing"
            self.fail(keyword, f"mandatory {keyword} must be card {self.position} ({found} is)")
            return None
        if card.kind != kind:
            self.fail(keyword, f"{keyword} must be {kind}, got {card.text[10:].split('/')[0]!r}")
            return None
        if not _fixed(card):
            self.fail(keyword, f"{keyword} is not in fixed format (value ending in column 30)")
        return card.value

    def integer(self, keyword: str, low: int, high: int | None = None) -> int | None:
        value = self.next(keyword, "integer")
        if not isinstance(value, int):
            return None
        if value < low or (high is not None and value > high):
            bounds = f"{low}..{high}" if high is not None else f">= {low}"
            self.fail(keyword, f"{keyword} = {value} is not in {bounds}")
            return None
        return value


def _axes(reader: _Reader) -> tuple[int | None, tuple[int, ...] | None]:
    """BITPIX, NAXIS and NAXISn (None where broken)."""
    value = reader.next("BITPIX", "integer")
    bitpix = value if isinstance(value, int) else None
    if bitpix is not None and bitpix not in BITPIX:
        reader.fail("BITPIX", f"BITPIX = {bitpix} is not one of {', '.join(map(str, BITPIX))}")
        bitpix = None
    naxis = reader.integer("NAXIS", 0, MAX_AXES)
    if naxis is None:
        return bitpix, None  # NAXISn cannot be located
    axes = [reader.integer(f"NAXIS{n}", 0) for n in range(1, naxis + 1)]
    known = tuple(length for length in axes if length is not None)
    return bitpix, (known if len(known) == naxis else None)


def read_mandatory(cards: list[Card], hdu: int, groups: bool) -> tuple[Mandatory, list[Check]]:
    """The mandatory keywords of HDU ``hdu`` (0 is the primary) and their problems.

    ``groups`` tells whether a primary header says ``GROUPS = T`` (random groups).
    """
    reader = _Reader(cards, hdu)
    pcount: int | None
    gcount: int | None
    if hdu == 0:
        simple = reader.next("SIMPLE", "logical")
        if simple is False:  # fitsverify only warns; such a file says it is not FITS
            reader.fail("SIMPLE", "SIMPLE = F: the file says it does not conform to FITS")
        bitpix, axes = _axes(reader)
        kind, pcount, gcount, tfields = "PRIMARY", 0, 1, None
        groups = groups and axes is not None and axes[:1] == (0,)
        if groups:  # random groups: PCOUNT and GCOUNT may be anywhere in the header
            pcount = _anywhere(cards, "PCOUNT", 0)
            gcount = _anywhere(cards, "GCOUNT", 1)
    else:
        kind = _extension_kind(reader)
        bitpix, axes = _axes(reader)
        if axes is None:
            return Mandatory(kind, bitpix), reader.problems
        pcount = reader.integer("PCOUNT", 0)
        gcount = reader.integer("GCOUNT", 0)
        tfields = reader.integer("TFIELDS", 0, MAX_FIELDS) if kind in TABLES.values() else None
        _check_extension_values(
            reader, kind=kind, bitpix=bitpix, axes=axes, pcount=pcount, gcount=gcount
        )
    done = reader.position
    if bitpix is None or axes is None or pcount is None or gcount is None:
        return Mandatory(kind, bitpix, axes or (), count=done), reader.problems
    return Mandatory(
        kind,
        bitpix,
        axes,
        pcount,
        gcount,
        tfields,
        groups,
        _data_bytes(bitpix, axes, pcount, gcount, groups),
        done,
    ), reader.problems


def _anywhere(cards: list[Card], keyword: str, default: int) -> int | None:
    """The integer value of ``keyword`` wherever it is (None if it is not an integer)."""
    card = next((c for c in cards if c.keyword == keyword), None)
    if card is None:
        return default
    value = card.value
    return value if card.kind == "integer" and isinstance(value, int) else None


def _extension_kind(reader: _Reader) -> str:
    """The kind an XTENSION value names (its 8 characters exactly, as fitsverify wants)."""
    value = reader.next("XTENSION", "string")
    if value is None:
        return "OTHER"
    raw = reader.cards[0].raw
    kinds = TABLES | IMAGES | OTHERS
    if raw.rstrip(" ") not in kinds or len(raw) != 8:
        reader.fail("XTENSION", f"XTENSION = {raw!r} is not a registered extension type")
    return kinds.get(raw.rstrip(" "), "OTHER")


def _check_extension_values(
    reader: _Reader,
    *,
    kind: str,
    bitpix: int | None,
    axes: tuple[int, ...],
    pcount: int | None,
    gcount: int | None,
) -> None:
    """Values the standard fixes for images and tables (§7.1-7.3)."""
    if kind in ("BINTABLE", "TABLE"):
        if bitpix is not None and bitpix != 8:
            reader.fail("BITPIX", f"a table has BITPIX = 8, not {bitpix}")
        if len(axes) != 2:
            reader.fail("NAXIS", f"a table has NAXIS = 2, not {len(axes)}")
    if kind in ("IMAGE", "TABLE") and pcount not in (None, 0):
        reader.fail("PCOUNT", f"PCOUNT must be 0 in a {kind} extension, not {pcount}")
    if kind != "OTHER" and gcount not in (None, 1):
        reader.fail("GCOUNT", f"GCOUNT must be 1 in a {kind} extension, not {gcount}")


def _data_bytes(bitpix: int, axes: tuple[int, ...], pcount: int, gcount: int, groups: bool) -> int:
    """Size of the data unit without its fill (§4.4.1.1 and §6)."""
    if not axes:
        return 0
    elements = math.prod(axes[1:]) if groups else math.prod(axes)
    return abs(bitpix) // 8 * gcount * (pcount + elements)
