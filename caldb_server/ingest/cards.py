"""FITS header cards read strictly (FITS Standard 4.0 §4.1-4.2), as fitsverify reads them.

A card is 80 printable ASCII characters: a keyword name in columns 1-8 (upper-case
letters, digits, ``-`` and ``_``, left-justified), then either the value indicator ``= ``
in columns 9-10 and a value with an optional ``/`` comment, or free text (commentary
cards, and any card without the value indicator). Every departure that fitsverify
reports as an *error* is a problem here; its warnings (a null value, say) are not.
One deliberate difference: a number that matches no FITS number form (``1E``, ``+``)
is refused, because no reader can give it a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CARD", "COMMENTARY", "Card", "Value", "continued_string", "parse_card"]

CARD = 80
Value = str | int | float | bool | complex | None
# Cards whose columns 9-80 are free text whatever they hold (fitsverify's list).
COMMENTARY = frozenset({"COMMENT", "HISTORY", "HIERARCH", "CONTINUE", ""})

_NAME = re.compile(r"[A-Z0-9_-]*")
_INTEGER = re.compile(r"[+-]?\d+")
_REAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([ED][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class Card:
    """One parsed card.

    ``position`` counts from 1 within its header (fitsverify's "Keyword #n"). ``kind`` is
    ``"end"``, ``"commentary"`` (no value), or the value's type: ``"string"``,
    ``"logical"``, ``"integer"``, ``"real"``, ``"complex"`` or ``"null"`` (the value
    indicator with nothing after it). ``raw`` is the string value before its trailing
    blanks were removed (XTENSION must be exactly 8 characters, blanks included).
    """

    position: int
    keyword: str
    text: str
    kind: str
    value: Value = None
    raw: str = ""
    problems: tuple[str, ...] = ()


def parse_card(block: bytes, position: int) -> Card:
    """Parse one 80-byte card, collecting every problem fitsverify would report."""
    problems = [
        f"column {column} holds byte 0x{byte:02X}, which is not printable ASCII"
        for column, byte in enumerate(block, start=1)
        if not 0x20 <= byte <= 0x7E
    ][:1]  # the first one says enough; a binary block would list 80
    text = block.decode("latin-1")
    name = text[:8].rstrip(" ")
    keyword = name.strip(" ")
    if name != keyword:
        problems.append(f"keyword name {keyword!r} is not left-justified in columns 1-8")
    if not _NAME.fullmatch(keyword):
        problems.append(
            f"keyword name {keyword!r} may only hold upper-case letters, digits, - and _"
        )
    if keyword == "END":
        if text[8:].strip(" "):
            problems.append("columns 9-80 of the END card are not blank")
        return Card(position, keyword, text, "end", problems=tuple(problems))
    if keyword in COMMENTARY or text[8:10] != "= ":
        return Card(position, keyword, text, "commentary", problems=tuple(problems))
    kind, value, raw, value_problems = _parse_value(text[10:])
    return Card(position, keyword, text, kind, value, raw, tuple(problems + value_problems))


def continued_string(card: Card) -> str | None:
    """The string a CONTINUE card carries (OGIP long-string convention), or None."""
    kind, value, _, problems = _parse_value(card.text[10:])
    return value if kind == "string" and not problems else None  # type: ignore[return-value]


def _parse_value(field: str) -> tuple[str, Value, str, list[str]]:
    """(kind, value, raw string, problems) of columns 11-80 of a value card."""
    rest = field.lstrip(" ")
    if not rest or rest[0] == "/":
        return "null", None, "", []
    first = rest[0]
    if first == "'":
        kind, value, raw, tail, problems = _string(rest)
    elif first in "TF":
        kind, value, raw, tail, problems = "logical", first == "T", "", rest[1:], []
        if tail.strip(" ") and not tail.lstrip(" ").startswith("/"):
            problems = [f"bad logical value {rest.split('/')[0].strip()!r}: T or F alone"]
            tail = ""
    elif first in "+-.0123456789":
        kind, value, raw, tail, problems = _number(rest)
    elif first == "(":
        kind, value, raw, tail, problems = _complex(rest)
    else:
        text = rest.split("/")[0].strip(" ")
        return "null", None, "", [f"value {text!r} is of no FITS type (string, T/F, number)"]
    if tail.strip(" ") and not tail.lstrip(" ").startswith("/"):
        problems.append("value and comment are not separated by a /")
    return kind, value, raw, problems


def _string(rest: str) -> tuple[str, Value, str, str, list[str]]:
    """A quoted string: ``''`` stands for one quote; trailing blanks are not significant."""
    chars = []
    index = 1
    while index < len(rest):
        char = rest[index]
        if char == "'":
            if rest[index + 1 : index + 2] == "'":
                chars.append("'")
                index += 2
                continue
            raw = "".join(chars)
            return "string", raw.rstrip(" "), raw, rest[index + 1 :], []
        chars.append(char)
        index += 1
    raw = "".join(chars)
    return "string", raw.rstrip(" "), raw, "", ["the closing quote of the string is missing"]


def _number(rest: str) -> tuple[str, Value, str, str, list[str]]:
    token = re.split(r"[ /]", rest, maxsplit=1)[0]  # up to a blank or the comment
    tail = rest[len(token) :]
    if any(letter in token for letter in "de"):
        return "null", None, "", tail, [f"lower-case exponent in {token!r} (use E or D)"]
    if _INTEGER.fullmatch(token):
        return "integer", int(token), "", tail, []
    if _REAL.fullmatch(token):
        return "real", float(token.replace("D", "E")), "", tail, []
    return "null", None, "", tail, [f"bad number {token!r}"]


def _complex(rest: str) -> tuple[str, Value, str, str, list[str]]:
    """``(real, imaginary)``, each part a FITS number."""
    closing = rest.find(")")
    comment = rest.find("/")
    if closing < 0 or 0 <= comment < closing:
        end = comment if comment >= 0 else len(rest)
        shown = rest[:end].rstrip(" ")
        return "null", None, "", rest[end:], [f"complex value {shown!r} misses its )"]
    parts = [part.strip(" ") for part in rest[1:closing].split(",")]
    tail = rest[closing + 1 :]
    if len(parts) != 2:
        return "null", None, "", tail, [f"complex value {rest[: closing + 1]!r} needs one ,"]
    numbers = [_number(part) for part in parts]
    if any(problems or kind == "null" for kind, _, _, _, problems in numbers):
        return "null", None, "", tail, [f"bad complex value {rest[: closing + 1]!r}"]
    real, imaginary = (float(value) for _, value, _, _, _ in numbers)  # type: ignore[arg-type]
    return "complex", complex(real, imaginary), "", tail, []
