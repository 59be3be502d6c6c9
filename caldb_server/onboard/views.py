"""``POST /api/v1/onboard``: upload one onboard configuration YAML file."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from caldb_server.auth.access import current_principal, require_role
from caldb_server.files.views import single_file_part, upload_answer
from caldb_server.onboard.service import ingest_onboard
from caldb_server.web import db_session, extension

__all__ = ["blueprint"]

blueprint = Blueprint("onboard", __name__)


@blueprint.post("/onboard")
@require_role("uploader")
def upload_onboard_view() -> tuple[dict[str, Any], int]:
    """Index an onboard file named ``<INSTRUME>_<CODENAME>_<YYYYMMDD>T<HHMMSS>_V<NN>.yaml``."""
    upload = single_file_part()
    services = extension()
    with services.storage.receive(upload.stream, upload.filename or "") as incoming:
        outcome = ingest_onboard(
            db_session(),
            services.storage,
            services.registry,
            incoming,
            actor=current_principal().subject,
        )
    return upload_answer(outcome)
