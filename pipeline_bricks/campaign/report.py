"""A campaign's report, from its finished runs: ``report.json`` and the table ``runs.ecsv``.

Made again from ``DIR/runs/*/result.json`` alone (``pipeline-bricks campaign-report``), so a
report never disagrees with the runs it sums up. The times (``seconds*``) are the only
numbers that differ between two campaigns of the same scenario and seed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import MaskedColumn, Table

from pipeline_bricks.campaign.runs import CAMPAIGN, MATCH_ARCSEC, finished_runs
from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.simulator.writer import write_json

__all__ = ["REPORT", "TABLE", "build_report", "campaign_document", "pulls", "wilson"]

REPORT = "report.json"
TABLE = "runs.ecsv"
BEYOND_R90 = 1.5  # a calibrated radius puts 0.6 % of the truths beyond 1.5 x R90 (Rayleigh)
UNITS = {
    "ra_true_deg": "deg", "dec_true_deg": "deg", "off_axis_arcmin": "arcmin",
    "rate_cts_s": "ct / s", "nh_cm2": "cm-2", "start_offset_s": "s", "duration_s": "s",
    "counts_true": "ct", "ra_found_deg": "deg", "dec_found_deg": "deg",
    "offset_arcsec": "arcsec", "r90_arcsec": "arcsec", "counts_found": "ct",
    "flux_true_erg_cm2_s": "erg / (cm2 s)", "flux_found_erg_cm2_s": "erg / (cm2 s)",
    "seconds_simulate": "s", "seconds_chain": "s", "seconds_products": "s",
}  # fmt: skip
MAD_TO_SIGMA = 1.4826  # a Gaussian's standard deviation over its median absolute deviation


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a binomial fraction ``k / n``."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def _share(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None


def pulls(records: list[dict[str, Any]], found: str, true: str) -> np.ndarray:
    """``(found - true) / error`` of the runs whose ``found`` was fitted.

    A standard normal sample when the fit is unbiased and its errors are right.
    """
    rows = [r for r in records if r.get(found) is not None and r.get(f"{found}_err")]
    return np.array([(r[found] - r[true]) / r[f"{found}_err"] for r in rows], dtype=np.float64)


def _recovery(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and spread (1.4826 MAD) of the pulls of the photon and decay indices."""
    numbers: dict[str, Any] = {}
    for name, found, true in (("gamma", "gamma_found", "gamma"),
                              ("decay", "decay_found", "decay")):  # fmt: skip
        values = pulls(records, found, true)
        median = float(np.median(values)) if values.size else None
        spread = float(MAD_TO_SIGMA * np.median(np.abs(values - median))) if values.size else None
        numbers |= {
            f"{name}_fitted": int(values.size),
            f"{name}_median_pull": None if median is None else round(median, 3),
            f"{name}_pull_spread": None if spread is None else round(spread, 3),
        }
    ratios = [r["flux_ratio"] for r in records if r.get("flux_ratio") is not None]
    numbers["median_flux_ratio"] = round(float(np.median(ratios)), 4) if ratios else None
    return numbers


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The set's numbers: detection, R90 coverage, offsets, false detections, times."""
    detected = [r for r in records if r["detected"]]
    inside = sum(bool(r["in_r90"]) for r in detected)
    ratios = np.array([r["offset_over_r90"] for r in detected if r["offset_over_r90"] is not None])
    offsets = np.array([r["offset_arcsec"] for r in detected])
    false = sum(r["false_detections"] for r in records)
    low, high = wilson(inside, len(detected))
    return {
        "runs": len(records),
        "detected": len(detected),
        "detection_efficiency": _share(len(detected), len(records)),
        "not_success": sum(r["status"] != "SUCCESS" for r in records),
        "r90_coverage": _share(inside, len(detected)),
        "r90_coverage_95": [round(low, 4), round(high, 4)] if detected else None,
        "beyond_1p5_r90": _share(int(np.count_nonzero(ratios > BEYOND_R90)), len(detected)),
        "median_offset_arcsec": round(float(np.median(offsets)), 3) if detected else None,
        "largest_offset_arcsec": round(float(offsets.max()), 3) if detected else None,
        "false_detections": false,
        "false_detections_per_field": _share(false, len(records)),
        # extra sources (gp): those on the CCD should be found, those off it never
        "extra_in_field": sum(r.get("extra_in_field", 0) for r in records),
        "extra_detected": sum(r.get("extra_detected", 0) for r in records),
        "outside_sources": sum(r.get("outside_sources", 0) for r in records),
        "outside_detected": sum(r.get("outside_detected", 0) for r in records),
        "match_radius_arcsec": MATCH_ARCSEC,
        # photon and decay indices from the products: pulls (found - true) / error
        **_recovery(records),
        "seconds_per_run": {
            "simulate": round(float(np.mean([r["seconds_simulate"] for r in records])), 3),
            "chain": round(float(np.mean([r["seconds_chain"] for r in records])), 3),
            "products": round(float(np.mean([r.get("seconds_products", 0.0) for r in records])), 3),
        }
        if records
        else None,
    }


def table(records: list[dict[str, Any]]) -> Table:
    """One row per run, one column per number of its record (missing values masked).

    A run made before a column was added (a resumed campaign) has it masked.
    """
    names = [key for key in dict.fromkeys(k for r in records for k in r) if key != "simulate"]
    columns = []
    for name in names:
        values = [r.get(name) for r in records]
        missing = [v is None for v in values]
        if any(missing):
            filler = next((v for v in values if v is not None), 0.0)
            data = [filler if v is None else v for v in values]
            columns.append(MaskedColumn(data, name=name, mask=missing, unit=UNITS.get(name)))
        else:
            columns.append(MaskedColumn(values, name=name, unit=UNITS.get(name)))
    return Table(columns)


def campaign_document(out: Path) -> dict[str, Any]:
    """The report of the campaign in ``out`` from its finished runs, written nowhere."""
    try:
        campaign = json.loads((out / CAMPAIGN).read_text())
    except (OSError, ValueError):
        raise BrickError(f"{out} holds no campaign ({CAMPAIGN} missing or unreadable)") from None
    records = [record for _, record in sorted(finished_runs(out).items())]
    document = {
        "scenario": campaign["scenario"]["name"],
        "seed": campaign["seed"],
        **summary(records),
        "per_run": records,
    }
    return document


def build_report(out: Path) -> dict[str, Any]:
    """Write ``report.json`` and ``runs.ecsv`` of the campaign in ``out``; returns the report."""
    document = campaign_document(out)
    records = document["per_run"]
    write_json(out / REPORT, document)
    rows = table(records)
    rows.meta.update(scenario=document["scenario"], seed=document["seed"])
    rows.write(out / TABLE, format="ascii.ecsv", overwrite=True)
    return document
