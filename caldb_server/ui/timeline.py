"""The validity timeline of the instrument page: one inline SVG drawn by the server.

One lane per label (a codename, or a codename and detector); each dataset is a bar from its
validity start to the next later start in its lane (the last one to ``now``, or to the end of
the axis), a link to its page with a hover text. Datasets sharing a start, or too close to be
told apart at the drawn width, are stacked on rows of their lane, never drawn over each other.

Quality is drawn with CSS classes (``epoch good``, ``epoch superseded``, ``epoch flagged``) and,
so that it does not rest on colour alone, hatching and a dashed or dotted outline. No ``style``
attribute anywhere (the UI's CSP has no ``'unsafe-inline'``): its rules are in the site's
style sheet (``static/site.css``, section "validity timeline"). Every text comes from
uploaded files and is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from caldb_server.catalogue.quality import GOOD, SUPERSEDED, quality_words
from caldb_server.ui.time_axis import TICK_CHAR, choose_ticks

__all__ = ["Epoch", "hover_quality", "quality_class", "render_timeline"]

# Characters XML 1.0 cannot carry even escaped (C0 but tab/newline/CR are refused too: they
# would forge lines of a hover text), C1 controls, lone surrogates and the two non-characters.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_DOM_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")

# Layout, in px of the viewBox (the CSS shrinks the whole drawing to a narrower container).
PAD = 8
ROW = 16  # height of one stacked row of bars
BAR = 12
LANE_PAD = 4
TOP_LABEL = 14  # the "now" label above the lanes
AXIS = 22  # tick labels below the lanes
LEGEND_LINE = 18
RIGHT = 28  # room for the last tick label
MIN_BAR = 3.0  # a bar stays visible and clickable however short its epoch
LANE_CHAR = 8.0  # mean width of an upper-case character of a lane label (12 px)

_PATTERN = {
    "width": 6,
    "height": 6,
    "patternUnits": "userSpaceOnUse",
    "patternTransform": "rotate(45)",
}
_LEGEND = {
    "good": "good",
    "superseded": f"superseded or bad ({SUPERSEDED}), not selected",
    "flagged": "other quality, not selected",
}


@dataclass(frozen=True)
class Epoch:
    """One dataset on the timeline.

    Attributes
    ----------
    lane : str
        The lane it is drawn in, e.g. ``"GAIN"`` or ``"GAIN / DET1"``.
    start : datetime
        Its validity start; a naive value is taken as UTC, an aware one converted to UTC.
    quality : int
        Its CAL_QUAL (0 good, 5 superseded or bad, anything else flagged).
    name : str
        What the hover text and the link's accessible name call it (the file name).
    href : str
        The page it links to, a path of this site (``/datasets/12``).
    """

    lane: str
    start: datetime
    quality: int
    name: str
    href: str

    def __post_init__(self) -> None:
        if not self.href.startswith("/") or self.href.startswith("//"):
            raise ValueError(f"the link of an epoch must be a path of this site: {self.href!r}")
        try:
            start = self.start.astimezone(UTC) if self.start.tzinfo else self.start
        except OverflowError as error:
            raise ValueError(f"validity start out of range: {self.start!r}") from error
        object.__setattr__(self, "start", start.replace(tzinfo=UTC))


def quality_class(quality: int) -> str:
    """The CSS class of a CAL_QUAL: ``good``, ``superseded`` (5) or ``flagged`` (any other)."""
    if quality == GOOD:
        return "good"
    return "superseded" if quality == SUPERSEDED else "flagged"


def hover_quality(quality: int) -> str:
    """A CAL_QUAL for the hover text, e.g. ``"superseded or bad (CAL_QUAL 5), never selected"``."""
    words = f"{quality_words(quality)} (CAL_QUAL {quality})"
    return words if quality == GOOD else f"{words}, never selected"


@dataclass
class _Bar:
    epoch: Epoch
    end: datetime | None  # the next later start in the lane; None: open-ended
    x0: float = 0.0
    x1: float = 0.0
    row: int = 0


def render_timeline(
    epochs: Iterable[Epoch],
    *,
    now: datetime | None = None,
    width: int = 800,
    title: str = "Validity epochs",
    dom_id: str = "timeline",
    empty_text: str = "no datasets",
) -> str:
    """The SVG element (a string to place in HTML) drawing ``epochs`` on a time axis.

    Lanes appear in the order their label first appears in ``epochs``. ``now`` (default: none)
    ends the last epoch of each lane and is marked by a line; ``width`` is the width of the
    drawing in px (shrunk to a narrower container); ``title`` is its accessible name; ``dom_id``
    is its ``id`` and prefixes every other id in it (two timelines on one page need two);
    ``empty_text`` is shown when there is no epoch.
    """
    if not 240 <= width <= 10_000:
        raise ValueError(f"the width of a timeline must be from 240 to 10000 px, not {width}")
    if not _DOM_ID.fullmatch(dom_id):
        raise ValueError(f"not a usable element id: {dom_id!r}")
    epochs = list(epochs)
    if not epochs:
        return _empty(width, title, dom_id, empty_text)
    if now is not None:
        now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    return _Drawing(epochs, now, width, dom_id).svg(_text(title))


class _Drawing:
    """The geometry of one timeline (lanes, rows, axis), then its markup."""

    def __init__(self, epochs: list[Epoch], now: datetime | None, width: int, dom_id: str):
        self.width, self.dom_id, self.epochs = width, dom_id, epochs
        lanes: dict[str, list[Epoch]] = {}
        for epoch in epochs:
            lanes.setdefault(epoch.lane, []).append(epoch)
        low, high = min(e.start for e in epochs), max(e.start for e in epochs)
        self.now = now if now is not None and now > low else None
        high = max(high, self.now) if self.now else high
        # A margin on both sides; an axis of at least a day (a single epoch, a few hours).
        pad = max((high - low) / 40, (timedelta(days=1) - (high - low)) / 2)
        self.axis_start, self.axis_end = _shift(low, -pad), _shift(high, pad)
        longest = max(len(_text(label)) for label in lanes)
        self.gutter = min(max(longest * LANE_CHAR + 16, 64), width * 0.3)
        self.plot_width = width - self.gutter - RIGHT
        self.top = PAD + (TOP_LABEL if self.now else 0)
        self.lanes = [(label, self._bars(members)) for label, members in lanes.items()]

    def x(self, when: datetime) -> float:
        """The abscissa of an instant."""
        fraction = (when - self.axis_start) / (self.axis_end - self.axis_start)
        return self.gutter + fraction * self.plot_width

    def _bars(self, members: list[Epoch]) -> list[_Bar]:
        """The bars of one lane, in time order (good first on ties), each on its first free row."""
        ordered = sorted(enumerate(members), key=lambda i_e: (i_e[1].start, i_e[1].quality, i_e[0]))
        distinct = sorted({e.start for e in members})
        following = dict(zip(distinct, [*distinct[1:], None], strict=True))
        rows_end: list[float] = []
        bars = []
        for _, epoch in ordered:
            bar = _Bar(epoch, following[epoch.start])
            bar.x0 = self.x(epoch.start)
            bar.x1 = max(self.x(self._end(bar)), bar.x0 + MIN_BAR)
            bar.row = next((r for r, end in enumerate(rows_end) if end <= bar.x0), len(rows_end))
            rows_end[bar.row : bar.row + 1] = [bar.x1]
            bars.append(bar)
        return bars

    def _end(self, bar: _Bar) -> datetime:
        """Where a bar is drawn to: the next start, else now, else the end of the axis."""
        if bar.end is not None:
            return bar.end
        if self.now is not None and self.now > bar.epoch.start:
            return self.now
        return self.axis_end

    def svg(self, title: str) -> str:
        """The whole SVG element."""
        bands, body, y = [], [], self.top
        for index, (label, bars) in enumerate(self.lanes):
            height = (1 + max(bar.row for bar in bars)) * ROW + 2 * LANE_PAD
            parity = "even" if index % 2 == 0 else "odd"
            box = {"x": 0, "y": float(y), "width": self.width, "height": float(height)}
            bands.append(_tag("rect", {"class": f"lane-band {parity}", **box}))
            body.append(self._lane_label(label, y + height / 2 + 4))
            body.extend(
                self._bar(bar, y + LANE_PAD + bar.row * ROW + (ROW - BAR) / 2) for bar in bars
            )
            y += height
        kinds = [k for k in _LEGEND if any(quality_class(e.quality) == k for e in self.epochs)]
        legend, legend_height = self._legend(kinds, y + AXIS)
        total_height = y + AXIS + legend_height + PAD
        starts = sorted(e.start for e in self.epochs)
        summary = (
            f"{len(self.epochs)} datasets in {len(self.lanes)} lanes, validity starts from "
            f"{_when(starts[0])} to {_when(starts[-1])}. Good datasets are solid bars; superseded "
            f"or bad ones (quality {SUPERSEDED}) are hatched with a dashed outline; other "
            "qualities are cross-hatched with a dotted outline. Each bar links to its dataset."
        )
        content = [
            self._patterns(kinds),
            *bands,
            *self._axis(y),
            *body,
            self._now_marker(y),
            *legend,
        ]
        # Not role="img": its children are presentational (hidden from assistive technology),
        # and axe reports the links in it as focusable content (nested-interactive).
        about = (title, summary)
        return _svg(self.dom_id, self.width, total_height, about, "".join(content), role="group")

    def _lane_label(self, label: str, baseline: float) -> str:
        """The name of a lane, shortened with an ellipsis (and a hover text) if too long."""
        shown = _text(label) or "(no label)"
        fits = max(int((self.gutter - 16) / LANE_CHAR), 1)
        short = shown if len(shown) <= fits else shown[: fits - 1] + "\u2026"
        hover = _tag("title", {}, escape(shown)) if short != shown else ""
        where = {"x": self.gutter - 8, "y": baseline, "text-anchor": "end"}
        return _tag("text", {"class": "lane-label", **where}, escape(short) + hover)

    def _bar(self, bar: _Bar, y: float) -> str:
        """One bar: a link with its hover text and accessible name, hatched unless good."""
        epoch = bar.epoch
        name, lane, words = _text(epoch.name), _text(epoch.lane), hover_quality(epoch.quality)
        start = _when(epoch.start)
        until = f" until {_when(bar.end)}" if bar.end else ""
        hover = f"{name}\n{lane}\nvalid from {start}{until}\nquality: {words}"
        link = {
            "href": epoch.href,
            "class": f"epoch {quality_class(epoch.quality)}",
            "aria-label": f"{name}, {lane}, valid from {start}, {words}",
        }
        box = {"x": bar.x0, "y": y, "width": bar.x1 - bar.x0, "height": BAR}
        content = _tag("title", {}, escape(hover)) + self._swatch(link["class"], box)
        return _tag("a", link, content)

    def _swatch(self, classes: str, box: Mapping[str, object]) -> str:
        """The rectangle of a bar or legend item, with its hatching unless good."""
        kind = classes.removeprefix("epoch ")
        bar = _tag("rect", {"class": "bar", **box, "rx": 2})
        if kind == "good":
            return bar
        return bar + _tag("rect", {"class": "hatch", **box, "fill": f"url(#{self.dom_id}-{kind})"})

    def _patterns(self, kinds: list[str]) -> str:
        """The hatchings: diagonal for superseded, crossed for flagged (only those used)."""
        lines = {"superseded": "M0 0V6", "flagged": "M0 0V6M0 0H6"}
        patterns = [
            _tag(
                "pattern",
                {"id": f"{self.dom_id}-{kind}", "class": f"hatch-{kind}", **_PATTERN},
                _tag("path", {"class": "hatch-line", "d": lines[kind], "stroke": "#57606a"}),
            )
            for kind in kinds
            if kind in lines
        ]
        return _tag("defs", {}, "".join(patterns)) if patterns else ""

    def _axis(self, axis_y: float) -> list[str]:
        """The grid lines (under the bars), the axis line and the tick labels."""
        out = []
        for when, label in choose_ticks(self.axis_start, self.axis_end, self.plot_width):
            x = self.x(when)
            out.append(
                _tag("line", {"class": "grid", "x1": x, "y1": self.top, "x2": x, "y2": axis_y})
            )
            anchor = "end" if x + len(label) * TICK_CHAR / 2 > self.width else "middle"
            where = {"x": x, "y": axis_y + 15, "text-anchor": anchor}
            out.append(_tag("text", {"class": "tick-label", **where}, escape(label)))
        right = self.gutter + self.plot_width
        line = {"x1": self.gutter, "y1": axis_y, "x2": right, "y2": axis_y}
        return [*out, _tag("line", {"class": "axis", **line})]

    def _now_marker(self, axis_y: float) -> str:
        """The dashed line at ``now`` with its label above the lanes."""
        if self.now is None:
            return ""
        x = self.x(self.now)
        line = {"class": "now-line", "x1": x, "y1": self.top - 4, "x2": x, "y2": axis_y}
        where = {"class": "now-label", "x": x, "y": self.top - 6, "text-anchor": "end"}
        return _tag("line", line) + _tag("text", where, escape(f"now {_when(self.now)}"))

    def _legend(self, kinds: list[str], y: float) -> tuple[list[str], float]:
        """What each kind of bar means, wrapped to the width; its markup and height."""
        out, x, line = [], float(PAD), 0
        for kind in kinds:
            text = _LEGEND[kind]
            item_width = 30 + len(text) * TICK_CHAR + 16
            if x + item_width > self.width and x > PAD:
                x, line = float(PAD), line + 1
            top = y + line * LEGEND_LINE + 4
            swatch = self._swatch(kind, {"x": x, "y": top, "width": 24, "height": BAR})
            words = _tag("text", {"x": x + 30, "y": top + 10}, escape(text))
            out.append(_tag("g", {"class": f"legend-item epoch {kind}"}, swatch + words))
            x += item_width
        return out, (line + 1) * LEGEND_LINE + 4


def _empty(width: int, title: str, dom_id: str, empty_text: str) -> str:
    """A small drawing saying there is nothing to draw (an image: nothing in it to focus)."""
    message = _text(empty_text)
    words = {"class": "empty", "x": width / 2, "y": 24, "text-anchor": "middle"}
    return _svg(
        dom_id, width, 40, (_text(title), message), _tag("text", words, escape(message)), role="img"
    )


def _svg(
    dom_id: str, width: int, height: float, about: tuple[str, str], content: str, *, role: str
) -> str:
    """The root element, named by its title and described by its description (``about``)."""
    title, description = about
    root = {
        "xmlns": "http://www.w3.org/2000/svg",
        "class": "timeline",
        "id": dom_id,
        "viewBox": f"0 0 {width} {_n(height)}",
        "width": width,
        "height": float(height),
        "role": role,
        "aria-labelledby": f"{dom_id}-title",
        "aria-describedby": f"{dom_id}-desc",
    }
    about_tags = _tag("title", {"id": f"{dom_id}-title"}, escape(title)) + _tag(
        "desc", {"id": f"{dom_id}-desc"}, escape(description)
    )
    return _tag("svg", root, about_tags + content)


def _tag(name: str, attributes: Mapping[str, object], content: str = "") -> str:
    """An element; every text attribute quoted and escaped, a number to one decimal at most."""
    pairs = (
        f' {key}="{_n(value)}"'
        if isinstance(value, int | float)
        else f" {key}={quoteattr(_text(str(value)))}"
        for key, value in attributes.items()
    )
    attrs = "".join(pairs)
    return f"<{name}{attrs}>{content}</{name}>" if content else f"<{name}{attrs}/>"


def _text(value: str) -> str:
    """Text XML can carry: each unusable character becomes U+FFFD (escaping comes after)."""
    return _UNSAFE.sub("\ufffd", value)


def _when(when: datetime) -> str:
    """An instant for people, whatever its year: ``2024-03-05 12:00:00 UTC``."""
    return f"{when.year:04d}-{when.month:02d}-{when.day:02d} {when:%H:%M:%S} UTC"


def _n(value: float) -> str:
    """A coordinate with one decimal at most (the drawing is in px)."""
    return f"{value:.1f}".removesuffix(".0")


def _shift(when: datetime, delta: timedelta) -> datetime:
    """``when + delta``, held within the years datetime can represent."""
    try:
        return when + delta
    except OverflowError:
        return (datetime.max if delta > timedelta(0) else datetime.min).replace(tzinfo=UTC)
