"""Ingestion of calibration FITS files with the udcif rules."""
