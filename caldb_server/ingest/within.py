"""Datasets of one uploaded file that duplicate each other, without comparing every pair.

Two datasets are duplicates when TELESCOP, INSTRUME, codename, DETNAM, FILTER and
REF_TIME are equal and their boundaries overlap (:func:`same_slot`). Comparing every pair
of HDUs made ingestion quadratic: 1000 HDUs of one epoch told apart by ``CHAN(i-i)``
took 8 s. Here rows are grouped on the equal fields, then, within a group, a candidate
filter on one boundary parameter keeps only the pairs that could overlap on it:

- the parameter is the one most rows constrain with exactly one boundary slot;
- numeric values and ranges are reduced to their hull and swept in order, so rows whose
  hulls are disjoint are never paired;
- text values (``DATAMODE(PHOTON)``) pair only rows sharing a value;
- a row that does not constrain the parameter simply (absent, ``NONE``, two slots,
  text and numbers mixed) is a candidate with every row of its group.

Each candidate pair is then decided by :func:`same_slot` itself, so the answer is exactly
what comparing every pair gives; only the work changes. Each row reports one duplicate.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from caldb_selection import parse_boundary
from caldb_selection.boundaries import Boundary, Interval, Number, Text
from caldb_server.catalogue.duplicates import same_slot
from caldb_server.ingest.checks import Check
from caldb_server.ingest.headers import HduDataset

__all__ = ["duplicates_within"]

Extent = tuple[float, float] | frozenset[str] | None  # a hull, text values, or anything


def duplicates_within(rows: Sequence[HduDataset]) -> list[Check]:
    """One check per row that duplicates an earlier row of the same file."""
    groups: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for position, row in enumerate(rows):
        key = (row.telescop, row.instrume, row.cal_cnam, row.detnam, row.filter, row.ref_time)
        groups[key].append(position)
    found: dict[int, int] = {}  # position of a duplicate: position of the row it duplicates
    for members in groups.values():
        if len(members) < 2:
            continue
        group = [rows[position] for position in members]
        for first, second in sorted(_candidates(group), key=lambda pair: pair[::-1]):
            earlier, later = members[first], members[second]
            if later in found or rows[earlier].hdu == rows[later].hdu:
                continue
            if same_slot(rows[earlier], rows[later]):
                found[later] = earlier
    return [
        Check(
            f"duplicates the dataset of HDU {rows[earlier].hdu} of the same file", rows[later].hdu
        )
        for later, earlier in sorted(found.items())
    ]


def _candidates(group: Sequence[HduDataset]) -> set[tuple[int, int]]:
    """Pairs (i < j) of the group that could overlap on the filtering parameter."""
    parsed = [[b for b in map(parse_boundary, row.cal_cbd) if b is not None] for row in group]
    single = Counter(
        name
        for boundaries in parsed
        for name, count in Counter(b.name.upper() for b in boundaries).items()
        if count == 1
    )
    if not single:
        return {(i, j) for j in range(len(group)) for i in range(j)}
    name = single.most_common(1)[0][0]
    extents = [_extent(boundaries, name) for boundaries in parsed]
    pairs: set[tuple[int, int]] = set()
    wild = [i for i, extent in enumerate(extents) if extent is None]
    for i in wild:
        pairs.update((min(i, j), max(i, j)) for j in range(len(group)) if j != i)
    hulls = [(e[0], e[1], i) for i, e in enumerate(extents) if isinstance(e, tuple)]
    pairs.update(_sweep(hulls))
    texts: dict[str, list[int]] = defaultdict(list)
    for i, extent in enumerate(extents):
        if isinstance(extent, frozenset):
            for value in extent:
                texts[value].append(i)
    for members in texts.values():
        pairs.update((members[a], members[b]) for b in range(len(members)) for a in range(b))
    return pairs


def _extent(boundaries: Iterable[Boundary], name: str) -> Extent:
    """What one row allows for parameter ``name``; None when that cannot be summed up."""
    matching = [b for b in boundaries if b.name.upper() == name]
    if len(matching) != 1:
        return None
    descriptors = matching[0].descriptors
    if all(isinstance(d, Text) for d in descriptors):
        return frozenset(d.value.upper() for d in descriptors)  # type: ignore[union-attr]
    bounds = []
    for descriptor in descriptors:
        if isinstance(descriptor, Number):
            bounds += [descriptor.value, descriptor.value]
        elif isinstance(descriptor, Interval):
            bounds += [descriptor.low, descriptor.high]
        else:
            return None  # text and numbers mixed
    return min(bounds), max(bounds)


def _sweep(hulls: list[tuple[float, float, int]]) -> Iterable[tuple[int, int]]:
    """Pairs of rows whose closed hulls intersect, in O(n log n + pairs)."""
    active: list[tuple[float, int]] = []  # (high, row), smallest high first
    for low, high, row in sorted(hulls):
        while active and active[0][0] < low:
            heapq.heappop(active)
        for _, other in active:
            yield min(row, other), max(row, other)
        heapq.heappush(active, (high, row))
