"""Fixtures of the MXT science tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def columns() -> tuple[np.ndarray, np.ndarray]:
    """Epoch-2-like GAIN [eV/ADU] and OFFSET [ADU] of the 256 columns."""
    rng = np.random.default_rng(11)
    gains = 5.0 * (1 + 0.01 * rng.standard_normal(256)) * 1.015
    offsets = 4.0 + 1.5 * rng.standard_normal(256) + 1.5
    return gains, offsets
