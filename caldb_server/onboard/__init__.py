"""Onboard-upload products: YAML configuration files uploaded to the satellite (SPEC §3.5)."""
