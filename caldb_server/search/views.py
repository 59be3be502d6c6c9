"""``GET /api/v1/search``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, request

from caldb_selection.timespec import mjd_to_datetime
from caldb_server.auth.access import readable
from caldb_server.catalogue.serialize import dataset_json
from caldb_server.db import utcnow
from caldb_server.search.names import check_known_names
from caldb_server.search.params import parse_search_params
from caldb_server.search.service import SearchAnswer, SearchRequest
from caldb_server.web import api_root, db_session, extension, request_time

__all__ = ["blueprint"]

blueprint = Blueprint("search", __name__)


def _instant(mjd: float | None) -> str | None:
    return None if mjd is None else mjd_to_datetime(mjd).isoformat(timespec="seconds")


def _document(
    search_request: SearchRequest, answer: SearchAnswer, root: str, answered_at: datetime
) -> dict[str, Any]:
    query = search_request.query
    document: dict[str, Any] = {
        "nfound": answer.nfound,
        "answered_at": answered_at.isoformat(),
        "results": [dataset_json(values, root) for values in answer.results],
        "query": {
            "mission": search_request.mission,
            "instrument": query.instrument,
            "codename": query.codename,
            "detector": query.detector,
            "filter": query.filter,
            "expr": str(query.expression),
            "time": _instant(query.time_mjd),
            "ref_time": query.time_mjd,
            "maxret": search_request.maxret,
            "as_of": search_request.as_of.isoformat() if search_request.as_of else None,
        },
        "epoch": {"ref_time": answer.epoch_mjd, "start": _instant(answer.epoch_mjd)},
    }
    if search_request.explain:
        document["explain"] = [
            {
                "id": rejection.candidate.id,
                "cal_file": rejection.candidate.cal_file,
                "cal_xno": rejection.candidate.cal_xno,
                "reason": str(rejection.reason),
                "detail": rejection.detail,
            }
            for rejection in answer.rejections
        ]
    return document


@blueprint.get("/search")
@readable
def search_view() -> dict[str, Any]:
    """Select calibration datasets with the quzcif rules."""
    registry = extension().registry
    search_request = parse_search_params(request.args, registry, request_time())
    # The catalogue as of this instant is what the search reads: as_of=answered_at replays it.
    answered_at = utcnow()
    answer = extension().search_cache.search(db_session(), search_request)
    if answer.nfound == 0:  # a name that found datasets is known: only an empty answer asks
        check_known_names(db_session(), registry, search_request)
    return _document(search_request, answer, api_root(), answered_at)
