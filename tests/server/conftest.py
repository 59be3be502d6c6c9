"""Fixtures of the server tests."""

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def root(app_config: dict[str, Any]) -> Path:
    """The CALDB tree of the test app."""
    return app_config["ROOT"]
