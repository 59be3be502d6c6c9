"""The thin class every brick is: what it needs, and a ``run`` over a :class:`BrickContext`.

The science lives in pure numpy functions; a brick class reads its inputs, asks the
context for calibration, calls those functions, writes its outputs and registers them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from astropy.io import fits

from pipeline_bricks.framework.calibration import (
    CalibrationFile,
    CalibrationProvider,
    CalibrationUsed,
    record_in_header,
)
from pipeline_bricks.framework.errors import BrickError, NoData
from pipeline_bricks.framework.runtime import RuntimeData
from pipeline_bricks.parameters import Parameter, Value

__all__ = ["Brick", "BrickContext", "BrickError", "NoData"]


@dataclass
class BrickContext:
    """What a running brick can read and where it reports."""

    runtime: RuntimeData
    calibration: CalibrationProvider
    # The checked parameters (pipeline_bricks.parameters.resolve_parameters), defaults filled.
    parameters: dict[str, Value] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def output_dir(self) -> Path:
        """The job's output directory (created)."""
        self.runtime.output_dir.mkdir(parents=True, exist_ok=True)
        return self.runtime.output_dir

    def input(self, name: str, *, single: bool = True) -> Path:
        """The input file of collection ``name`` (exactly one, existing).

        Raises
        ------
        BrickError
            If the collection is missing, empty, has several files, or the file is absent.
        """
        paths = self.runtime.inputs.get(name) or []
        if not paths:
            raise BrickError(f"runtime_data.json has no '{name}' input")
        if single and len(paths) != 1:
            raise BrickError(f"the '{name}' input must be one file, got {len(paths)}")
        if not paths[0].is_file():
            raise BrickError(f"the '{name}' input {paths[0]} does not exist")
        return paths[0]

    def parameter(self, name: str) -> Any:
        """The checked value of the brick's parameter ``name``: the job's, else the default.

        A number is a float, a whole number an int, a pair a tuple; None is a default the
        brick works out from its inputs (``Parameter.default_text``).

        Raises
        ------
        LookupError
            If the brick did not declare ``name`` (a programming error, not the job's).
        """
        try:
            return self.parameters[name]
        except KeyError:
            raise LookupError(
                f"the brick reads parameter {name!r}, which it does not declare"
            ) from None

    def calibrate(self, codename: str, *, date: str, **selection: str) -> CalibrationFile:
        """A calibration dataset (CalDB or local override), recorded as used."""
        return self.calibration.get(codename, date=date, **selection)

    @property
    def calibration_used(self) -> list[CalibrationUsed]:
        """Every calibration dataset used so far."""
        return list(self.calibration.used)

    def info(self, text: str) -> None:
        """A message for processing_status.json."""
        self.messages.append({"level": "INFO", "text": text})

    def warning(self, text: str) -> None:
        """A warning for processing_status.json."""
        self.messages.append({"level": "WARNING", "text": text})

    def stage(self, inputs: dict[str, list[Path]]) -> BrickContext:
        """A context for one brick of a chain run by this one, on ``inputs``.

        It shares the calibration (asked once, recorded once), the parameters (the chain
        declares those of its bricks), the outputs and the messages; its results are its
        own (the chain files them under the brick's name).
        """
        runtime = replace(self.runtime, inputs=inputs)
        return BrickContext(runtime, self.calibration, self.parameters, self.outputs, self.messages)

    def write_fits(self, hdus: fits.HDUList, name: str, kind: str) -> Path:
        """Write an output FITS file recording the calibration used; register it as ``kind``."""
        for hdu in hdus:
            record_in_header(hdu.header, self.calibration_used)
        path = self.output_dir / name
        hdus.writeto(path, overwrite=True, checksum=True)
        self.outputs.setdefault(kind, []).append(name)
        return path

    def register_output(self, name: str, kind: str) -> Path:
        """Register a file the brick wrote in the output directory as ``kind``.

        For PNG previews or a copied response; FITS products go through :meth:`write_fits`.

        Raises
        ------
        BrickError
            If ``name`` is not a plain file name of an existing file there.
        """
        path = self.output_dir / name
        if Path(name).name != name or not path.is_file():
            raise BrickError(f"output {name!r} is not a file of the output directory")
        self.outputs.setdefault(kind, []).append(name)
        return path


class Brick(ABC):
    """A processing step. Subclasses set the class attributes and implement :meth:`run`."""

    name: ClassVar[str]
    description: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = ()
    codenames: ClassVar[tuple[str, ...]] = ()  # calibration it needs (overridable locally)
    # Every parameter it reads (checked before run; see pipeline_bricks.parameters).
    parameters: ClassVar[tuple[Parameter, ...]] = ()

    @abstractmethod
    def run(self, context: BrickContext) -> None:
        """Do the work; raise :class:`NoData` or :class:`BrickError` to end otherwise."""
