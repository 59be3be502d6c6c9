"""Calibration searches with the quzcif semantics."""
