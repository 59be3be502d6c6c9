"""Curating a dataset: its CAL_QUAL set with a reason, as ``PATCH /api/v1/datasets/<id>``.

The form is the macro ``quality_form`` of ``ui/quality_form.html``, shown on the dataset
page; it posts here, and the change (who, when, why) joins the dataset's history.
"""

from __future__ import annotations

from flask import Response, flash, redirect, request

from caldb_server.auth.access import current_principal, require_role
from caldb_server.catalogue.quality import quality_words
from caldb_server.datasets.service import get_dataset, set_quality
from caldb_server.datasets.views import MAX_ID, MAX_QUALITY, MAX_REASON
from caldb_server.errors import NotFound, ValidationFailed
from caldb_server.ui.blueprint import blueprint
from caldb_server.ui.views.upload import dataset_path
from caldb_server.web import db_session, parse_bounded_integer

__all__ = ["quality_choices", "set_dataset_quality"]


@blueprint.app_template_global()
def quality_choices() -> list[tuple[int, str]]:
    """Every CAL_QUAL a dataset can be given, with its words (for the form's select)."""
    return [(value, quality_words(value)) for value in range(MAX_QUALITY + 1)]


@blueprint.app_template_global()
def max_quality_reason() -> int:
    """The longest reason a quality change may give (the form's ``maxlength``)."""
    return MAX_REASON


def _quality_change() -> tuple[int, str]:
    """The form's ``quality`` and ``reason``, checked as the API checks its JSON."""
    errors = []
    try:
        quality = parse_bounded_integer(request.form.get("quality", ""), 0, MAX_QUALITY)
    except ValueError as error:
        quality = None
        errors.append({"field": "quality", "reason": str(error)})
    reason = request.form.get("reason", "")
    if not reason.strip() or len(reason) > MAX_REASON:
        errors.append(
            {"field": "reason", "reason": f"is required: 1 to {MAX_REASON} characters, not blank"}
        )
    if errors or quality is None:
        raise ValidationFailed("the quality change is not valid", errors=errors)
    return quality, reason.strip()


@blueprint.post("/datasets/<int:dataset_id>/quality")
@require_role("uploader")
def set_dataset_quality(dataset_id: int) -> Response:
    """Give a dataset a new CAL_QUAL with a reason; back to its page."""
    if dataset_id > MAX_ID:
        raise NotFound(f"there is no dataset {dataset_id}")
    quality, reason = _quality_change()
    session = db_session()
    before = get_dataset(session, dataset_id).cal_qual
    dataset = set_quality(
        session, dataset_id, quality, reason=reason, actor=current_principal().subject
    )
    words = f"{quality_words(quality)} (CAL_QUAL {quality})"
    if before == quality:
        flash(f"Dataset {dataset.id} was already {words}: nothing changed.")
    else:
        flash(f"Dataset {dataset.id} is now {words}.")
    return redirect(dataset_path(dataset.id), code=303)  # type: ignore[return-value]
