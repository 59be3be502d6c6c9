"""JSON form of datasets, shared by search, dataset and upload answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from caldb_server.catalogue.models import Dataset

__all__ = ["CIF_FIELDS", "dataset_json", "dataset_values"]

CIF_FIELDS = (
    "telescop",
    "instrume",
    "detnam",
    "filter",
    "cal_dev",
    "cal_dir",
    "cal_file",
    "cal_clas",
    "cal_dtyp",
    "cal_cnam",
    "cal_cbd",
    "cal_xno",
    "cal_vsd",
    "cal_vst",
    "ref_time",
    "cal_qual",
    "cal_date",
    "cal_desc",
)


def dataset_values(dataset: Dataset) -> dict[str, Any]:
    """The columns of an ORM dataset and its file, as a search row carries them."""
    values = {column.key: getattr(dataset, column.key) for column in Dataset.__table__.columns}
    stored = dataset.file
    values.update(
        cal_dir=stored.cal_dir,
        cal_file=stored.cal_file,
        sha256=stored.sha256,
        size_bytes=stored.size_bytes,
    )
    return values


def dataset_json(values: Mapping[str, Any], api_root: str) -> dict[str, Any]:
    """A dataset as the API shows it: every CIF field plus id, sha256, size and url.

    ``url`` is where the file's bytes are (null for an imported dataset whose file the
    CalDB does not hold).
    """
    document: dict[str, Any] = {"id": values["id"]}
    document.update((name, values[name]) for name in CIF_FIELDS)
    document["cal_cbd"] = list(values["cal_cbd"])
    held = values["sha256"] is not None
    document.update(
        file_id=values["file_id"],
        sha256=values["sha256"],
        size=values["size_bytes"],
        url=f"{api_root}files/{values['file_id']}/content" if held else None,
        indexed_at=values["indexed_at"].isoformat(),
        indexed_by=values["indexed_by"],
    )
    return document
