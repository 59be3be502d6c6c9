"""The timeline's time axis: calendar ticks chosen to the span and to the width."""

from __future__ import annotations

import re
from datetime import datetime
from itertools import pairwise

import pytest

from caldb_server.ui.timeline import render_timeline
from tests.server.timeline_svg import by_href, epoch, parse, ticks


@pytest.mark.parametrize(
    ("first", "last", "label"),
    [
        (datetime(2024, 3, 1), datetime(2024, 3, 11), r"\d{4}-\d\d-\d\d"),
        (datetime(2024, 3, 1), datetime(2024, 4, 20), r"\d{4}-\d\d-\d\d"),
        (datetime(2023, 1, 10), datetime(2024, 2, 1), r"\d{4}-\d\d"),
        (datetime(2016, 5, 1), datetime(2024, 2, 1), r"\d{4}"),
        # Five years: five yearly ticks read better than ten half-yearly ones.
        (datetime(2020, 3, 1), datetime(2025, 1, 1), r"\d{4}"),
        (datetime(1990, 5, 1), datetime(2024, 2, 1), r"\d{4}"),
        (datetime(1000, 1, 1), datetime(2024, 2, 1), r"\d{4}"),
    ],
)
def test_ticks_suit_the_span(first: datetime, last: datetime, label: str) -> None:
    root = parse(render_timeline([epoch("A", first, 0, 1), epoch("B", last, 0, 2)], width=800))
    found = ticks(root)
    assert 4 <= len(found) <= 10
    assert all(re.fullmatch(label, text) for _, text in found)
    xs = [x for x, _ in found]
    assert xs == sorted(xs)
    assert len(set(xs)) == len(xs)
    bars = by_href(root)
    margin = 800 / 40  # the axis runs a little beyond the first and last epochs
    assert all(
        bars["/datasets/1"]["x"] - margin <= x <= bars["/datasets/2"]["x"] + margin for x in xs
    )
    texts = [text for _, text in found]
    assert texts == sorted(texts, key=lambda t: tuple(int(p) for p in t.split("-")))


def test_a_tick_sits_where_its_date_is() -> None:
    first, last = datetime(2020, 1, 1), datetime(2030, 1, 1)
    root = parse(render_timeline([epoch("A", first, 0, 1), epoch("A", last, 0, 2)]))
    bars = by_href(root)
    per_year = (bars["/datasets/2"]["x"] - bars["/datasets/1"]["x"]) / 10
    for x, text in ticks(root):
        expected = (
            bars["/datasets/1"]["x"] + (datetime(int(text), 1, 1) - first).days / 365.25 * per_year
        )
        assert x == pytest.approx(expected, abs=0.5)


def test_a_narrow_drawing_has_fewer_ticks_so_labels_do_not_collide() -> None:
    epochs = [epoch("A", datetime(2024, 3, 1), 0, 1), epoch("A", datetime(2024, 3, 20), 0, 2)]
    wide, narrow = (ticks(parse(render_timeline(epochs, width=w))) for w in (1200, 300))
    assert len(narrow) < len(wide)
    xs = [x for x, _ in narrow]
    assert all(b - a >= 10 * 6.5 for a, b in pairwise(xs))
