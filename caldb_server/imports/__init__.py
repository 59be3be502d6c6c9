"""Importing existing HEASARC indexes."""
