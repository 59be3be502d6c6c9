"""``GET`` and ``PATCH /api/v1/datasets/<id>``."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, request

from caldb_server.auth.access import current_principal, readable, require_role
from caldb_server.catalogue.models import Dataset
from caldb_server.catalogue.serialize import dataset_json, dataset_values
from caldb_server.datasets.service import get_dataset, list_datasets, set_quality
from caldb_server.errors import NotFound, ValidationFailed
from caldb_server.search.params import name_pattern
from caldb_server.web import (
    api_root,
    db_session,
    json_object,
    parse_bounded_integer,
    query_parameter_errors,
)

__all__ = ["blueprint"]

blueprint = Blueprint("datasets", __name__)

MAX_QUALITY = 9  # CAL_QUAL is one digit by convention: 0 good, 5 bad (HEASARC)
MAX_ID = 2**31 - 1  # ids are INTEGER columns; PostgreSQL refuses a larger one with an error
MAX_REASON = 1000


def _document(dataset: Dataset) -> dict[str, Any]:
    document = dataset_json(dataset_values(dataset), api_root())
    stored = dataset.file
    document["uploaded_by"] = stored.uploaded_by
    document["uploaded_at"] = stored.uploaded_at.isoformat()
    document["quality_history"] = [
        {
            "old_qual": change.old_qual,
            "new_qual": change.new_qual,
            "reason": change.reason,
            "changed_by": change.changed_by,
            "changed_at": change.changed_at.isoformat(),
        }
        for change in dataset.quality_changes
    ]
    return document


def _whole_number(value: Any) -> int | None:
    """A JSON number that is an integer, as JSON Schema counts them (``5.0`` is one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def _quality_change() -> tuple[int, str]:
    body = json_object(("cal_qual", "reason"), example='{"cal_qual": <0-9>, "reason": "..."}')
    errors = []
    quality, reason = _whole_number(body.get("cal_qual")), body.get("reason")
    if quality is None or not 0 <= quality <= MAX_QUALITY:
        errors.append(
            {"field": "cal_qual", "reason": f"must be an integer from 0 to {MAX_QUALITY}"}
        )
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        errors.append(
            {"field": "reason", "reason": f"is required: 1 to {MAX_REASON} characters, not blank"}
        )
    if errors or quality is None or not isinstance(reason, str):
        raise ValidationFailed("the quality change is not valid", errors=errors)
    return quality, reason.strip()


def _stored_id(dataset_id: int) -> int:
    """The id, if a database integer column can hold it (else no dataset has it: 404).

    Checked here, not with ``int(max=...)`` in the routes: Werkzeug answers 405 instead of
    404 to a PATCH whose id its converter refuses, since the GET rule shares the path.
    """
    if dataset_id > MAX_ID:
        raise NotFound(f"there is no dataset {dataset_id}")
    return dataset_id


@blueprint.get("/datasets/<int:dataset_id>")
@readable
def get_dataset_view(dataset_id: int) -> dict[str, Any]:
    """One dataset with its file, uploader and quality history."""
    return _document(get_dataset(db_session(), _stored_id(dataset_id)))


@blueprint.patch("/datasets/<int:dataset_id>")
@require_role("uploader")
def patch_dataset_view(dataset_id: int) -> dict[str, Any]:
    """Change a dataset's quality (``cal_qual``) with a ``reason``."""
    dataset_id = _stored_id(dataset_id)
    quality, reason = _quality_change()
    dataset = set_quality(
        db_session(),
        dataset_id,
        quality,
        reason=reason,
        actor=current_principal().subject,
    )
    return _document(dataset)


MAX_PAGE = 5000
_LIST_PARAMETERS = frozenset({"mission", "instrument", "codename", "after", "limit"})


def _listing_params() -> dict[str, Any]:
    args = request.args
    errors = query_parameter_errors(args, _LIST_PARAMETERS, repeatable={"codename"})
    mission, instrument = args.get("mission", "SVOM"), args.get("instrument")
    codenames = args.getlist("codename")
    if instrument is None:
        errors.append({"field": "instrument", "reason": "is required"})
    for field, values, width in [
        ("mission", [mission], 10),
        ("instrument", [] if instrument is None else [instrument], 10),
        ("codename", codenames, 20),
    ]:
        if not all(re.fullmatch(name_pattern(width), value) for value in values):
            errors.append(
                {
                    "field": field,
                    "reason": f"must be a name of 1 to {width} printable ASCII characters "
                    "without blanks",
                }
            )
    bounds = {"after": ("0", 0, MAX_ID), "limit": (str(MAX_PAGE), 1, MAX_PAGE)}
    numbers = {}
    for field, (default, low, high) in bounds.items():
        try:
            numbers[field] = parse_bounded_integer(args.get(field, default), low, high)
        except ValueError as error:
            errors.append({"field": field, "reason": str(error)})
    if errors:
        raise ValidationFailed("the listing parameters are not valid", errors=errors)
    return {
        "mission": mission,
        "instrument": instrument or "",
        "codenames": codenames,
        "after_id": numbers["after"],
        "limit": numbers["limit"],
    }


@blueprint.get("/datasets")
@readable
def list_datasets_view() -> dict[str, Any]:
    """An instrument's whole catalogue, paged by id (``next``: the ``after`` of the next page).

    What ``caldbio sync`` copies for offline searches: every quality, since the client
    selects with the same pure module as the server.
    """
    params = _listing_params()
    datasets = list_datasets(db_session(), **params)
    root = api_root()
    full = len(datasets) == params["limit"]
    return {
        "datasets": [dataset_json(dataset_values(d), root) for d in datasets],
        "next": datasets[-1].id if full else None,
    }
