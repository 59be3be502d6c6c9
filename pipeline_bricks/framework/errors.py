"""Outcomes a brick reports instead of a traceback."""

from __future__ import annotations

__all__ = ["BrickError", "NoData"]


class BrickError(Exception):
    """The brick cannot do its work: status ``FAILED`` with this message."""


class NoData(Exception):
    """There is nothing to process (e.g. no event in the GTIs): status ``NO_DATA``."""
