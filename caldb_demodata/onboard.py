"""Onboard configuration uploads (YAML), named ``<INST>_<CODENAME>_<YYYYMMDD>T<HHMMSS>_V<NN>``.

Content follows ``schemas/onboard/<codename>.schema.json``; pixel masks repeat the hot,
flickering (MXT) or disabled (ECL) pixels of the BADPIX files, 0-based ``[x, y]``.
Returned in upload order: at one on-board instant, V01 before V02 (a higher version
supersedes a lower one; the reverse order is refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from caldb_demodata import ecl, mxt_detector
from caldb_demodata.common import write_yaml

__all__ = ["onboard_documents", "write_onboard"]


def _mxt_pixmask(seed: int) -> dict[str, Any]:
    table = mxt_detector.bad_pixel_table(seed)
    masked = mxt_detector.BAD_TYPES["HOT"] | mxt_detector.BAD_TYPES["FLICKERING"]
    pixels = [[int(x) - 1, int(y) - 1] for x, y, _, kind in table if kind & masked]
    return {
        "description": "MXT hot and flickering pixels masked on board",
        "pixels": pixels,
        "reason": "hot and flickering pixels of BADPIX 2024-06-22 (RAWX-1, RAWY-1)",
    }


def _ecl_pixmask(seed: int) -> dict[str, Any]:
    table = ecl.bad_pixel_table(seed)
    pixels = [[int(x), int(y)] for _, x, y, kind in table if kind & ecl.BAD_TYPES["DISABLED"]]
    return {
        "description": "ECLAIRs pixels disabled on board",
        "pixels": pixels,
        "reason": "disabled pixels of BADPIX 2024-06-22 ([X, Y], DETNUM = 80*Y + X)",
    }


def onboard_documents(seed: int) -> list[tuple[str, dict[str, Any]]]:
    """Every onboard upload of the demonstration set, in upload order.

    Parameters
    ----------
    seed : int
        Demonstration seed (pixel masks follow the seeded BADPIX tables).

    Returns
    -------
    list of (str, dict)
        File name and YAML content. MXT EVTTHR thresholds are ADU of a pixel amplitude
        (about 5 eV/ADU): V01 then V02 on 2024-07-01T00:00:00, V01 on
        2025-03-01T12:00:00; ECL TRIGCFG on 2024-07-01 and 2025-01-15.
    """
    return [
        (
            "MXT_EVTTHR_20240701T000000_V01.yaml",
            {
                "description": "MXT event finder thresholds, first light",
                "event_threshold_adu": 20,
                "split_threshold_adu": 10,
                "upper_threshold_adu": 3000,
                "frame_time_ms": 100.0,
            },
        ),
        (
            "MXT_EVTTHR_20240701T000000_V02.yaml",
            {
                "description": "MXT event finder thresholds, first light (noise fix)",
                "event_threshold_adu": 24,
                "split_threshold_adu": 12,
                "upper_threshold_adu": 3000,
                "frame_time_ms": 100.0,
            },
        ),
        (
            "MXT_EVTTHR_20250301T120000_V01.yaml",
            {
                "description": "MXT event finder thresholds after CTI increase",
                "event_threshold_adu": 26,
                "split_threshold_adu": 13,
                "upper_threshold_adu": 3200,
                "frame_time_ms": 100.0,
            },
        ),
        ("MXT_PIXMASK_20240701T000000_V01.yaml", _mxt_pixmask(seed)),
        (
            "ECL_TRIGCFG_20240701T000000_V01.yaml",
            {
                "description": "ECLAIRs trigger configuration, commissioning",
                "count_rate_sigma": 6.5,
                "image_sigma": 6.5,
                "timescales_s": [0.01, 0.1, 1.0, 2.56, 10.24, 20.48],
                "energy_band_kev": [4.0, 120.0],
            },
        ),
        (
            "ECL_TRIGCFG_20250115T000000_V01.yaml",
            {
                "description": "ECLAIRs trigger configuration, nominal operations",
                "count_rate_sigma": 7.0,
                "image_sigma": 6.0,
                "timescales_s": [0.01, 0.1, 1.0, 2.56, 10.24, 20.48, 81.92],
                "energy_band_kev": [4.0, 100.0],
            },
        ),
        ("ECL_PIXMASK_20240701T000000_V01.yaml", _ecl_pixmask(seed)),
        (
            "VT_EXPSEQ_20240701T000000_V01.yaml",
            {
                "description": "VT exposure sequences of a burst follow-up",
                "blue": {"exposures_s": [10.0, 20.0, 40.0, 80.0, 150.0, 300.0], "binning": 2},
                "red": {"exposures_s": [10.0, 20.0, 40.0, 80.0, 150.0, 300.0], "binning": 2},
            },
        ),
    ]


def write_onboard(directory: Path, seed: int) -> list[Path]:
    """Write every onboard YAML file into ``directory``; paths in upload order."""
    return [write_yaml(directory / name, content) for name, content in onboard_documents(seed)]
