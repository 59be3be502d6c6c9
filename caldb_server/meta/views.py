"""``GET /api/v1/health`` and ``GET /api/v1/openapi.json``."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import yaml
from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from caldb_common.resources import schema_path
from caldb_server import __version__
from caldb_server.auth.access import public
from caldb_server.headers import RETRY_AFTER_S
from caldb_server.web import db_session

__all__ = ["blueprint", "openapi_document"]

log = logging.getLogger(__name__)
blueprint = Blueprint("meta", __name__)


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI description kept in ``schemas/openapi.yaml``."""
    return yaml.safe_load(schema_path("openapi.yaml").read_text(encoding="utf-8"))


@blueprint.get("/health")
@public
def health_view() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Liveness and database reachability (503 when the database cannot be reached)."""
    try:
        db_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: database unreachable", exc_info=True)
        body = {"status": "unavailable", "database": "unreachable", "version": __version__}
        # Like every other 503: load balancers and clients know when to look again.
        return body, 503, {"Retry-After": str(RETRY_AFTER_S)}
    return {"status": "ok", "database": "ok", "version": __version__}, 200, {}


@blueprint.get("/openapi.json")
@public
def openapi_view() -> dict[str, Any]:
    """The OpenAPI 3.1 document of this API."""
    return openapi_document()
