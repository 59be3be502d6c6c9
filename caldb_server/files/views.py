"""``GET /api/v1/files/<id>/content`` and ``POST /api/v1/files``."""

from __future__ import annotations

import base64
import logging
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.datastructures import FileStorage

from caldb_server.auth.access import current_principal, readable, require_role
from caldb_server.catalogue.models import CalibrationFile
from caldb_server.catalogue.serialize import dataset_json, dataset_values
from caldb_server.errors import BadRequest, CaldbError, NotFound, ValidationFailed
from caldb_server.files.sending import send_tree_file
from caldb_server.ingest.service import IngestOutcome, ingest_file
from caldb_server.web import api_root, db_session, extension, parse_flag

__all__ = ["blueprint", "send_calibration_file"]

log = logging.getLogger(__name__)
blueprint = Blueprint("files", __name__)


def send_calibration_file(stored: CalibrationFile) -> Response:
    """Send a stored file with its sha256 as ETag and ``Repr-Digest`` (RFC 9530)."""
    sha256 = stored.sha256
    if sha256 is None:  # not held
        raise NotFound(
            f"{stored.cal_dir}/{stored.cal_file} is indexed but its bytes are not held "
            "by this CalDB (imported index)"
        )
    path = extension().storage.path_of(stored.cal_dir, stored.cal_file)
    if not path.is_file():
        log.error("%s is in the catalogue but not in the tree: run caldb-server fsck", path)
        raise CaldbError(
            "the file is in the catalogue but missing from the tree; the operators are told "
            "(uploading the same file again restores it)"
        )
    response = send_tree_file(
        path,
        mimetype="application/octet-stream",
        download_name=stored.cal_file,
        etag=sha256,
        max_age=3600,
    )
    response.headers["Repr-Digest"] = f"sha-256=:{_base64(sha256)}:"
    response.headers["X-Checksum-Sha256"] = sha256
    return response


def _base64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


@blueprint.get("/files/<int(max=2147483647):file_id>/content")
@readable
def file_content_view(file_id: int) -> Response:
    """The bytes of a calibration file."""
    stored = db_session().get(CalibrationFile, file_id)
    if stored is None:
        raise NotFound(f"there is no file {file_id}")
    return send_calibration_file(stored)


def _supersede_flag() -> bool:
    try:
        return parse_flag(request.form.get("supersede", "false"))
    except ValueError as error:
        raise ValidationFailed(
            "supersede must be true or false", errors=[{"field": "supersede", "reason": str(error)}]
        ) from None


@blueprint.post("/files")
@require_role("uploader")
def upload_file_view() -> tuple[dict[str, Any], int]:
    """Upload one calibration FITS file (multipart field ``file``, optional ``supersede``)."""
    upload = single_file_part(fields=frozenset({"supersede"}))
    supersede = _supersede_flag()
    services = extension()
    with services.storage.receive(upload.stream, upload.filename or "") as incoming:
        outcome = ingest_file(
            db_session(),
            services.storage,
            services.registry,
            incoming,
            actor=current_principal().subject,
            supersede=supersede,
            max_bytes=services.settings.max_upload_bytes,
            max_hdus=services.settings.max_hdus,
        )
    return upload_answer(outcome)


def upload_answer(outcome: IngestOutcome) -> tuple[dict[str, Any], int]:
    """What an upload did, as JSON: 201 when indexed, 200 for an identical re-upload."""
    root = api_root()
    body = {
        "created": outcome.created,
        "file_id": outcome.file.id,
        "sha256": outcome.file.sha256,
        "datasets": [dataset_json(dataset_values(d), root) for d in outcome.datasets],
        "superseded": [d.id for d in outcome.superseded],
        "notes": outcome.notes,
    }
    return body, 201 if outcome.created else 200


def single_file_part(fields: frozenset[str] = frozenset()) -> FileStorage:
    """The one multipart part named ``file`` of an upload (400 otherwise).

    Other parts must be among ``fields`` (422 otherwise): a misspelt ``supersed`` must not
    be silently ignored.
    """
    upload = request.files.get("file")
    if upload is None or len(request.files.getlist("file")) != 1 or len(request.files) != 1:
        raise BadRequest("send exactly one multipart part named 'file'")
    unknown = sorted(set(request.form) - fields)
    if unknown:
        raise ValidationFailed(
            "the upload has unknown fields",
            errors=[{"field": name, "reason": "unknown field"} for name in unknown],
        )
    return upload
