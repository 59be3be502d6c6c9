"""The catalogue rows an upload adds: its file, and one good dataset per indexed part.

Calibration FITS files (:mod:`caldb_server.ingest`) and onboard configuration files
(:mod:`caldb_server.onboard`) read their indexing values differently, but the rows they add
are the same kind: an online, good dataset stamped with who indexed it and when. Both build
them here, so a column added to the catalogue is filled in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from caldb_server.catalogue.duplicates import DatasetKey
from caldb_server.catalogue.models import CalibrationFile, Dataset
from caldb_server.catalogue.quality import GOOD
from caldb_server.storage import IncomingFile

__all__ = ["IndexingValues", "new_dataset", "new_file"]


class IndexingValues(DatasetKey, Protocol):
    """The CIF values read from an uploaded file for one dataset.

    Read-only members, so that the frozen ``HduDataset`` qualifies.
    """

    @property
    def hdu(self) -> int:
        """The HDU the values were read from: CAL_XNO (0 for a one-document file)."""

    @property
    def cal_clas(self) -> str:
        """CAL_CLAS: the class (BCF, CPF; UPLOAD for onboard files)."""

    @property
    def cal_dtyp(self) -> str:
        """CAL_DTYP: the data type."""

    @property
    def cal_vsd(self) -> str:
        """CAL_VSD: the validity start date (YYYY-MM-DD)."""

    @property
    def cal_vst(self) -> str:
        """CAL_VST: the validity start time (hh:mm:ss)."""

    @property
    def cal_desc(self) -> str:
        """CAL_DESC: the one-line description."""


def new_file(
    index_dir: str, cal_dir: str, incoming: IncomingFile, *, actor: str, now: datetime
) -> CalibrationFile:
    """The catalogue row of an uploaded file (added by the caller)."""
    return CalibrationFile(
        index_dir=index_dir,
        cal_dir=cal_dir,
        cal_file=incoming.name,
        sha256=incoming.sha256,
        size_bytes=incoming.size,
        origin="upload",
        uploaded_by=actor,
        uploaded_at=now,
    )


def new_dataset(
    stored: CalibrationFile, values: IndexingValues, *, actor: str, now: datetime
) -> Dataset:
    """A good, online dataset of ``stored``, indexed by ``actor`` at ``now`` (its CAL_DATE)."""
    return Dataset(
        file=stored,
        telescop=values.telescop,
        instrume=values.instrume,
        detnam=values.detnam,
        filter=values.filter,
        cal_dev="ONLINE",
        cal_clas=values.cal_clas,
        cal_dtyp=values.cal_dtyp,
        cal_cnam=values.cal_cnam,
        cal_cbd=list(values.cal_cbd),
        cal_xno=values.hdu,
        cal_vsd=values.cal_vsd,
        cal_vst=values.cal_vst,
        ref_time=values.ref_time,
        cal_qual=GOOD,
        cal_date=now.strftime("%Y-%m-%d"),
        cal_desc=values.cal_desc,
        indexed_by=actor,
        indexed_at=now,
    )
