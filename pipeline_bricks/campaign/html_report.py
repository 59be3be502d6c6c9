"""A campaign's report as one self-contained HTML page: ``report.html`` and ``compare.html``.

The page is read at a glance by a scientist: the headline numbers of ``report.json``, the
figures (offset / R90 against the Rayleigh law, R90 coverage against counts, detection
efficiency against count rate, photon and decay indices found against true) embedded as
base64 PNG, and the runs. Every value is escaped
(``html.escape``); the page has no script, no external resource and no timestamp, so the
same runs give the same bytes. ``compare.html`` puts two campaigns side by side.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any

from pipeline_bricks.campaign import figures

__all__ = ["COMPARE_PAGE", "HEADLINE", "PAGE", "RUN_COLUMNS", "write_compare", "write_page"]

PAGE = "report.html"
COMPARE_PAGE = "compare.html"

# (key of report.json, what it is, unit): the numbers shown first
HEADLINE = (
    ("runs", "runs finished", ""),
    ("detected", "runs whose GRB was found within the match radius", ""),
    ("detection_efficiency", "detected / runs", ""),
    ("r90_coverage", "share of the detected within their R90 (0.9 expected)", ""),
    ("r90_coverage_95", "95 % Wilson interval of the R90 coverage", ""),
    ("beyond_1p5_r90", "share of the detected beyond 1.5 R90 (0.006 expected)", ""),
    ("median_offset_arcsec", "median offset, true to found position", "arcsec"),
    ("largest_offset_arcsec", "largest offset", "arcsec"),
    ("false_detections", "sources found that are no truth", ""),
    ("false_detections_per_field", "false detections per run", ""),
    ("not_success", "runs whose chain did not end SUCCESS", ""),
    ("gamma_fitted", "detected runs whose photon index was fitted", ""),
    ("gamma_median_pull", "median of (found - true) / error, photon index (0 expected)", ""),
    ("gamma_pull_spread", "spread of those pulls, 1.4826 MAD (1 expected)", ""),
    ("decay_fitted", "detected runs whose decay index was fitted", ""),
    ("decay_median_pull", "median of (found - true) / error, decay index (0 expected)", ""),
    ("decay_pull_spread", "spread of those pulls, 1.4826 MAD (1 expected)", ""),
    ("median_flux_ratio", "median of fitted / true mean 0.3-8 keV flux (1 expected)", ""),
)
# (key of a run's record, column heading with unit): the table of runs (all of it: runs.ecsv)
RUN_COLUMNS = (
    ("run", "run"),
    ("status", "status"),
    ("rate_cts_s", "rate (ct/s)"),
    ("off_axis_arcmin", "off-axis (arcmin)"),
    ("counts_true", "true counts (ct)"),
    ("detected", "detected"),
    ("offset_arcsec", "offset (arcsec)"),
    ("r90_arcsec", "R90 (arcsec)"),
    ("offset_over_r90", "offset / R90"),
    ("in_r90", "within R90"),
    ("counts_found", "counts found (ct)"),
    ("gamma", "true photon index"),
    ("gamma_found", "photon index found"),
    ("gamma_found_err", "its error"),
    ("decay", "true decay index"),
    ("decay_found", "decay index found"),
    ("decay_found_err", "its error"),
    ("flux_ratio", "flux found / true"),
    ("false_detections", "false detections"),
)

_SKELETON = Template("""\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #111; max-width: 70em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #999; padding: 0.2em 0.6em; text-align: right; }
th[scope=row], td.text { text-align: left; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
figure { margin: 1em 0; }
img { max-width: 100%; height: auto; }
</style>
</head>
<body>
<main>
<h1>$title</h1>
$body
</main>
</body>
</html>
""")


def text(value: Any) -> str:
    """A value of report.json as shown (escaped): as in the JSON, a missing one as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " to ".join(text(item) for item in value)
    return html.escape(str(value))


def _image(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure>\n<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">\n'
        f"<figcaption>{html.escape(caption)}</figcaption>\n</figure>"
    )


def _headline(reports: Sequence[tuple[str, dict[str, Any]]]) -> str:
    heads = "".join(f'<th scope="col">{html.escape(name)}</th>' for name, _ in reports)
    rows = []
    for key, meaning, unit in HEADLINE:
        label = f"{meaning} ({unit})" if unit else meaning
        cells = "".join(
            f'<td data-key="{key}">{text(report.get(key))}</td>' for _, report in reports
        )
        rows.append(f'<tr><th scope="row">{html.escape(label)}</th>{cells}</tr>')
    return (
        "<table>\n<caption>Headline numbers (report.json)</caption>\n"
        f'<thead><tr><th scope="col">quantity</th>{heads}</tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _runs_table(records: Sequence[dict[str, Any]]) -> str:
    heads = "".join(f'<th scope="col">{html.escape(title)}</th>' for _, title in RUN_COLUMNS)
    rows = []
    for record in records:
        cells = "".join(
            f'<td class="text">{text(record.get(key))}</td>'
            if key == "status"
            else f"<td>{text(record.get(key))}</td>"
            for key, _ in RUN_COLUMNS
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f"<table>\n<caption>{len(records)} runs (every column: runs.ecsv)</caption>\n"
        f"<thead><tr>{heads}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


_OFFSET_ALT = (
    "Left: histogram of offset over R90 for the detected runs, with the Rayleigh density "
    "expected for calibrated radii. Right: the cumulative fraction of detected runs below "
    "each offset over R90, with the expected curve 1 - 0.1^(x squared), which is 0.9 at 1."
)


def write_page(out: Path, report: dict[str, Any]) -> Path:
    """Write ``out/report.html`` for the campaign ``report`` (report.json's content)."""
    records = report["per_run"]
    name = str(out)
    title = f"Campaign {report['scenario']}, seed {report['seed']}: {name}"
    body = "\n".join([
        f"<p>Directory {html.escape(name)}: {len(records)} runs of scenario "
        f"{html.escape(str(report['scenario']))}; numbers in report.json, runs in runs.ecsv.</p>",
        "<h2>Headline numbers</h2>",
        _headline([(name, report)]),
        "<h2>Figures</h2>",
        _image(figures.offset_png([(name, records)]), _OFFSET_ALT,
               "Offset / R90 against the Rayleigh law: with calibrated radii the curves agree "
               "and 90 % of the runs lie below 1."),
        _image(figures.coverage_png(name, records),
               "R90 coverage in bins of the source counts found, with 95 % Wilson intervals "
               "and the expected 0.9 as a dashed line.",
               "R90 coverage against the counts found (log bins)."),
        _image(figures.efficiency_png(name, records),
               "Detection efficiency in bins of the true count rate, with 95 % Wilson "
               "intervals.",
               "Detection efficiency against the true count rate (log bins)."),
        _image(figures.recovery_png(name, records),
               "Left: photon index fitted to each detected run's spectrum against the true "
               "one; right: decay index fitted to its light curve against the true one; 1 "
               "sigma error bars and the line found = true.",
               "Photon index (C-stat fit of the spectrum, NH fixed to the truth) and decay "
               "index (C-stat fit of the constant-S/N light curve) found against true."),
        "<h2>Runs</h2>",
        _runs_table(records),
    ])  # fmt: skip
    target = out / PAGE
    target.write_text(_SKELETON.substitute(title=html.escape(title), body=body), encoding="utf-8")
    return target


def write_compare(
    out: Path, report: dict[str, Any], other: Path, other_report: dict[str, Any]
) -> Path:
    """Write ``out/compare.html``: the campaigns in ``out`` and ``other`` side by side."""
    names = (str(out), str(other))
    title = f"Campaigns compared: {names[0]} and {names[1]}"
    body = "\n".join([
        f"<p>{html.escape(names[0])}: scenario {html.escape(str(report['scenario']))}, seed "
        f"{html.escape(str(report['seed']))}; {html.escape(names[1])}: scenario "
        f"{html.escape(str(other_report['scenario']))}, seed "
        f"{html.escape(str(other_report['seed']))}.</p>",
        "<h2>Headline numbers</h2>",
        _headline([(names[0], report), (names[1], other_report)]),
        "<h2>Offset / R90</h2>",
        _image(figures.offset_png([(names[0], report["per_run"]),
                                   (names[1], other_report["per_run"])]),
               _OFFSET_ALT + " Both campaigns are overlaid, one colour each.",
               "Offset / R90 of both campaigns against the Rayleigh law."),
    ])  # fmt: skip
    target = out / COMPARE_PAGE
    target.write_text(_SKELETON.substitute(title=html.escape(title), body=body), encoding="utf-8")
    return target
