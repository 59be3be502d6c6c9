"""The catalogue of calibration files and datasets, and its shared rules."""
