"""The structural verifier: a FITS file walked HDU by HDU, as fitsverify would judge it.

Each header is read once, block by block (2880 bytes, 36 cards of 80 characters) up to
its END card, and checked (:mod:`~caldb_server.ingest.keywords`); the mandatory keywords
give the size of the data unit, which is skipped by a seek (read only to verify
DATASUM/CHECKSUM and the fill of its last block). So the work is linear in the number
of HDUs and in the header bytes, and a file with more than ``max_hdus`` HDUs is refused
as soon as HDU ``max_hdus + 1`` is seen, before its header is read.

The walk stops as soon as it has found :data:`MAX_PROBLEMS` problems, within a header if
need be: a file whose every card is broken costs that many checks, not one per card. A
long string (``&`` and CONTINUE cards) is joined only up to :data:`MAX_VALUE_CHARS`.

Bytes after the last HDU are an error unless they are whole 2880-byte blocks, which
the standard allows as "special records" (FITS Standard 4.0 §3.5; real HEASARC files
end with such a block of zeros). fitsverify reports them as an error; here they are a
note. This is the one place where the verifier is more lenient than fitsverify.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from caldb_server.ingest.cards import CARD, Card, Value, continued_string, parse_card
from caldb_server.ingest.checks import Check
from caldb_server.ingest.checksum import MINUS_ZERO, fold, stream_sum
from caldb_server.ingest.keywords import HeaderRules, card_checks, check_header

__all__ = [
    "BLOCK",
    "MAX_HEADER_CARDS",
    "MAX_PROBLEMS",
    "MAX_VALUE_CHARS",
    "Hdu",
    "Structure",
    "StructureLimit",
    "verify_structure",
]

BLOCK = 2880
# A limit of this server, not of FITS: a header of 100 000 cards (8 MB) is far beyond any
# calibration file, and bounds the memory one header can take.
MAX_HEADER_CARDS = 100_000
# The walk stops at this many problems, and the answer lists one fewer and a summary.
MAX_PROBLEMS = 1000
# A kept long string is joined up to this many characters: no indexed keyword may hold more
# than 70 (CIF widths), so a longer value is only ever refused, as too long.
MAX_VALUE_CHARS = 1024
_END = b"END     "


class StructureLimit(ValueError):
    """A file beyond a limit of this server (HDU count, header length): answered 413."""


@dataclass(frozen=True)
class Hdu:
    """One HDU that passed the walk: its number (primary 0), kind and kept values.

    ``too_long`` names the kept keywords whose long string goes on past
    :data:`MAX_VALUE_CHARS` characters; their value holds only that many.
    """

    index: int
    kind: str
    values: dict[str, Value]
    too_long: frozenset[str] = frozenset()


@dataclass
class Structure:
    """The walk's result: the HDUs located, every structural problem, notes.

    ``stopped`` tells that the walk stopped at :data:`MAX_PROBLEMS` problems.
    """

    hdus: list[Hdu] = field(default_factory=list)
    problems: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stopped: bool = False


def verify_structure(
    stream: BinaryIO, *, max_hdus: int | None = None, keep: Iterable[str] = ()
) -> Structure:
    """Walk a plain (uncompressed) FITS file and report its structural problems.

    Every problem is reported, up to :data:`MAX_PROBLEMS`: there the walk stops, and the
    last problem listed says that more were not.

    Parameters
    ----------
    stream : BinaryIO
        The file, seekable, opened in binary mode.
    max_hdus : int, optional
        Most HDUs accepted, the primary included (``CALDB_MAX_HDUS``); no limit if None.
    keep : iterable of str
        Keywords whose values each :class:`Hdu` keeps (long strings joined).

    Raises
    ------
    StructureLimit
        If the file has more than ``max_hdus`` HDUs or a header of more than
        :data:`MAX_HEADER_CARDS` cards.
    """
    kept = frozenset(keep)
    size = stream.seek(0, os.SEEK_END)
    result = Structure()
    offset, extend = 0, None
    while True:
        index = len(result.hdus)
        read = _read_header(stream, offset, index, result)
        if read is None:
            break
        cards, header_bytes = read
        rules = check_header(cards, index)
        result.problems += rules.problems
        if len(result.problems) >= MAX_PROBLEMS:
            result.stopped = True
            break
        if index == 0:
            extend = rules.cards.get("EXTEND")
        data_start = offset + header_bytes
        data_bytes = rules.mandatory.data_bytes
        if data_bytes is None:
            break  # the size of the data is unknown: nothing after it can be located
        data_end = data_start + -(-data_bytes // BLOCK) * BLOCK
        if data_end > size:
            result.problems.append(_cut(index, data_end - size))
            break
        result.problems += _fill(stream, data_start + data_bytes, data_end, rules, index)
        result.problems += _checksums(
            stream, rules, index, start=offset, data_start=data_start, data_end=data_end
        )
        values, too_long = _values(cards, kept)
        result.hdus.append(Hdu(index, rules.mandatory.kind, values, too_long))
        offset = data_end
        if not _extension_follows(stream, offset, size, result):
            break
        if len(result.problems) >= MAX_PROBLEMS:
            result.stopped = True
            break
        if max_hdus is not None and len(result.hdus) >= max_hdus:
            raise StructureLimit(f"the file has more than {max_hdus} HDUs (CALDB_MAX_HDUS)")
    if extend is not None and extend.value is False and len(result.hdus) > 1:
        result.problems.append(Check("EXTEND = F but the file has extensions", 0, "EXTEND"))
    result.problems = _bounded(result.problems, stopped=result.stopped)
    return result


def _read_header(
    stream: BinaryIO, offset: int, index: int, result: Structure
) -> tuple[list[Card], int] | None:
    """The cards of the header at ``offset`` (END included) and its size in bytes.

    None, with a problem, if the file ends before the END card; None, with the problems
    of the cards read so far, if they bring the problems found to :data:`MAX_PROBLEMS`
    (``result.stopped``): the rest of the header is not read.
    """
    stream.seek(offset)
    cards: list[Card] = []
    blocks = 0
    budget = MAX_PROBLEMS - len(result.problems)  # problems of cards that stop the walk
    while True:
        block = stream.read(BLOCK)
        blocks += 1
        if len(block) < BLOCK:
            result.problems.append(
                Check(
                    f"the file ends inside the header of HDU {index} (no END card)",
                    index,
                    field="file",
                )
            )
            return None
        for start in range(0, BLOCK, CARD):
            raw = block[start : start + CARD]
            if raw[:8] == _END:
                end = parse_card(raw, len(cards) + 1)
                cards.append(end)
                if block[start + CARD :].strip(b" "):
                    result.problems.append(
                        Check("the header fill after END is not all blanks", index, "END")
                    )
                return cards, blocks * BLOCK
            card = parse_card(raw, len(cards) + 1)
            cards.append(card)
            budget -= len(card.problems)
            if budget <= 0:
                result.problems += card_checks(cards, index)
                result.stopped = True
                return None
        if len(cards) > MAX_HEADER_CARDS:
            raise StructureLimit(
                f"the header of HDU {index} has more than {MAX_HEADER_CARDS} cards"
            )


def _extension_follows(stream: BinaryIO, offset: int, size: int, result: Structure) -> bool:
    """Whether another HDU starts at ``offset``; notes or refuses anything else there."""
    if offset == size:
        return False
    stream.seek(offset)
    if stream.read(8) == b"XTENSION":
        return True
    trailing = size - offset
    if trailing % BLOCK:
        result.problems.append(
            Check(f"{trailing} bytes follow the last HDU (at byte {offset})", field="file")
        )
    else:
        result.notes.append(
            f"{trailing // BLOCK} block(s) after the last HDU were ignored "
            "(special records, FITS Standard §3.5)"
        )
    return False


def _cut(index: int, missing: int) -> Check:
    return Check(
        f"the file ends inside the data of HDU {index}: {missing} bytes are missing",
        index,
        field="file",
    )


def _fill(
    stream: BinaryIO, fill_start: int, data_end: int, rules: HeaderRules, index: int
) -> list[Check]:
    """The fill after the data: zeros, or blanks in an ASCII table (§3.3.2)."""
    if fill_start == data_end:
        return []
    stream.seek(fill_start)
    expected = b" " if rules.mandatory.kind == "TABLE" else b"\0"
    if stream.read(data_end - fill_start).strip(expected):
        what = "blanks" if expected == b" " else "zeros"
        return [
            Check(f"the fill after the data of HDU {index} is not all {what}", index, field="file")
        ]
    return []


def _checksums(
    stream: BinaryIO, rules: HeaderRules, index: int, *, start: int, data_start: int, data_end: int
) -> list[Check]:
    """DATASUM and CHECKSUM, when present, against the bytes (FITS Standard 4.0 §J)."""
    checksum, datasum = rules.cards.get("CHECKSUM"), rules.cards.get("DATASUM")
    present = [card for card in (checksum, datasum) if card is not None and card.value]
    if not present or any(card.kind != "string" for card in present):
        return []  # absent, blank, or not a string (a type problem already)
    data = stream_sum(stream, data_start, data_end - data_start)
    problems = []
    if datasum in present:
        text = str(datasum.value).strip()
        if not text.isdigit() or int(text) != data:
            problems.append(
                Check(f"DATASUM = {text!r} is not the data's sum, {data}", index, "DATASUM")
            )
    if (
        checksum in present
        and fold(stream_sum(stream, start, data_start - start) + data) != MINUS_ZERO
    ):
        problems.append(
            Check("CHECKSUM does not match the HDU: its header or data changed", index, "CHECKSUM")
        )
    return problems


def _values(cards: list[Card], keep: frozenset[str]) -> tuple[dict[str, Value], frozenset[str]]:
    """The first value of each kept keyword, and the kept keywords whose value is too long.

    A long string (``&`` + CONTINUE) is joined, up to :data:`MAX_VALUE_CHARS` characters.
    """
    values: dict[str, Value] = {}
    too_long = set()
    for position, card in enumerate(cards):
        if card.keyword not in keep or card.keyword in values:
            continue
        value = card.value
        if isinstance(value, str) and value.endswith("&"):
            value, whole = _long_string(value, itertools.islice(cards, position + 1, None))
            if not whole:
                too_long.add(card.keyword)
        values[card.keyword] = value
    return values, frozenset(too_long)


def _long_string(first: str, following: Iterable[Card]) -> tuple[str, bool]:
    """A string continued by the CONTINUE cards that follow (OGIP long-string convention).

    The string and whether it is whole: joining stops past :data:`MAX_VALUE_CHARS`
    characters (the value is cut there), so 100 000 CONTINUE cards cost a few joins.
    """
    parts = [first]
    length = len(first)
    for card in following:
        if not parts[-1].endswith("&"):
            break
        part = continued_string(card) if card.keyword == "CONTINUE" else None
        if part is None:
            break
        parts[-1] = parts[-1][:-1]
        parts.append(part)
        length += len(part) - 1
        if length > MAX_VALUE_CHARS:
            return "".join(parts)[:MAX_VALUE_CHARS], False
    return "".join(parts), True


def _bounded(problems: list[Check], *, stopped: bool) -> list[Check]:
    """At most :data:`MAX_PROBLEMS` problems, the last one telling how many more there are."""
    if len(problems) < MAX_PROBLEMS or (len(problems) == MAX_PROBLEMS and not stopped):
        return problems
    rest = len(problems) - MAX_PROBLEMS + 1
    if stopped:
        reason = (
            f"... and more problems not listed (at least {rest}): "
            f"the verification stopped at {MAX_PROBLEMS} problems"
        )
    else:
        reason = f"... and {rest} more problems not listed"
    return [*problems[: MAX_PROBLEMS - 1], Check(reason, field="file")]
