"""Header cards as plain text: keyword, value and comment, as a page shows them."""

from __future__ import annotations

from dataclasses import dataclass

from astropy.io import fits

__all__ = ["Card", "card_of", "value_text"]


@dataclass(frozen=True)
class Card:
    """One header card.

    ``value`` is text: ``T``/``F`` for logical values, a string value without its quotes
    (trailing blanks removed), the text of a COMMENT or HISTORY card, numbers as Python
    writes them, empty for a keyword without a value. A card astropy cannot parse keeps
    the text astropy makes of it when it "fixes" it (``BADVAL  = 12.3.4`` gives the
    string ``12.3.4``).
    """

    keyword: str
    value: str
    comment: str


def value_text(value: object) -> str:
    """A header value as text (see :class:`Card`)."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, str):
        return value.rstrip()
    if isinstance(value, complex):
        return f"({value.real!r}, {value.imag!r})"
    if isinstance(value, int | float):
        return repr(value)
    return ""  # astropy's Undefined: a keyword without a value


def card_of(card: fits.Card) -> Card:
    """The :class:`Card` of an astropy card, also when its value cannot be parsed."""
    try:
        value = card.value
    except fits.VerifyError:
        _ = card.image  # reading the image makes astropy fix the card ("fix+warn")
        value = card.value  # a card it cannot fix raises again: the file is unreadable
    return Card(card.keyword, value_text(value), card.comment or "")
