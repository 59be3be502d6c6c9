"""The calibration the simulator inverts: the pipeline's files, through CaDBIO, same readers.

Every dataset is asked of :class:`~pipeline_bricks.framework.calibration.CalibrationProvider`
(CalDB search and download into ``<out>/calibration``, or a local override) and read with
:mod:`pipeline_bricks.mxt.caldata`, so the simulator and the MXT chain share one truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_bricks.framework.calibration import (
    CalibrationProvider,
    CalibrationUsed,
    split_override,
)
from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.framework.runtime import RuntimeData
from pipeline_bricks.mxt.caldata import (
    BadPixels,
    ColumnGains,
    CtiLaw,
    EffectiveArea,
    EventThresholds,
    Psf,
    Redistribution,
    Vignetting,
    read_badpix,
    read_cti,
    read_evtthr,
    read_gain,
    read_psf,
    read_rmf,
    read_specresp,
    read_teldef,
    read_vignet,
)
from pipeline_bricks.mxt.coordinates import Teldef

__all__ = ["CODENAMES", "SimulatorCalibration", "absolute_override", "load_calibration"]

#: Codenames the simulator reads, in the order it asks for them.
CODENAMES = (
    "TELDEF",
    "GAIN",
    "CTI",
    "BADPIX",
    "PSF",
    "SPECRESP",
    "MATRIX",
    "EBOUNDS",
    "VIGNET",
    "EVTTHR",
)


@dataclass(frozen=True)
class SimulatorCalibration:
    """Everything the simulator reads, and the record of the files it came from."""

    teldef: Teldef
    gains: ColumnGains
    cti: CtiLaw
    badpix: BadPixels
    psf: Psf
    arf: EffectiveArea
    rmf: Redistribution
    vignet: Vignetting
    thresholds: EventThresholds
    used: tuple[CalibrationUsed, ...]


def absolute_override(text: str, base: Path) -> str:
    """A ``PATH`` or ``PATH[xno]`` override made absolute against ``base`` (the cwd)."""
    path_text, xno = split_override(text)
    path = Path(path_text).expanduser()
    path = path if path.is_absolute() else (base / path).resolve()
    return f"{path}" if xno is None else f"{path}[{xno}]"


def load_calibration(
    out_dir: Path,
    date: str,
    caldb: dict[str, Any],
    overrides: dict[str, str],
) -> SimulatorCalibration:
    """Fetch and read the MXT calibration valid at ``date``.

    Parameters
    ----------
    out_dir : pathlib.Path
        Output directory; CalDB files are downloaded to ``out_dir / "calibration"``.
    date : str
        ISO instant (UTC) the calibration must be valid at (the observation start).
    caldb : dict
        ``url``, ``token`` (optional), ``max_tries`` and ``as_of`` (optional) of the CalDB.
    overrides : dict of str
        Codename -> absolute local file ``PATH`` or ``PATH[xno]`` used instead of the CalDB.

    Returns
    -------
    SimulatorCalibration
        The calibration, read with :mod:`pipeline_bricks.mxt.caldata`.

    Raises
    ------
    BrickError
        If the CalDB is unreachable or lacks a dataset, or a file breaks its format.
    """
    runtime = RuntimeData(
        path=out_dir / "simulate.json",
        brick="simulate",
        target={"instrument": "MXT"},
        inputs={},
        output_dir=out_dir,
        parameters={"calibration": overrides},
        caldb={key: value for key, value in caldb.items() if value is not None},
    )
    provider = CalibrationProvider(runtime)
    try:
        found = {codename: provider.get(codename, date=date) for codename in CODENAMES}
    finally:
        provider.close()

    def read(codename: str, reader: Any) -> Any:
        return reader(found[codename].path, found[codename].extension)

    matrix, ebounds = found["MATRIX"], found["EBOUNDS"]
    if matrix.used.sha256 != ebounds.used.sha256:
        raise BrickError(
            f"EBOUNDS ({ebounds.used.file}) is not in the MATRIX file ({matrix.used.file}); "
            "the simulator reads the EBOUNDS of the RMF file"
        )
    return SimulatorCalibration(
        teldef=read("TELDEF", read_teldef),
        gains=read("GAIN", read_gain),
        cti=read("CTI", read_cti),
        badpix=read("BADPIX", read_badpix),
        psf=read("PSF", read_psf),
        arf=read("SPECRESP", read_specresp),
        rmf=read("MATRIX", read_rmf),
        vignet=read("VIGNET", read_vignet),
        thresholds=read_evtthr(found["EVTTHR"].path),
        used=tuple(provider.used),
    )
