"""``Upload``: calibration FITS files and onboard YAML files, from a browser.

The same path as ``POST /api/v1/files`` and ``POST /api/v1/onboard``: the one multipart
part (:func:`single_file_part`), received by ``storage.receive`` (same size limits, hashing
and ``.incoming`` handling), indexed by the same services. Only the answer differs: a
refused file gives the form again with every failed check; an indexed one leads to its
dataset page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, flash, redirect, request, url_for

from caldb_server.auth.access import current_principal, require_role
from caldb_server.errors import BadRequest, CaldbError, Conflict, PayloadTooLarge, ValidationFailed
from caldb_server.files.views import single_file_part
from caldb_server.ingest.service import IngestOutcome, ingest_file
from caldb_server.onboard.names import NAME_PATTERN
from caldb_server.onboard.service import MAX_ONBOARD_BYTES, ingest_onboard
from caldb_server.storage import IncomingFile
from caldb_server.ui.blueprint import blueprint
from caldb_server.ui.pages import page
from caldb_server.web import db_session, extension, parse_flag

__all__ = ["dataset_path", "upload", "upload_onboard", "upload_submit"]

CALIBRATION, ONBOARD = "calibration", "onboard"
_CSRF_FIELD = "csrf_token"
# What a refused upload can be told: the form comes back with the reasons.
_REFUSALS = (BadRequest, Conflict, PayloadTooLarge, ValidationFailed)
_WHERE = (("hdu", "HDU"), ("keyword", "keyword"), ("field", "field"))


def dataset_path(dataset_id: int) -> str:
    """The page of a dataset."""
    return url_for("ui.dataset", dataset_id=dataset_id)


def failed_checks(errors: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each failed check as (where, reason): ``HDU 1, keyword CCNM0001`` and why."""
    checks = []
    for item in errors:
        where = [f"{label} {item[key]}" for key, label in _WHERE if key in item]
        where += [
            f"{key} {value}" for key, value in item.items() if key not in {"reason", *dict(_WHERE)}
        ]
        checks.append((", ".join(where), str(item.get("reason", ""))))
    return checks


def _form(
    status: int = 200, refused: str | None = None, error: CaldbError | None = None
) -> Response:
    settings = extension().settings
    response = page(
        "upload.html",
        status,
        refused=refused,
        detail=error.detail if error else None,
        checks=failed_checks(error.errors) if error else [],
        max_upload_mb=settings.max_upload_mb,
        max_onboard_kib=MAX_ONBOARD_BYTES // 1024,
        onboard_pattern=NAME_PATTERN,
    )
    if error is not None:
        response.headers.update(error.headers)
    return response


@blueprint.get("/upload")
@require_role("uploader")
def upload() -> Response:
    """The two upload forms: a calibration file, an onboard file."""
    return _form()


def _supersede() -> bool:
    try:
        return parse_flag(request.form.get("supersede", "false"))
    except ValueError as error:
        raise ValidationFailed(
            "supersede must be true or false", errors=[{"field": "supersede", "reason": str(error)}]
        ) from None


def _receive(
    kind: str, fields: frozenset[str], ingest: Callable[[IncomingFile], IngestOutcome]
) -> Response:
    """Receive the form's file as the API does and ingest it; the form again if refused."""
    try:
        upload_part = single_file_part(fields=fields | {_CSRF_FIELD})
        if not upload_part.filename:
            raise ValidationFailed(
                "choose a file to upload", errors=[{"field": "file", "reason": "no file chosen"}]
            )
        with extension().storage.receive(upload_part.stream, upload_part.filename) as incoming:
            outcome = ingest(incoming)
    except _REFUSALS as error:
        return _form(error.status, refused=kind, error=error)
    return _indexed(outcome)


def _indexed(outcome: IngestOutcome) -> Response:
    """To the page of the file's first dataset, saying what the upload did."""
    name, ids = outcome.file.cal_file, [d.id for d in outcome.datasets]
    if outcome.created:
        flash(f"{name} is indexed: dataset(s) {', '.join(map(str, ids))}.")
    else:
        flash(f"{name} was already indexed with the same content: nothing changed.")
    if outcome.superseded:
        replaced = ", ".join(str(d.id) for d in outcome.superseded)
        flash(f"Superseded (CAL_QUAL 5): dataset(s) {replaced}.")
    for note in outcome.notes:
        flash(note)
    return redirect(dataset_path(ids[0]), code=303)  # type: ignore[return-value]


@blueprint.post("/upload")
@require_role("uploader")
def upload_submit() -> Response:
    """Index a calibration FITS file (``Supersede``: replace the good datasets it duplicates)."""

    def ingest(incoming: IncomingFile) -> IngestOutcome:
        services = extension()
        return ingest_file(
            db_session(),
            services.storage,
            services.registry,
            incoming,
            actor=current_principal().subject,
            supersede=_supersede(),
            max_bytes=services.settings.max_upload_bytes,
            max_hdus=services.settings.max_hdus,
        )

    return _receive(CALIBRATION, frozenset({"supersede"}), ingest)


@blueprint.post("/upload/onboard")
@require_role("uploader")
def upload_onboard() -> Response:
    """Index an onboard configuration YAML file (its name carries the indexing data)."""

    def ingest(incoming: IncomingFile) -> IngestOutcome:
        services = extension()
        return ingest_onboard(
            db_session(),
            services.storage,
            services.registry,
            incoming,
            actor=current_principal().subject,
        )

    return _receive(ONBOARD, frozenset(), ingest)
