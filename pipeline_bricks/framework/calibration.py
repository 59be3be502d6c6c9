"""Calibration for bricks: from the CalDB through CaDBIO, or from a local override file.

A brick asks for a codename at the observation date; the provider answers with a local
path, the HDU to read and a :class:`CalibrationUsed` record, which goes into
processing_status.json and into the header of every FITS output. A codename mapped to a
file in ``parameters.calibration`` (``"GAIN": "my_gain.fits"`` or ``"my_gain.fits[1]"``) is
used instead of the CalDB, and recorded as ``source: local``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from astropy.io import fits

from caldb_common.digest import sha256_of
from caldbio import CaDBIO, CaDBIOError, TransportError
from caldbio.usage import FlushReport
from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.framework.runtime import RuntimeData

__all__ = [
    "CalibrationFile",
    "CalibrationProvider",
    "CalibrationUsed",
    "record_in_header",
    "split_override",
]

_CALF = re.compile(r"CALF[0-9]{4}")
_WITH_EXTENSION = re.compile(r"(?P<path>.+)\[(?P<xno>[0-9]{1,3})\]")


@dataclass(frozen=True)
class CalibrationUsed:
    """One calibration dataset a brick used (processing_status.json ``calibration`` item)."""

    codename: str
    file: str
    extension: int
    sha256: str
    source: str  # "caldb" or "local"
    dataset_id: int | None
    as_of: str | None
    # The CalDB search that chose it (instrument, date, detector, filter, expr); None for
    # a local file. A usage record carries it, so the CalDB can replay the choice later.
    selection: dict[str, str] | None = None

    def card(self) -> str:
        """The value of a ``CALFnnnn`` header card."""
        return f"{self.codename} {self.file}[{self.extension}] sha256={self.sha256}"


@dataclass(frozen=True)
class CalibrationFile:
    """Where to read a calibration dataset: the file, its HDU number, and the record."""

    path: Path
    extension: int
    used: CalibrationUsed


def split_override(text: str) -> tuple[str, int | None]:
    """A local override ``PATH`` or ``PATH[xno]``: the path text and the HDU, if given."""
    match = _WITH_EXTENSION.fullmatch(text)
    return (match["path"], int(match["xno"])) if match else (text, None)


def _extension_of(path: Path, codename: str) -> int:
    """The first HDU whose CCNM0001 is the codename (1 when no HDU says); 0 for YAML."""
    if path.suffix.lower() in {".yaml", ".yml"}:  # onboard uploads: one document, "HDU" 0
        return 0
    try:
        with fits.open(path) as hdus:
            for number, hdu in enumerate(hdus):
                if str(hdu.header.get("CCNM0001", "")).upper() == codename:
                    return number
    except OSError as error:
        raise BrickError(f"cannot read the local {codename} file {path}: {error}") from None
    return 1


class _Selection(TypedDict):
    """The search arguments beside the codename and date (``-`` stands for any)."""

    detector: str
    filter: str
    expr: str


@dataclass(frozen=True)
class _Request:
    codename: str
    date: str
    instrument: str
    selection: _Selection


class CalibrationProvider:
    """Answers a brick's calibration requests for one job."""

    def __init__(self, runtime: RuntimeData, *, cache_dir: Path | None = None) -> None:
        self.runtime = runtime
        self.as_of = runtime.caldb.get("as_of")
        self._overrides: dict[str, str] = dict(runtime.parameters.get("calibration", {}))
        self._cache_dir = cache_dir
        self._client: CaDBIO | None = None
        self.used: list[CalibrationUsed] = []
        self._answers: dict[tuple[str, ...], CalibrationFile] = {}

    def _caldb(self) -> CaDBIO:
        if self._client is None:
            settings = self.runtime.caldb
            self._client = CaDBIO(
                settings.get("url"),
                token=settings.get("token"),
                max_tries=settings.get("max_tries", 5),
                cache_dir=self._cache_dir,
            )
        return self._client

    def get(
        self,
        codename: str,
        *,
        date: str,
        instrument: str | None = None,
        detector: str = "-",
        filter: str = "-",
        expr: str = "-",
    ) -> CalibrationFile:
        """The calibration dataset ``codename`` valid at ``date`` (ISO instant, UTC).

        Raises
        ------
        BrickError
            If the local override is unreadable, the CalDB is unreachable after its retries,
            refuses the request, or has no (or several different) matching datasets.
        """
        request = _Request(
            codename.upper(),
            date,
            instrument or self.runtime.target["instrument"],
            {"detector": detector, "filter": filter, "expr": expr},
        )
        key = (request.codename, request.date, request.instrument, detector, filter, expr)
        if key not in self._answers:  # bricks of one chain ask once per dataset
            if request.codename in self._overrides:
                self._answers[key] = self._local(request.codename)
            else:
                self._answers[key] = self._from_caldb(request)
        found = self._answers[key]
        if found.used not in self.used:
            self.used.append(found.used)
        return found

    def _local(self, codename: str) -> CalibrationFile:
        text = self._overrides[codename]
        path_text, xno = split_override(text)
        path = self.runtime.resolve(path_text)
        if not path.is_file():
            raise BrickError(f"the local {codename} file {path} does not exist")
        extension = _extension_of(path, codename) if xno is None else xno
        used = CalibrationUsed(codename, path.name, extension, sha256_of(path), "local", None, None)
        return CalibrationFile(path, extension, used)

    def _from_caldb(self, request: _Request) -> CalibrationFile:
        client = self._caldb()
        what = f"{request.codename} calibration of {request.instrument} valid at {request.date}"
        try:
            answer = client.search_answer(
                request.instrument,
                request.codename,
                request.date,
                as_of=self.as_of,
                **request.selection,
            )
        except TransportError as error:
            raise BrickError(f"the CalDB is unreachable: {error.detail}") from None
        except CaDBIOError as error:
            raise BrickError(f"the CalDB refused the {request.codename} request: {error}") from None
        if not answer.results:
            when = f" (as_of {self.as_of})" if self.as_of else ""
            raise BrickError(f"the CalDB at {client.url} has no {what}{when}")
        if len({(d.sha256, d.cal_xno) for d in answer.results}) > 1:
            raise BrickError(
                f"the CalDB gives several different datasets for the {what}; "
                "the brick must choose one (detector, filter or expression)"
            )
        dataset = answer.results[0]
        try:
            path = client.download(dataset, self.runtime.output_dir / "calibration")
        except CaDBIOError as error:
            raise BrickError(f"cannot download {dataset.cal_file}: {error}") from None
        assert dataset.sha256 is not None  # downloaded, so held and verified
        as_of = self.as_of or (answer.answered_at.isoformat() if answer.answered_at else None)
        used = CalibrationUsed(
            request.codename,
            dataset.cal_file,
            dataset.cal_xno,
            dataset.sha256,
            "caldb",
            dataset.id,
            as_of,
            {"instrument": request.instrument, "date": request.date}
            | {name: str(value) for name, value in request.selection.items()},
        )
        return CalibrationFile(path, dataset.cal_xno, used)

    def report_usage(self, record: dict[str, Any]) -> FlushReport | None:
        """Queue a usage record and send what the CalDB can take now; None without a token.

        Without a token the CalDB cannot take it (a usage record names who sent it), so it
        is not queued: a pipeline reading a public CalDB anonymously reports nothing.
        """
        client = self._caldb()
        if client.tokens is None or not client.tokens.configured():
            return None
        return client.report_usage(record)

    def close(self) -> None:
        """Close the CalDB connections."""
        if self._client is not None:
            self._client.close()


