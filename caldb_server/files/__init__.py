"""Calibration file bytes and uploads."""
