"""``report.html`` and ``compare.html`` of ``pipeline-bricks campaign-report``.

The campaigns are written by the test as ``report.py`` reads them (``campaign.json`` and
``runs/NNNN/result.json``), with offsets drawn from the 2-D Gaussian law of calibrated
radii: the pages are checked for their structure, their numbers against ``report.json``,
their images (decodable PNG written by matplotlib), their escaping and their stability.
"""

from __future__ import annotations

import base64
import io
import json
import math
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.table import Table
from PIL import Image

from pipeline_bricks.campaign.figures import rayleigh_cdf
from pipeline_bricks.campaign.html_report import HEADLINE, RUN_COLUMNS
from pipeline_bricks.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = 4  # offset / R90, R90 coverage against counts, efficiency against rate, indices


class Page(HTMLParser):
    """What the checks need of a page: its tags, images, headline cells and table rows."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.ends: list[str] = []
        self.title = ""
        self.headline: dict[str, list[str]] = {}
        self.rows: list[list[str]] = []  # the body rows without headline (data-key) cells
        self._open: list[str] = []
        self._cell: tuple[str | None, list[str]] | None = None
        self._row: list[str] | None = None
        self._headline_row = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag not in {"meta", "img", "br", "link"}:
            self._open.append(tag)
        if tag == "tr" and "tbody" in self._open:
            self._row = []
            self._headline_row = False
        if tag in {"td", "th"} and self._row is not None:
            self._cell = (dict(attrs).get("data-key"), [])

    def handle_endtag(self, tag: str) -> None:
        self.ends.append(tag)
        assert self._open[-1:] == [tag], f"</{tag}> closes {self._open[-1:]}"
        self._open.pop()
        if tag in {"td", "th"} and self._cell is not None and self._row is not None:
            key, parts = self._cell
            text = "".join(parts).strip()
            self._row.append(text)
            if key:
                self._headline_row = True
                self.headline.setdefault(key, []).append(text)
            self._cell = None
        if tag == "tr" and self._row is not None:
            if not self._headline_row:
                self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] == "title":
            self.title += data
        if self._cell is not None:
            self._cell[1].append(data)

    def images(self) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.starts if tag == "img"]


def record(index: int, rng: np.random.Generator) -> dict[str, Any]:
    """A run's record as runs.py writes it: faint GRBs missed, offsets Rayleigh-distributed."""
    rate = float(10 ** rng.uniform(-1.0, 1.2))
    detected = rate > 0.3
    r90 = 30.0 / math.sqrt(1 + rate)
    sigma = r90 / math.sqrt(2 * math.log(10))  # P(offset < R90) = 0.9
    offset = float(sigma * math.sqrt(-2 * math.log(1 - rng.uniform()))) if detected else None
    counts = round(rate * 600)
    found = {
        "ra_found_deg": 10.0, "dec_found_deg": 20.0, "offset_arcsec": round(offset, 3),
        "r90_arcsec": r90, "offset_over_r90": round(offset / r90, 4),
        "in_r90": offset <= r90, "counts_found": 0.95 * counts, "counts_ratio": 0.95,
        # the indices fitted to the products, with errors of 0.1: pulls standard normal
        "gamma_found": round(2.0 + 0.1 * rng.normal(), 4), "gamma_found_err": 0.1,
        "decay_found": round(1.2 + 0.1 * rng.normal(), 4), "decay_found_err": 0.1,
        "flux_ratio": 0.95,
    } if offset is not None else dict.fromkeys(
        ("ra_found_deg", "dec_found_deg", "offset_arcsec", "r90_arcsec", "offset_over_r90",
         "in_r90", "counts_found", "counts_ratio", "gamma_found", "gamma_found_err",
         "decay_found", "decay_found_err", "flux_ratio"))  # fmt: skip
    return {
        "run": index, "simulator_seed": 1000 + index,
        "status": "SUCCESS" if index % 7 else "FAILED <mxt-detect> & co",
        "ra_true_deg": 10.0, "dec_true_deg": 20.0, "off_axis_arcmin": 5.0,
        "rate_cts_s": round(rate, 4), "decay": 1.2, "gamma": 2.0, "nh_cm2": 3e21,
        "start_offset_s": 120.0, "duration_s": 1000.0, "counts_true": counts,
        "detected": detected, **found, "n_found": int(detected) + (index % 5 == 0),
        "false_detections": int(index % 5 == 0), "seconds_simulate": 1.0, "seconds_chain": 2.0,
        "simulate": ["--seed", str(1000 + index)],
    }  # fmt: skip


def write_campaign(out: Path, runs: int, seed: int, name: str = "grb & <faint>") -> Path:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True)
    (out / "campaign.json").write_text(json.dumps({"scenario": {"name": name}, "seed": seed}))
    for index in range(runs):
        directory = out / "runs" / f"{index:04d}"
        directory.mkdir(parents=True)
        (directory / "result.json").write_text(json.dumps(record(index, rng)))
    return out


def report_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "report.json").read_text())


