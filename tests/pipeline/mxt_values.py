"""Calibration values shared by the MXT science tests (docs/calibration_formats.md)."""

SPLIT = 12.0  # SPLTHR [ADU] of MXT_EVTTHR V02
CTI_EPOCH = {1: (1.0e-5, 1.0, 0.20), 2: (1.2e-4, 1.0, 0.30)}  # CTI_NORM, CTI_E0, CTI_IDX
