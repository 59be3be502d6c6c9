"""The header part of a comparison: keywords added, removed and changed, from FITSDiff.

Commentary cards (COMMENT, HISTORY and blank-keyword text) are compared here, not by
FITSDiff: it pairs them by position, so one HISTORY line inserted at the top would show
every later one as changed. Here they are compared as collections of lines: the lines
only in the new header are added, those only in the old one removed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from astropy.io import fits
from astropy.io.fits.diff import HeaderDiff

from caldb_server.inspect.cards import Card, card_of, value_text

__all__ = ["COMMENTARY_KEYWORDS", "HeaderChanges", "KeywordChange", "header_changes"]

COMMENTARY_KEYWORDS = ("COMMENT", "HISTORY", "")


@dataclass(frozen=True)
class KeywordChange:
    """A keyword in both headers whose ``part`` differs: ``value``, ``comment`` or ``count``.

    ``old`` and ``new`` are texts as in :class:`~caldb_server.inspect.cards.Card`; for
    ``count`` (a keyword that appears more than once) they are the numbers of cards.
    ``occurrence`` numbers the cards of a repeated keyword from 1.
    """

    keyword: str
    part: str
    old: str
    new: str
    occurrence: int = 1


@dataclass(frozen=True)
class HeaderChanges:
    """Cards only in the new header (``added``), only in the old one, and changed keywords."""

    added: list[Card]
    removed: list[Card]
    changed: list[KeywordChange]

    @property
    def identical(self) -> bool:
        """True when the headers agree on every compared keyword."""
        return not (self.added or self.removed or self.changed)


def _first_cards(header: fits.Header, keywords: list[str]) -> list[Card]:
    """The first card of each of ``keywords``, in header order."""
    wanted = set(keywords)
    cards = []
    for card in header.cards:
        if card.keyword in wanted:
            wanted.discard(card.keyword)
            cards.append(card_of(card))
    return cards


def _paired_changes(diff: HeaderDiff) -> list[KeywordChange]:
    changes = [
        KeywordChange(keyword, "count", str(old), str(new))
        for keyword, (old, new) in sorted(diff.diff_duplicate_keywords.items())
    ]
    for part, pairs_by_keyword in (
        ("value", diff.diff_keyword_values),
        ("comment", diff.diff_keyword_comments),
    ):
        for keyword, pairs in sorted(pairs_by_keyword.items()):
            changes += [
                KeywordChange(keyword, part, value_text(pair[0]), value_text(pair[1]), number)
                for number, pair in enumerate(pairs, start=1)
                if pair is not None
            ]
    return sorted(changes, key=lambda change: (change.keyword, change.occurrence))


def _commentary(header: fits.Header) -> list[Card]:
    return [
        card_of(card)
        for card in header.cards
        if card.keyword in COMMENTARY_KEYWORDS and str(card).strip()
    ]


def _only_in_first(first: list[Card], second: list[Card]) -> list[Card]:
    """The cards of ``first`` not matched by an equal card of ``second`` (as multisets)."""
    unmatched = Counter(first) - Counter(second)
    kept = []
    for card in first:
        if unmatched[card]:
            unmatched[card] -= 1
            kept.append(card)
    return kept


def header_changes(diff: HeaderDiff | None, old: fits.Header, new: fits.Header) -> HeaderChanges:
    """The changes between two headers.

    Parameters
    ----------
    diff : HeaderDiff or None
        FITSDiff's comparison of the headers, commentary keywords ignored; None when
        FITSDiff found the HDUs identical.
    old, new : astropy.io.fits.Header
        The headers, for the values of added and removed keywords and the commentary.

    Returns
    -------
    HeaderChanges
        Added and removed cards in header order, changes sorted by keyword.
    """
    added: list[Card] = []
    removed: list[Card] = []
    changed: list[KeywordChange] = []
    if diff is not None and diff.diff_keywords:
        only_old, only_new = diff.diff_keywords
        removed = _first_cards(old, only_old)
        added = _first_cards(new, only_new)
    if diff is not None:
        changed = _paired_changes(diff)
    old_lines, new_lines = _commentary(old), _commentary(new)
    removed += _only_in_first(old_lines, new_lines)
    added += _only_in_first(new_lines, old_lines)
    return HeaderChanges(added, removed, changed)
