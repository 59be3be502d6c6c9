"""Running the simulator in tests, and reading what it wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from pipeline_bricks.cli import main

DATE = "2025-07-01T12:00:00"
EVENTS = "sb25070101_mxt_l1_evt.fits"
ATTITUDE = "sb25070101_att.fits"


def run_simulator(out: Path, url: str, *options: str) -> int:
    """``pipeline-bricks simulate`` into ``out`` with the CalDB at ``url``."""
    return main(["simulate", "--date", DATE, "--out", str(out), "--caldb-url", url, *options])


def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private CaDBIO cache (not the user's) and no CALDB_TOKEN, for a module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALDBIO_CACHE", str(tmp_path_factory.mktemp("cache")))
        patch.delenv("CALDB_TOKEN", raising=False)
        yield


def truth_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "truth.json").read_text())


def calibration_file(out: Path, codename: str) -> tuple[Path, int]:
    """The file (in ``out/calibration``) and HDU the simulator used for ``codename``."""
    item = next(c for c in truth_of(out)["calibration"] if c["codename"] == codename)
    return out / "calibration" / item["file"], item["extension"]


def events_of(out: Path) -> fits.FITS_rec:
    with fits.open(out / EVENTS, checksum=True) as hdus:
        return hdus["EVENTS"].data.copy()
