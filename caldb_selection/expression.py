"""Boundary expressions of quzcif: ``param.eq.value.and.param.eq.value``.

The Fortran reference (``evexp2``) knows ``.eq.`` and ``.and.`` only; the C library
(``HDgtcalf``) adds ``.or.``, ``.lt.``, ``.le.``, ``.gt.``, ``.ge.``. Both are accepted here,
case-insensitively, with ``.and.`` binding tighter than ``.or.`` and no parentheses.

A term is checked against the nine boundaries of a dataset with the Fortran semantics
(``reference/heasarc_caldb.md`` §3.3):

1. a dataset that does not constrain the parameter (no boundary with that name, or all
   boundaries NONE) satisfies the term;
2. otherwise every boundary with that name must have a descriptor that meets the value:
   text equals text (quotes stripped, case ignored, ``*`` wildcards on the requested side),
   a number lies in a range or equals a value, a requested range ``a:b`` overlaps;
3. an ordering operator asks whether the dataset admits a value on that side:
   ``energy.lt.5`` holds for ``ENERG(0.1-12)`` because 0.1 < 5.

Unlike the Fortran code, a parameter repeated in two boundary slots is not an automatic
failure (a counting quirk of ``cbdcma``): each slot must then be met.

A dataset's boundaries are read as HEASoft reads them (``parse_boundary(lenient=True)``):
rows may come from an imported index. A requested value follows the strict grammar, so
that a mistyped request gets an error rather than HEASoft's silent reading of it, except
that numbers may use a Fortran exponent as in quzcif (``energ.eq.1.5d0``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from caldb_selection.boundaries import (
    Boundary,
    BoundaryError,
    Descriptor,
    Number,
    Text,
    descriptors_overlap,
    parse_boundary,
    parse_descriptor,
)
from caldb_selection.heasoft import fortran_exponents

__all__ = [
    "ANY",
    "Expression",
    "ExpressionError",
    "Term",
    "parse_expression",
]

_TERM = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*)\.(EQ|LT|LE|GT|GE)\.(.+)", re.IGNORECASE | re.DOTALL | re.ASCII
)
_OR = re.compile(r"\.OR\.", re.IGNORECASE | re.ASCII)
_AND = re.compile(r"\.AND\.", re.IGNORECASE | re.ASCII)

# For ordering operators: does the range [low, high] admit a value x with x OP v?
_ORDERING: dict[str, Callable[[float, float, float], bool]] = {
    "LT": lambda low, _high, v: operator.lt(low, v),
    "LE": lambda low, _high, v: operator.le(low, v),
    "GT": lambda _low, high, v: operator.gt(high, v),
    "GE": lambda _low, high, v: operator.ge(high, v),
}


class ExpressionError(ValueError):
    """An expression that is not ``param.op.value{.and.|.or. ...}``."""


def _text_matches(pattern: str, value: str) -> bool:
    """Requested text against a dataset's text: exact, or ``*x*``, ``x*``, ``*x`` wildcards."""
    pattern, value = pattern.upper(), value.upper()
    if len(pattern) > 1 and pattern.startswith("*") and pattern.endswith("*"):
        return pattern[1:-1] in value
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return pattern == value


@dataclass(frozen=True, slots=True)
class Term:
    """``name.op.value``; ``name`` upper case, ``op`` one of EQ, LT, LE, GT, GE."""

    name: str
    op: str
    value: Descriptor

    def __str__(self) -> str:
        return f"{self.name}.{self.op}.{self.value}"

    def admits(self, descriptor: Descriptor) -> bool:
        """Whether one descriptor of a dataset's boundary meets this term."""
        if self.op != "EQ":
            if isinstance(descriptor, Text):
                return False
            low, high = (
                (descriptor.value, descriptor.value)
                if isinstance(descriptor, Number)
                else (descriptor.low, descriptor.high)
            )
            assert isinstance(self.value, Number)
            return _ORDERING[self.op](low, high, self.value.value)
        if isinstance(self.value, Text):
            return isinstance(descriptor, Text) and _text_matches(
                self.value.value, descriptor.value
            )
        return descriptors_overlap(self.value, descriptor)

    def holds_for(self, boundaries: Sequence[Boundary]) -> bool:
        """Whether a dataset with these (parsed, non-NONE) boundaries satisfies the term."""
        same_name = [b for b in boundaries if b.name == self.name]
        return all(any(self.admits(d) for d in b.descriptors) for b in same_name)


@dataclass(frozen=True, slots=True)
class Expression:
    """A disjunction of conjunctions of terms; no terms at all means "no selection"."""

    alternatives: tuple[tuple[Term, ...], ...] = ()

    def __str__(self) -> str:
        if not self.alternatives:
            return "-"
        return ".OR.".join(".AND.".join(map(str, terms)) for terms in self.alternatives)

    def first_failure(self, cbds: Sequence[str]) -> Term | None:
        """The first term that rules a dataset out, or None if the dataset is selected.

        With ``.or.``, the reported term is the first failing term of the last alternative.
        Boundaries of the dataset that even HEASoft's reading cannot read are ignored
        (ingestion and import refuse them).
        """
        if not self.alternatives:
            return None
        boundaries = _parse_row_boundaries(tuple(cbds))
        failure = None
        for terms in self.alternatives:
            failure = next((t for t in terms if not t.holds_for(boundaries)), None)
            if failure is None:
                return None
        return failure

    def matches(self, cbds: Sequence[str]) -> bool:
        """Whether a dataset with these boundary strings is selected."""
        return self.first_failure(cbds) is None


@lru_cache(maxsize=65536)
def _parse_row_boundaries(cbds: tuple[str, ...]) -> tuple[Boundary, ...]:
    parsed = []
    for cbd in cbds:
        try:
            boundary = parse_boundary(cbd, lenient=True)
        except BoundaryError:
            continue
        if boundary is not None:
            parsed.append(boundary)
    return tuple(parsed)


def _parse_term(text: str, expression: str) -> Term:
    match = _TERM.fullmatch(text.strip())
    if match is None:
        raise ExpressionError(
            f"{expression!r}: {text!r} is not a term of the form param.eq.value "
            "(operators .eq. .lt. .le. .gt. .ge., joined by .and. / .or.)"
        )
    name, op, raw_value = match.group(1).upper(), match.group(2).upper(), match.group(3)
    try:
        value = parse_descriptor(fortran_exponents(raw_value))
    except BoundaryError as error:
        raise ExpressionError(f"{expression!r}: {error}") from None
    if op != "EQ" and not isinstance(value, Number):
        raise ExpressionError(
            f"{expression!r}: .{op.lower()}. needs a single number, got {raw_value!r}"
        )
    return Term(name, op, value)


@lru_cache(maxsize=4096)
def parse_expression(text: str | None) -> Expression:
    """Parse a quzcif boundary expression.

    Parameters
    ----------
    text : str or None
        ``-``, empty or None for no boundary selection, else terms like
        ``datamode.eq.PHOTON.and.xrtvsub.eq.6`` (``.or.``, ``.lt.``... also accepted).

    Returns
    -------
    Expression
        The parsed expression.

    Raises
    ------
    ExpressionError
        If a term is malformed (this includes HEASoft's mis-parsed ``.and..and.``).
    """
    if text is None or text.strip() in ("", "-"):
        return ANY
    alternatives = tuple(
        tuple(_parse_term(term, text) for term in _AND.split(alternative))
        for alternative in _OR.split(text)
    )
    return Expression(alternatives)


ANY = Expression()
