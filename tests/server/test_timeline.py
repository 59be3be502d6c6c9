"""The instrument page's validity timeline: well-formed, escaped, readable SVG from any epochs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caldb_server.ui.blueprint import STATIC_DIR
from caldb_server.ui.timeline import (
    Epoch,
    hover_quality,
    quality_class,
    render_timeline,
)
from tests.server.timeline_svg import (
    SVG,
    bar,
    by_href,
    epoch,
    lane_labels,
    links,
    now_x,
    parse,
    ticks,
)

# The timeline's rules in the site's style sheet: every line that styles svg.timeline.
TIMELINE_CSS = "\n".join(
    line
    for line in (STATIC_DIR / "site.css").read_text().splitlines()
    if line.startswith("svg.timeline")
)
NOW = datetime(2025, 1, 1, tzinfo=UTC)
HOSTILE = "</svg><script>alert('x')</script>\"&amp;<title>"


GAIN_HISTORY = [
    epoch("GAIN / DET1", datetime(2021, 1, 1), 0, 1),
    epoch("GAIN / DET1", datetime(2022, 6, 1), 5, 2),
    epoch("TELDEF", datetime(2020, 3, 1), 3, 3),
    epoch("GAIN / DET1", datetime(2022, 6, 1), 0, 4),
    epoch("TELDEF", datetime(2023, 3, 1), 0, 5),
    epoch("GAIN / DET1", datetime(2024, 2, 1), 0, 6),
]


def test_one_lane_per_label_in_order_of_appearance_and_one_link_per_epoch() -> None:
    root = parse(render_timeline(GAIN_HISTORY, now=NOW))
    assert root.tag == f"{SVG}svg"
    assert lane_labels(root) == ["GAIN / DET1", "TELDEF"]
    assert sorted(link.get("href", "") for link in links(root)) == [
        f"/datasets/{n}" for n in range(1, 7)
    ]
    bands = [r for r in root.iter(f"{SVG}rect") if "lane-band" in r.get("class", "")]
    assert len(bands) == 2


def test_bars_start_at_their_date_and_end_at_the_next_start_of_their_lane() -> None:
    root = parse(render_timeline(GAIN_HISTORY, now=NOW))
    bars = by_href(root)
    first, replaced, replacement, last = (bars[f"/datasets/{n}"] for n in (1, 2, 4, 6))
    assert first["x"] < replacement["x"] < last["x"]
    assert replaced["x"] == replacement["x"]
    assert first["x"] + first["width"] == pytest.approx(replacement["x"], abs=0.2)
    assert replacement["x"] + replacement["width"] == pytest.approx(last["x"], abs=0.2)
    # The last epoch of a lane is drawn to now.
    assert last["x"] + last["width"] == pytest.approx(now_x(root), abs=0.2)
    # One time axis for every lane: a later start is further right whatever the lane.
    teldef_2020, teldef_2023 = bars["/datasets/3"], bars["/datasets/5"]
    assert teldef_2020["x"] < first["x"] < teldef_2023["x"] < last["x"]
    assert teldef_2020["y"] != first["y"]


def test_bar_positions_follow_dates_proportionally() -> None:
    starts = [datetime(2020, 1, 1) + timedelta(days=d) for d in (0, 10, 30, 100, 400)]
    root = parse(render_timeline([epoch("L", s, 0, n) for n, s in enumerate(starts)], now=NOW))
    xs = [by_href(root)[f"/datasets/{n}"]["x"] for n in range(len(starts))]
    assert xs == sorted(xs)
    scale = (xs[-1] - xs[0]) / (starts[-1] - starts[0]).days
    for x, start in zip(xs, starts, strict=True):
        assert x - xs[0] == pytest.approx((start - starts[0]).days * scale, abs=0.2)


def test_quality_is_drawn_with_classes_hatching_and_a_legend() -> None:
    svg = render_timeline(GAIN_HISTORY, now=NOW)
    root = parse(svg)
    classes = {link.get("href"): link.get("class") for link in links(root)}
    assert classes["/datasets/1"] == "epoch good"
    assert classes["/datasets/2"] == "epoch superseded"
    assert classes["/datasets/3"] == "epoch flagged"
    pattern_ids = {p.get("id") for p in root.iter(f"{SVG}pattern")}
    assert pattern_ids == {"timeline-superseded", "timeline-flagged"}
    for link in links(root):
        hatches = link.findall(f"{SVG}rect[@class='hatch']")
        if link.get("class") == "epoch good":
            assert not hatches
        else:  # not colour alone: a pattern, which must exist
            (hatch,) = hatches
            assert hatch.get("fill") == f"url(#timeline-{link.get('class', '').split()[1]})"
    legend = [g.get("class") for g in root.iter(f"{SVG}g") if "legend-item" in g.get("class", "")]
    assert legend == [
        "legend-item epoch good",
        "legend-item epoch superseded",
        "legend-item epoch flagged",
    ]


def test_quality_in_classes_and_words() -> None:
    assert [quality_class(q) for q in (0, 5, 1, 9)] == ["good", "superseded", "flagged", "flagged"]
    assert hover_quality(0) == "good (CAL_QUAL 0)"
    assert hover_quality(5) == "superseded or bad (CAL_QUAL 5), never selected"
    assert hover_quality(2) == "flagged (CAL_QUAL 2), never selected"


def test_the_css_distinguishes_quality_without_colour_and_no_style_attribute_is_used() -> None:
    rules = dict(re.findall(r"([^{}]+)\{([^}]*)\}", TIMELINE_CSS))
    rules = {selector.strip(): body for selector, body in rules.items()}
    assert "stroke-dasharray" not in rules["svg.timeline .epoch.good .bar"]
    dashes = {
        kind: re.search(r"stroke-dasharray: ([^;]+);", rules[f"svg.timeline .epoch.{kind} .bar"])
        for kind in ("superseded", "flagged")
    }
    assert all(dashes.values())
    assert dashes["superseded"].group(1) != dashes["flagged"].group(1)  # type: ignore[union-attr]
    root = parse(render_timeline(GAIN_HISTORY, now=NOW))
    assert not [
        e.tag for e in root.iter() if "style" in e.attrib or e.tag.endswith(("style", "script"))
    ]
    used = {c for e in root.iter() for c in e.get("class", "").split()}
    styled = set(re.findall(r"\.([a-z-]+)", TIMELINE_CSS))
    # Every class the CSS styles is drawn; hatch and legend-item only group or carry fill=.
    assert styled <= used | {"empty"}
    assert used - styled <= {"hatch", "legend-item"}


def test_accessible_names_and_hover_texts() -> None:
    root = parse(render_timeline(GAIN_HISTORY, now=NOW, title="Validity epochs of MXT"))
    assert root.get("role") == "group"  # not img: its links must stay reachable
    title = root.find(f"{SVG}title")
    assert title is not None
    assert root.get("aria-labelledby") == title.get("id")
    assert title.text == "Validity epochs of MXT"
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert desc.text is not None
    assert desc.text.startswith("6 datasets in 2 lanes")
    link = next(a for a in links(root) if a.get("href") == "/datasets/2")
    assert link.get("aria-label") == (
        "file2.fits, GAIN / DET1, valid from 2022-06-01 00:00:00 UTC, "
        "superseded or bad (CAL_QUAL 5), never selected"
    )
    hover = link.find(f"{SVG}title")
    assert hover is not None
    assert hover.text == (
        "file2.fits\nGAIN / DET1\nvalid from 2022-06-01 00:00:00 UTC until 2024-02-01 00:00:00 UTC"
        "\nquality: superseded or bad (CAL_QUAL 5), never selected"
    )


def test_hostile_text_is_escaped_everywhere() -> None:
    epochs = [
        Epoch(HOSTILE, datetime(2024, 1, 1), 0, HOSTILE, "/datasets/1?a=1&b=\"'><script>"),
        Epoch(HOSTILE, datetime(2024, 2, 1), 5, HOSTILE, "/datasets/2"),
    ]
    svg = render_timeline(epochs, now=NOW, title=HOSTILE, width=2000)
    assert "<script" not in svg
    assert svg.count("</svg") == 1
    assert svg.count("<title") == svg.count("</title>")
    root = parse(svg)
    assert not list(root.iter(f"{SVG}script"))
    assert lane_labels(root) == [HOSTILE]
    texts = [t.text for t in root.iter(f"{SVG}title")]
    assert texts[0] == HOSTILE
    assert all(t is not None and t.startswith(HOSTILE) for t in texts[1:])
    assert links(root)[0].get("href") == "/datasets/1?a=1&b=\"'><script>"
    empty = render_timeline([], title=HOSTILE, empty_text=HOSTILE)
    assert "<script" not in empty
    assert [t.text for t in parse(empty).iter(f"{SVG}text")] == [HOSTILE]


def test_characters_xml_cannot_carry_are_replaced() -> None:
    label = "GAIN\x00\x1b\x85\ud800\uffff"
    root = parse(render_timeline([Epoch(label, datetime(2024, 1, 1), 0, "a\nb", "/d/1")]))
    assert lane_labels(root) == ["GAIN\ufffd\ufffd\ufffd\ufffd\ufffd"]
    hover = links(root)[0].find(f"{SVG}title")
    assert hover is not None
    assert hover.text is not None
    assert hover.text.startswith("a\ufffdb\n")  # a name cannot forge a line of the hover text


def test_long_lane_labels_are_shortened_with_their_full_text_on_hover() -> None:
    label = "CODENAME_OF_TWENTY / " + "D" * 40
    root = parse(render_timeline([epoch(label, datetime(2024, 1, 1))], width=600))
    (text,) = [t for t in root.iter(f"{SVG}text") if t.get("class") == "lane-label"]
    assert text.text is not None
    assert text.text.endswith("\u2026")
    assert label.startswith(text.text[:-1])
    hover = text.find(f"{SVG}title")
    assert hover is not None
    assert hover.text == label
    assert float(text.get("x", "nan")) <= 600 * 0.3


def test_no_epoch_gives_an_image_saying_so() -> None:
    svg = render_timeline([])
    root = parse(svg)
    assert root.get("role") == "img"
    assert not links(root)
    assert [t.text for t in root.iter(f"{SVG}text")] == ["no datasets"]
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Validity epochs"
    onboard = parse(render_timeline(iter([]), empty_text="no onboard configuration", dom_id="ob"))
    assert onboard.get("id") == "ob"
    assert [t.text for t in onboard.iter(f"{SVG}text")] == ["no onboard configuration"]


def test_a_single_epoch_without_now_runs_to_the_end_of_a_one_day_axis() -> None:
    root = parse(render_timeline([epoch("GAIN", datetime(2024, 3, 5, 6))], width=800))
    (link,) = links(root)
    box = bar(link)
    assert box["width"] > 100
    assert not [e for e in root.iter(f"{SVG}line") if e.get("class") == "now-line"]
    labels = [label for _, label in ticks(root)]
    assert 4 <= len(labels) <= 10
    assert "2024-03-05" in labels or "2024-03-06" in labels
    assert all(re.fullmatch(r"\d\d:00|\d{4}-\d\d-\d\d", label) for label in labels)


def test_ties_are_stacked_on_rows_with_the_good_one_on_top() -> None:
    start = datetime(2024, 1, 1)
    tied = [epoch("GAIN", start, 5, 1), epoch("GAIN", start, 0, 2), epoch("GAIN", start, 5, 3)]
    alone = parse(render_timeline(tied[1:2], now=NOW))
    root = parse(render_timeline(tied, now=NOW))
    bars = by_href(root)
    assert len({b["x"] for b in bars.values()}) == 1
    ys = sorted(b["y"] for b in bars.values())
    assert ys[1] - ys[0] >= bars["/datasets/1"]["height"]
    assert ys[2] - ys[1] == ys[1] - ys[0]
    assert bars["/datasets/2"]["y"] == ys[0]
    assert float(root.get("height", "nan")) > float(alone.get("height", "nan"))


@pytest.mark.parametrize("gap", [timedelta(0), timedelta(seconds=1), timedelta(days=3)])
def test_bars_too_close_to_tell_apart_do_not_overlap(gap: timedelta) -> None:
    start = datetime(2000, 1, 1)
    epochs = [epoch("GAIN", start + k * gap, k % 2 * 5, k) for k in range(6)]
    epochs.append(epoch("GAIN", datetime(2024, 1, 1), 0, 99))
    assert_no_overlap(parse(render_timeline(epochs, now=NOW)))


def assert_no_overlap(root: ET.Element) -> None:
    """No two bars share a row and overlap; every bar is visible and inside the drawing."""
    width = float(root.get("width", "nan"))
    boxes = [bar(link) for link in links(root)]
    for box in boxes:
        assert box["width"] >= 3
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width
    for i, one in enumerate(boxes):
        for other in boxes[i + 1 :]:
            if one["y"] == other["y"]:
                apart = one["x"] + one["width"] <= other["x"] + 0.15 or (
                    other["x"] + other["width"] <= one["x"] + 0.15
                )
                assert apart, (one, other)


def test_now_is_utc_whatever_its_form_and_ignored_before_every_epoch() -> None:
    epochs = [epoch("A", datetime(2024, 1, 1))]
    naive = render_timeline(epochs, now=datetime(2025, 1, 1))
    aware = render_timeline(
        epochs, now=datetime(2025, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    )
    assert naive == aware == render_timeline(epochs, now=NOW)
    assert "now 2025-01-01 00:00:00 UTC" in naive
    before = parse(render_timeline(epochs, now=datetime(2023, 1, 1)))
    assert not [e for e in before.iter(f"{SVG}line") if e.get("class") == "now-line"]


def test_epoch_starts_are_utc_and_links_stay_on_this_site() -> None:
    paris = Epoch("A", datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), 0, "f", "/d/1")
    assert paris.start == datetime(2024, 1, 1, tzinfo=UTC)
    assert paris.start.tzinfo is UTC
    assert Epoch("A", datetime(2024, 1, 1), 0, "f", "/d/1").start.tzinfo is UTC
    for href in ("javascript:alert(1)", "//evil.example/x", "https://evil.example/", "d/1", ""):
        with pytest.raises(ValueError, match="path of this site"):
            Epoch("A", datetime(2024, 1, 1), 0, "f", href)
    with pytest.raises(ValueError, match="out of range"):
        Epoch("A", datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), 0, "f", "/d/1")


@pytest.mark.parametrize("width", [0, 239, 10_001, -5])
def test_bad_widths_are_refused(width: int) -> None:
    with pytest.raises(ValueError, match="width of a timeline"):
        render_timeline([], width=width)


@pytest.mark.parametrize("dom_id", ["", "1abc", "a b", 'x"y', "a" * 65, "<svg>"])
def test_bad_ids_are_refused(dom_id: str) -> None:
    with pytest.raises(ValueError, match="element id"):
        render_timeline(GAIN_HISTORY, dom_id=dom_id)


def test_two_timelines_on_one_page_have_distinct_ids() -> None:
    page = (
        "<div>"
        + "".join(
            render_timeline(GAIN_HISTORY, dom_id=name, now=NOW) for name in ("codenames", "onboard")
        )
        + "</div>"
    )
    ids = Counter(e.get("id") for e in parse(page).iter() if e.get("id"))
    assert ids
    assert max(ids.values()) == 1
    for root in parse(page):
        for hatch in root.iter(f"{SVG}rect"):
            if hatch.get("class") == "hatch":
                assert hatch.get("fill", "").startswith(f"url(#{root.get('id')}-")


instants = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59))
epochs_strategy = st.lists(
    st.builds(
        Epoch,
        lane=st.one_of(st.sampled_from(["GAIN", "GAIN / DET1", "TELDEF"]), st.text(max_size=30)),
        start=st.one_of(instants, instants.map(lambda d: d.replace(tzinfo=UTC))),
        quality=st.integers(min_value=0, max_value=9),
        name=st.text(max_size=50),
        href=st.integers(min_value=1, max_value=10**9).map(lambda n: f"/datasets/{n}"),
    ),
    max_size=25,
)


@settings(deadline=None)
@given(epochs=epochs_strategy, now=st.none() | instants, width=st.integers(240, 3000))
def test_any_epochs_give_well_formed_svg_with_one_link_per_epoch(
    epochs: list[Epoch], now: datetime | None, width: int
) -> None:
    root = parse(render_timeline(epochs, now=now, width=width))
    assert Counter(a.get("href") for a in links(root)) == Counter(e.href for e in epochs)
    assert len(lane_labels(root)) == len({e.lane for e in epochs})
    if epochs:
        assert_no_overlap(root)
        assert len(ticks(root)) <= 10
