"""``POST`` and ``GET /api/v1/usage``: pipelines say which calibration each run used."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from caldb_server.auth.access import authenticated, current_principal
from caldb_server.changes.params import parse_change_params
from caldb_server.errors import ValidationFailed
from caldb_server.usage.impact import affected_runs
from caldb_server.usage.service import list_usage, record_usage, usage_json
from caldb_server.web import (
    api_root,
    db_session,
    extension,
    json_object,
    parse_bounded_integer,
    query_parameter_errors,
)

__all__ = ["blueprint"]

blueprint = Blueprint("usage", __name__)

RECORD_FIELDS = ("record_id", "observation", "brick", "brick_version", "finished_at", "selections")
MAX_PAGE = 1000
MAX_ID = 2**31 - 1
_LIST_PARAMETERS = frozenset({"observation", "after", "limit"})
_OBSERVATION = re.compile(r"[A-Za-z0-9_-]{1,40}")


@blueprint.post("/usage")
@authenticated
def post_usage_view() -> tuple[Response, int]:
    """Store a run's usage record: 201 when new, 200 when the same record came before."""
    document = json_object(RECORD_FIELDS, example='{"record_id": "<uuid>", ...}')
    record, created = record_usage(
        db_session(), document, extension().registry, current_principal().subject
    )
    response = jsonify(usage_json(record))
    response.headers["Location"] = f"{api_root()}/usage?observation={record.observation}"
    return response, 201 if created else 200


def _listing_params() -> dict[str, Any]:
    args = request.args
    errors = query_parameter_errors(args, _LIST_PARAMETERS)
    observation = args.get("observation")
    if observation is not None and _OBSERVATION.fullmatch(observation) is None:
        errors.append({"field": "observation", "reason": "must be 1 to 40 of A-Z a-z 0-9 _ -"})
    numbers = {}
    for field, (default, low, high) in {
        "after": ("0", 0, MAX_ID),
        "limit": ("100", 1, MAX_PAGE),
    }.items():
        try:
            numbers[field] = parse_bounded_integer(args.get(field, default), low, high)
        except ValueError as error:
            errors.append({"field": field, "reason": str(error)})
    if errors:
        raise ValidationFailed("the listing parameters are not valid", errors=errors)
    return {"observation": observation, "after_id": numbers["after"], "limit": numbers["limit"]}


@blueprint.get("/usage")
@authenticated
def list_usage_view() -> dict[str, Any]:
    """Usage records in arrival order (``after`` an id, at most ``limit``)."""
    records = list_usage(db_session(), **_listing_params())
    return {
        "records": [usage_json(record) for record in records],
        "last_id": records[-1].id if records else None,
    }


MAX_AFFECTED = 100_000
DEFAULT_AFFECTED = 1000


def _affected_limit(texts: list[str]) -> int:
    """At most this many affected runs in the answer (its own bound, not the feed's page)."""
    reason = "given more than once" if len(texts) > 1 else None
    if reason is None:
        try:
            return parse_bounded_integer(
                texts[0] if texts else str(DEFAULT_AFFECTED), 1, MAX_AFFECTED
            )
        except ValueError as error:
            reason = str(error)
    raise ValidationFailed(
        "the impact parameters are not valid", errors=[{"field": "limit", "reason": reason}]
    )


@blueprint.get("/impact")
@authenticated
def impact_view() -> dict[str, Any]:
    """The runs whose calibration would now differ because of the changes after ``since``."""
    args = request.args.copy()
    limit = _affected_limit(args.poplist("limit"))
    query = parse_change_params(args, extension().registry, since_required=True)
    assert query.since is not None  # since_required gives it a default
    return affected_runs(
        db_session(),
        query.since,
        mission=query.mission,
        instrument=query.instrument,
        codenames=query.codenames,
        limit=limit,
    )
