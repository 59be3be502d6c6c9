"""``GET /api/v1/search``."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from flask import Blueprint, Response, current_app, request

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


def _rest_of_document(
    search_request: SearchRequest, answer: SearchAnswer, answered_at: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The document's members before and after ``results``."""
    query = search_request.query
    after: dict[str, Any] = {
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
        after["explain"] = [
            {
                "id": rejection.candidate.id,
                "cal_file": rejection.candidate.cal_file,
                "cal_xno": rejection.candidate.cal_xno,
                "reason": str(rejection.reason),
                "detail": rejection.detail,
            }
            for rejection in answer.rejections
        ]
    return {"nfound": answer.nfound, "answered_at": answered_at.isoformat()}, after


def _results_json(answer: SearchAnswer, root: str) -> str:
    """The results as JSON text (made once per answer and root: see ``SearchAnswer``)."""
    text = answer.rendered.get(root)
    if text is None:
        documents = [dataset_json(values, root) for values in answer.results]
        text = current_app.json.dumps(documents, separators=(",", ":"))
        answer.rendered[root] = text
    return text


@blueprint.get("/search")
@readable
def search_view() -> Response:
    """Select calibration datasets with the quzcif rules."""
    registry = extension().registry
    search_request = parse_search_params(request.args, registry, request_time())
    # The catalogue as of this instant is what the search reads: as_of=answered_at replays it.
    answered_at = utcnow()
    answer = extension().search_cache.search(db_session(), search_request)
    if answer.nfound == 0:  # a name that found datasets is known: only an empty answer asks
        check_known_names(db_session(), registry, search_request)
    before, after = _rest_of_document(search_request, answer, answered_at)
    dumps = partial(current_app.json.dumps, separators=(",", ":"))  # compact, as Flask's
    # {before..., "results": [...], after...}, the results' text spliced in as made once.
    body = f'{dumps(before)[:-1]},"results":{_results_json(answer, api_root())},{dumps(after)[1:]}'
    return current_app.response_class(body, mimetype="application/json")
