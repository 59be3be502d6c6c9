"""Typed results: a calibration dataset as the CalDB describes it, and the answers holding them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from caldbio.errors import TransportError

__all__ = ["Dataset", "Rejection", "SearchAnswer", "UploadResult", "json_object"]


def json_object(response: requests.Response) -> dict[str, Any]:
    """The JSON object of a successful answer (every CalDB answer is one).

    Raises
    ------
    TransportError
        If the body is not a JSON object: the URL does not lead to a CalDB.
    """
    try:
        document = response.json()
    except ValueError:  # requests' JSONDecodeError
        document = None
    if not isinstance(document, dict):
        address = response.url.partition("?")[0]
        raise TransportError(f"{address} did not answer as a CalDB (no JSON object)")
    return document


@dataclass
class Dataset:
    """One indexed HDU: every CIF column, the file's identity, and where it is locally.

    ``ref_time`` is the validity start in MJD (UTC); ``cal_xno`` is the HDU number of the
    dataset in its file (primary = 0); ``local_path`` is set once the file is downloaded.
    """

    id: int
    telescop: str
    instrume: str
    detnam: str
    filter: str
    cal_dev: str
    cal_dir: str
    cal_file: str
    cal_clas: str
    cal_dtyp: str
    cal_cnam: str
    cal_cbd: tuple[str, ...]
    cal_xno: int
    cal_vsd: str
    cal_vst: str
    ref_time: float
    cal_qual: int
    cal_date: str
    cal_desc: str
    file_id: int | None = None
    sha256: str | None = None
    size: int | None = None
    url: str | None = None
    indexed_at: datetime | None = None
    indexed_by: str | None = None
    local_path: Path | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Dataset:
        """Build from the server's JSON (unknown keys are ignored: newer servers add some)."""
        known = {f.name for f in fields(cls)} - {"local_path"}
        values = {k: v for k, v in document.items() if k in known}
        values["cal_cbd"] = tuple(values.get("cal_cbd") or ())
        if isinstance(values.get("indexed_at"), str):
            values["indexed_at"] = datetime.fromisoformat(values["indexed_at"])
        return cls(**values)

    @property
    def hdu(self) -> str:
        """``file[xno]``: how FITS tools name this HDU."""
        return f"{self.cal_file}[{self.cal_xno}]"

    def to_json(self) -> dict[str, Any]:
        """The dataset as JSON-ready values (for ``--json`` output and the offline index)."""
        document: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            document[item.name] = value
        return document


@dataclass(frozen=True)
class Rejection:
    """A candidate a search did not select: ``reason`` (e.g. ``superseded``) and why, in words."""

    id: int
    cal_file: str
    cal_xno: int
    reason: str
    detail: str

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Rejection:
        """Build from an item of the server's ``explain`` list."""
        return cls(
            id=item["id"],
            cal_file=item["cal_file"],
            cal_xno=item["cal_xno"],
            reason=item["reason"],
            detail=item["detail"],
        )

    @property
    def hdu(self) -> str:
        """``file[xno]``: how FITS tools name this HDU."""
        return f"{self.cal_file}[{self.cal_xno}]"

    def to_json(self) -> dict[str, Any]:
        """The rejection as the server's ``explain`` item."""
        return {
            "id": self.id,
            "cal_file": self.cal_file,
            "cal_xno": self.cal_xno,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class SearchAnswer:
    """What a search found: ``nfound`` datasets (``results`` holds up to ``maxret``).

    ``explain`` holds, when it was asked for, every other candidate and why it lost.
    """

    nfound: int
    results: list[Dataset]
    answered_at: datetime | None = None
    explain: list[Rejection] | None = None

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> SearchAnswer:
        """Build from the server's ``/search`` answer."""
        answered_at = document.get("answered_at")
        rejections = document.get("explain")
        return cls(
            nfound=document["nfound"],
            results=[Dataset.from_json(item) for item in document["results"]],
            answered_at=datetime.fromisoformat(answered_at) if answered_at else None,
            explain=None
            if rejections is None
            else [Rejection.from_json(item) for item in rejections],
        )


@dataclass(frozen=True)
class UploadResult:
    """What an upload did: ``created`` is False for an identical re-upload."""

    created: bool
    file_id: int
    sha256: str
    datasets: list[Dataset]
    superseded: list[int]
    notes: list[str]

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> UploadResult:
        """Build from the server's answer to an upload."""
        return cls(
            created=document["created"],
            file_id=document["file_id"],
            sha256=document["sha256"],
            datasets=[Dataset.from_json(item) for item in document["datasets"]],
            superseded=list(document.get("superseded", [])),
            notes=list(document.get("notes", [])),
        )
