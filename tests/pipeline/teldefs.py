"""TELDEF values of the coordinate tests (docs/calibration_formats.md §2)."""

from __future__ import annotations

import math

from pipeline_bricks.mxt import coordinates as co

PIXEL_ARCSEC = math.degrees(math.atan(0.075 / 1150.0)) * 3600.0  # 13.452053"
# Epoch 2 (2025-06-01) ALIGNM as written in docs/calibration_formats.md §2.
EPOCH2_ALIGNM = {
    "ALIGNM11": 0.999999972922896,
    "ALIGNM12": 4.06156553987724e-08,
    "ALIGNM13": 0.000232710561287817,
    "ALIGNM21": 0.0,
    "ALIGNM22": 0.999999984769129,
    "ALIGNM23": -0.00017453292431333,
    "ALIGNM31": -0.00023271056483220,
    "ALIGNM32": 0.000174532919587491,
    "ALIGNM33": 0.999999957692026,
}
IDENTITY_ALIGNM = {f"ALIGNM{i}{j}": float(i == j) for i in (1, 2, 3) for j in (1, 2, 3)}


def teldef_header(alignm: dict[str, float] | None = None, **changes: object) -> dict:
    """The TELDEF keywords of §2 (epoch 1 unless another ALIGNM is given)."""
    header: dict[str, object] = {
        "COORDSYS": "RAW,DET,SKY",
        "RAW_XSIZ": 256,
        "RAW_YSIZ": 256,
        "RAWXPIX1": 1,
        "RAWYPIX1": 1,
        "SEG_NUM": 1,
        "COE_X0_A": 0.0,
        "COE_X0_B": 1.0,
        "COE_X0_C": 0.0,
        "COE_Y0_A": 0.0,
        "COE_Y0_B": 0.0,
        "COE_Y0_C": 1.0,
        "DET_XSCL": 0.075,
        "DET_YSCL": 0.075,
        "DETXFLIP": 1,
        "DETYFLIP": 1,
        "DET_ROTD": 0.0,
        "FOCALLEN": 1150.0,
        "OPTCOORD": "DET",
        "OPTAXISX": 128.5,
        "OPTAXISY": 128.5,
        "IMAGEINV": False,
        "SKY_XSIZ": 512,
        "SKY_YSIZ": 512,
        "SKY_XCEN": 256.5,
        "SKY_YCEN": 256.5,
        "SKY_XSCL": 13.452053,
        "SKY_YSCL": 13.452053,
        **(alignm or IDENTITY_ALIGNM),
    }
    header.update(changes)
    return header


EPOCH1 = co.Teldef.from_header(teldef_header())
EPOCH2 = co.Teldef.from_header(teldef_header(EPOCH2_ALIGNM))
