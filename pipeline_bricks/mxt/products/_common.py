"""Helpers shared by the product modules: GTI checks, Poisson errors, FITS header extras."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

import numpy as np
from astropy.io import fits

from pipeline_bricks.mxt.gti import in_gti, normalise_gti

Gti = tuple[np.ndarray, np.ndarray]
HeaderExtras: TypeAlias = Mapping[str, Any] | fits.Header | None
Card = tuple[str, Any, str]

TELESCOP = "SVOM"
INSTRUME = "MXT"

# Structural keywords astropy writes itself: never taken from the caller's extras.
_STRUCTURAL = ("SIMPLE", "XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "EXTEND")
_COLUMN_PREFIXES = ("TTYPE", "TFORM", "TUNIT", "TDIM", "TNULL", "TSCAL", "TZERO", "NAXIS")


def checked_gti(gti: Any) -> Gti:
    """The GTIs ``(starts, stops)`` [s] sorted, merged and non-empty.

    Raises
    ------
    ValueError
        ``gti`` is not a pair of equal-length arrays, has a non-finite bound, an interval
        ending before it starts, or no interval of positive length.
    """
    try:
        starts, stops = gti
    except (TypeError, ValueError):
        raise ValueError("gti must be a pair (starts, stops) of arrays [s]") from None
    start, stop = normalise_gti(starts, stops)
    if start.size == 0:
        raise ValueError("the GTI list is empty: no good time to make a product from")
    return start, stop


def checked_times(times: Any, gti: Gti, *, allow_empty: bool = False) -> np.ndarray:
    """Sorted event times [s], all finite and inside ``gti`` (already checked).

    Raises
    ------
    ValueError
        No event (unless ``allow_empty``), a non-finite time or times outside the GTIs.
    """
    t = np.sort(np.asarray(times, dtype=np.float64).ravel())
    if t.size == 0 and not allow_empty:
        raise ValueError("no event: there is nothing to bin (the brick reports NO_DATA)")
    if not np.all(np.isfinite(t)):
        raise ValueError("event times must be finite")
    outside = int(np.count_nonzero(~in_gti(t, *gti)))
    if outside:
        raise ValueError(f"{outside} event(s) outside the GTIs: screen the events first")
    return t


def gehrels_errors(counts: Any) -> tuple[np.ndarray, np.ndarray]:
    """One-sigma (84.13 % one-sided) Poisson errors ``(lower, upper)`` of ``counts``.

    Gehrels (1986, ApJ 303, 336) eqs. 7 and 12 with S = 1: ``upper = 1 + sqrt(N + 3/4)``,
    ``lower = N - N (1 - 1/(9N) - 1/(3 sqrt(N)))**3`` (0 for N = 0). Both tend to
    ``sqrt(N)`` for large N; the upper one is exact to 1 % or better at all N.
    """
    n = np.asarray(counts, dtype=np.float64)
    upper = 1.0 + np.sqrt(n + 0.75)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = n * (1.0 - 1.0 / (9.0 * n) - 1.0 / (3.0 * np.sqrt(n))) ** 3
    lower = np.where(n > 0, n - low, 0.0)
    return lower, upper


def apply_header_extras(header: fits.Header, extras: HeaderExtras, reserved: Iterable[str]) -> None:
    """Add the caller's keywords ``extras`` to ``header`` (before the writer's own ones).

    ``extras`` is a mapping ``{keyword: value}`` or ``{keyword: (value, comment)}``, or an
    astropy Header (its COMMENT and HISTORY cards are kept).

    Raises
    ------
    ValueError
        A keyword of ``extras`` is structural (``NAXIS``, ``TFORMn``...) or one the writer
        sets itself (``reserved``): the product would contradict its own content.
    """
    if extras is None:
        return
    cards = (
        list(extras.cards)
        if isinstance(extras, fits.Header)
        else [
            fits.Card(key, *(value if isinstance(value, tuple) else (value,)))
            for key, value in extras.items()
        ]
    )
    forbidden = {key.upper() for key in reserved} | set(_STRUCTURAL)
    for card in cards:
        key = card.keyword.upper()
        if key in forbidden or key.startswith(_COLUMN_PREFIXES):
            raise ValueError(f"header extra {key} is set by the product writer itself")
        header.append(card, end=True)


def primary_hdu(extras: HeaderExtras, reserved: Iterable[str]) -> fits.PrimaryHDU:
    """An empty primary HDU with ``TELESCOP``, ``INSTRUME`` and the caller's extras."""
    primary = fits.PrimaryHDU()
    apply_header_extras(primary.header, extras, reserved)
    primary.header["TELESCOP"] = (TELESCOP, "mission")
    primary.header["INSTRUME"] = (INSTRUME, "instrument")
    return primary


def table_hdu(
    columns: list[fits.Column], name: str, cards: list[Card], extras: HeaderExtras
) -> fits.BinTableHDU:
    """Binary table ``name`` with the caller's extras, then the writer's ``cards``.

    The keywords of ``cards`` (and ``EXTNAME``) are reserved: an extra repeating one raises
    ``ValueError`` (:func:`apply_header_extras`). A ``COMMENT`` card adds a comment.
    """
    table = fits.BinTableHDU.from_columns(columns)
    apply_header_extras(table.header, extras, reserved_keywords(cards))
    table.header["EXTNAME"] = name
    for key, value, comment in cards:
        if key == "COMMENT":
            table.header.add_comment(value)
        else:
            table.header[key] = (value, comment)
    return table


def reserved_keywords(cards: list[Card]) -> set[str]:
    """Keywords a writer sets itself: those of ``cards`` and ``EXTNAME``."""
    return {"EXTNAME"} | {key for key, _, _ in cards if key != "COMMENT"}