def record_in_header(header: Any, used: list[CalibrationUsed]) -> None:
    """Write ``CALFnnnn`` cards (one per dataset used) and ``CALASOF`` into a FITS header.

    Cards already in the header (an input file reduced by an earlier brick) are kept
    first, so an output records the calibration of the whole chain that made it.
    """
    cards: list[tuple[str, str]] = []
    for keyword in [k for k in header if _CALF.fullmatch(k)]:
        cards.append((str(header[keyword]), header.comments[keyword]))
        del header[keyword]
    for item in used:
        cards.append((item.card(), f"{item.source} calibration"))
    unique: dict[str, str] = {}
    for value, comment in cards:
        unique.setdefault(value, comment)
    for number, (value, comment) in enumerate(unique.items(), start=1):
        header[f"CALF{number:04d}"] = (value, comment)
    if unique and "LONGSTRN" not in header:  # the cards continue over several lines
        header["LONGSTRN"] = ("OGIP 1.0", "the OGIP long string convention may be used")
    # One card: the latest instant of the searches (ISO UTC strings sort in time order);
    # processing_status.json keeps the instant of each search.
    as_of = {str(header.get("CALASOF", "none"))} - {"none"}
    as_of |= {item.as_of for item in used if item.source == "caldb" and item.as_of}
    header["CALASOF"] = (max(as_of, default="none"), "CalDB as_of of the latest search")