def shown(value: Any) -> str:
    """A report.json value as the page shows it."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return " to ".join(map(str, value))
    return str(value)


def decoded_png(attrs: dict[str, str | None]) -> Image.Image:
    source = attrs["src"] or ""
    prefix = "data:image/png;base64,"
    assert source.startswith(prefix)
    data = base64.b64decode(source[len(prefix) :], validate=True)
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    assert b"Software" not in data  # no matplotlib version stamped: the bytes are stable
    return image


def test_campaign_report_writes_an_accessible_page_with_the_report_numbers(tmp_path, capsys):
    out = write_campaign(tmp_path / "faint", runs=40, seed=3)
    assert main(["campaign-report", str(out)]) == 0
    assert str(out / "report.html") in capsys.readouterr().out
    report = report_of(out)
    assert 0 < report["detected"] < report["runs"] == 40  # both kinds of run are shown
    text = (out / "report.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    page = Page(text)
    assert ("html", {"lang": "en"}) in page.starts
    assert page.title.startswith("Campaign grb & <faint>, seed 3")  # escaped, read back
    assert "<faint>" not in text
    assert "<mxt-detect>" not in text
    assert "&lt;mxt-detect&gt; &amp; co" in text
    assert {key for key, _, _ in HEADLINE} == set(page.headline)
    for key, _, _ in HEADLINE:
        assert page.headline[key] == [shown(report[key])], key
    low, high = report["r90_coverage_95"]
    assert low < report["r90_coverage"] < high
    detected = [run for run in report["per_run"] if run["detected"]]
    assert report["gamma_fitted"] == report["decay_fitted"] == len(detected)
    pulls = [(run["gamma_found"] - run["gamma"]) / run["gamma_found_err"] for run in detected]
    assert report["gamma_median_pull"] == pytest.approx(np.median(pulls), abs=1e-3)
    assert 0.5 < report["gamma_pull_spread"] < 1.6  # drawn with the errors given
    assert report["median_flux_ratio"] == 0.95
    images = page.images()
    assert len(images) == FIGURES
    for attrs in images:
        assert len(attrs["alt"] or "") > 40
        width, height = decoded_png(attrs).size
        assert (width, height) == (800, 360)
    assert len(page.rows) == report["runs"]
    for row, run in zip(page.rows, report["per_run"], strict=True):
        assert row[0] == str(run["run"])
        assert row[[key for key, _ in RUN_COLUMNS].index("offset_arcsec")] == shown(
            run["offset_arcsec"]
        )
    assert "http" not in text.replace("http-equiv", "")  # self-contained: nothing fetched


def test_the_same_runs_give_the_same_page(tmp_path):
    out = write_campaign(tmp_path / "faint", runs=12, seed=4)
    assert main(["campaign-report", str(out)]) == 0
    first = (out / "report.html").read_bytes()
    (out / "report.html").unlink()
    assert main(["campaign-report", str(out)]) == 0
    assert (out / "report.html").read_bytes() == first


def test_a_campaign_of_undetected_runs_still_has_its_page(tmp_path):
    out = write_campaign(tmp_path / "none", runs=2, seed=5)
    for path in (out / "runs").glob("*/result.json"):
        run = json.loads(path.read_text())
        missing = (
            "offset_arcsec",
            "r90_arcsec",
            "offset_over_r90",
            "in_r90",
            "counts_found",
            "gamma_found",
            "gamma_found_err",
            "decay_found",
            "decay_found_err",
        )
        run.update(dict.fromkeys(missing), detected=False, rate_cts_s=0.05)
        path.write_text(json.dumps(run))
    assert main(["campaign-report", str(out)]) == 0
    page = Page((out / "report.html").read_text(encoding="utf-8"))
    assert page.headline["r90_coverage"] == ["—"]
    assert page.headline["gamma_median_pull"] == ["—"]
    assert len(page.images()) == FIGURES
    assert len(page.rows) == 2


def test_runs_made_before_the_products_were_fitted_are_reported_with_those_masked(tmp_path):
    out = write_campaign(tmp_path / "older", runs=6, seed=8)
    new = ("gamma_found", "gamma_found_err", "decay_found", "decay_found_err", "flux_ratio")
    for path in sorted((out / "runs").glob("*/result.json"))[:3]:  # as an earlier version wrote
        run = json.loads(path.read_text())
        path.write_text(json.dumps({k: v for k, v in run.items() if k not in new}))
    assert main(["campaign-report", str(out)]) == 0
    table = Table.read(out / "runs.ecsv", format="ascii.ecsv")
    assert list(table["gamma_found"].mask[:3]) == [True] * 3
    report = report_of(out)
    assert report["gamma_fitted"] == sum(run["detected"] for run in report["per_run"][3:])


def test_compare_puts_two_campaigns_side_by_side(tmp_path, capsys):
    first = write_campaign(tmp_path / "first", runs=30, seed=6)
    second = write_campaign(tmp_path / "second", runs=20, seed=7, name="other")
    assert main(["campaign-report", str(first), "--compare", str(second)]) == 0
    assert str(first / "compare.html") in capsys.readouterr().out
    assert not (second / "report.json").exists()  # the other campaign is only read
    text = (first / "compare.html").read_text(encoding="utf-8")
    page = Page(text)
    assert str(first) in page.title
    assert str(second) in page.title
    ours = report_of(first)
    assert main(["campaign-report", str(second)]) == 0
    theirs = report_of(second)
    assert page.headline["r90_coverage"] == [shown(ours["r90_coverage"]),
                                             shown(theirs["r90_coverage"])]  # fmt: skip
    assert page.headline["runs"] == ["30", "20"]
    (image,) = page.images()
    decoded_png(image)
    assert "overlaid" in (image["alt"] or "")
    assert main(["campaign-report", str(first), "--compare", str(tmp_path / "nothing")]) == 1
    assert "holds no campaign" in capsys.readouterr().err


@pytest.mark.parametrize(("x", "expected"), [(0.0, 0.0), (1.0, 0.9), (math.sqrt(2), 0.99)])
def test_the_rayleigh_expectation_puts_90_percent_within_r90(x, expected):
    assert rayleigh_cdf(x) == pytest.approx(expected)
