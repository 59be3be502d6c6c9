"""Reading the timeline's SVG in tests: parse it, find its links, bars, lanes and ticks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from caldb_server.ui.timeline import Epoch

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    """The SVG as XML (our own output, not untrusted input)."""
    return ET.fromstring(svg)  # noqa: S314


def epoch(lane: str, start: datetime, quality: int = 0, number: int = 1) -> Epoch:
    return Epoch(lane, start, quality, f"file{number}.fits", f"/datasets/{number}")


def links(root: ET.Element) -> list[ET.Element]:
    return root.findall(f".//{SVG}a")


def bar(link: ET.Element) -> dict[str, float]:
    """x, y, width, height of the bar of a link."""
    rect = link.find(f"{SVG}rect[@class='bar']")
    assert rect is not None
    return {key: float(rect.get(key, "nan")) for key in ("x", "y", "width", "height")}


def by_href(root: ET.Element) -> dict[str, dict[str, float]]:
    return {link.get("href", ""): bar(link) for link in links(root)}


def lane_labels(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "lane-label"]


def ticks(root: ET.Element) -> list[tuple[float, str]]:
    return [
        (float(t.get("x", "nan")), t.text or "")
        for t in root.iter(f"{SVG}text")
        if t.get("class") == "tick-label"
    ]


def now_x(root: ET.Element) -> float:
    (line,) = [e for e in root.iter(f"{SVG}line") if e.get("class") == "now-line"]
    return float(line.get("x1", "nan"))
