"""The dataset page ``/datasets/<id>``, its file's ``Download`` and its image thumbnails.

The page shows the catalogue's record (CIF fields, the file's other datasets, the quality
history) whatever the tree holds, then what the file holds (headers and data summaries of
each HDU, or an onboard file's YAML) and how it differs from the previous version. The
download streams the file exactly as ``GET /api/v1/files/<id>/content`` does, for a
browser that has a session rather than a bearer token.
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, request

from caldb_server.auth.access import readable
from caldb_server.catalogue.models import ONBOARD_CLASS, CalibrationFile, Dataset
from caldb_server.catalogue.quality import quality_words
from caldb_server.errors import NotFound
from caldb_server.files.views import send_calibration_file
from caldb_server.inspect import InspectionError
from caldb_server.ui.blueprint import blueprint
from caldb_server.ui.dataset_content import (
    VersionComparison,
    compare_versions,
    hdu_thumbnail,
    previous_path,
    read_content,
    stored_path,
)
from caldb_server.ui.dataset_record import MAX_ID, DatasetRecord, dataset_record
from caldb_server.ui.pages import page
from caldb_server.web import db_session, extension

__all__ = ["dataset", "dataset_download", "dataset_thumbnail"]

THUMBNAIL_MAX_AGE = 86400  # a file never changes: its thumbnails neither
UTC_FORMAT = "%Y-%m-%d %H:%M:%S UTC"  # stored times are UTC


def _dataset(dataset_id: int) -> Dataset:
    """The dataset with its file (one query), or 404."""
    found = db_session().get(Dataset, dataset_id) if 1 <= dataset_id <= MAX_ID else None
    if found is None:
        raise NotFound(f"there is no dataset {dataset_id}")
    return found


def _comparison(record: DatasetRecord, new_path: Path | None) -> VersionComparison | None:
    """The file against the previous version's; None when there is no previous version."""
    if record.previous is None:
        return None
    if new_path is None:
        return VersionComparison(problem="This file cannot be compared: it cannot be read.")
    old_path, problem = previous_path(extension().storage, record.previous)
    if old_path is None:
        return VersionComparison(problem=problem)
    return compare_versions(old_path, new_path, onboard=record.onboard)


def _size_text(size: int | None) -> str:
    if size is None:
        return "unknown"
    for unit, scale in (("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size:,} bytes ({size / scale:.1f} {unit})"
    return f"{size:,} bytes"


@blueprint.get("/datasets/<int(signed=True):dataset_id>")
@readable
def dataset(dataset_id: int) -> Response:
    """Every CIF field, the file, its HDUs, the history and the previous version's diff."""
    record = dataset_record(db_session(), dataset_id)
    stored: CalibrationFile = record.dataset.file
    path, file_problem = stored_path(extension().storage, stored)
    content = None
    if path is not None and stored.sha256 is not None:
        content = read_content(path, onboard=record.onboard, sha256=stored.sha256)
    return page(
        "dataset.html",
        record=record,
        dataset=record.dataset,
        stored=stored,
        size_text=_size_text(stored.size_bytes),
        file_problem=file_problem,
        content=content,
        comparison=_comparison(record, path),
        hdu_datasets={other.cal_xno: other.id for other in record.siblings},
        quality_words=quality_words,
        utc=UTC_FORMAT,
    )


@blueprint.get("/datasets/<int(signed=True):dataset_id>/download")
@readable
def dataset_download(dataset_id: int) -> Response:
    """The dataset's file, with the headers of ``GET /api/v1/files/<id>/content``."""
    response = send_calibration_file(_dataset(dataset_id).file)
    if not extension().settings.public_read:
        response.vary.add("Cookie")  # who may read it depends on the session
    return response


@blueprint.get("/datasets/<int(signed=True):dataset_id>/thumbnail/<int:hdu>.png")
@readable
def dataset_thumbnail(dataset_id: int, hdu: int) -> Response:
    """A PNG thumbnail of image HDU ``hdu`` (primary 0) of the dataset's file."""
    found = _dataset(dataset_id)
    if found.cal_clas == ONBOARD_CLASS:  # a YAML file: no HDU at all
        raise NotFound(f"dataset {dataset_id} is an onboard configuration, not a FITS file")
    stored = found.file
    etag = f"{stored.sha256}-{hdu}"
    if stored.sha256 is not None and etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(_thumbnail(stored, hdu), mimetype="image/png")
    response.set_etag(etag)
    response.cache_control.private = True
    response.cache_control.max_age = THUMBNAIL_MAX_AGE
    response.vary.add("Cookie")
    return response


def _thumbnail(stored: CalibrationFile, hdu: int) -> bytes:
    path, problem = stored_path(extension().storage, stored)
    if path is None or stored.sha256 is None:
        raise NotFound(problem)
    try:
        png = hdu_thumbnail(path, stored.sha256, hdu)
    except InspectionError as error:  # a damaged file: the page says so, there is no image
        raise NotFound(f"no thumbnail: {error}") from None
    if png is None:
        raise NotFound(f"HDU {hdu} of {stored.cal_file} is not an image with a thumbnail")
    return png
