"""The instrument page ``/instruments/<instrument>`` and the codename page below it."""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for

from caldb_server.auth.access import readable
from caldb_server.errors import ValidationFailed
from caldb_server.ui.blueprint import blueprint
from caldb_server.ui.codename_page import CodenamePage, codename_page
from caldb_server.ui.dataset_table import COLUMNS
from caldb_server.ui.instrument_lookup import UnknownName, find_instrument
from caldb_server.ui.instrument_page import instrument_page
from caldb_server.ui.pages import page
from caldb_server.web import db_session, extension, parse_bounded_integer, request_time

__all__ = ["codename", "instrument"]

MAX_PAGE = 100_000


def _unknown(error: UnknownName) -> Response:
    """A 404 page saying what is unknown, with a link to each known name."""
    return page("unknown_name.html", status=404, error=error)


@blueprint.get("/instruments/<instrument>")
@readable
def instrument(instrument: str) -> Response:
    """The instrument's codenames and the validity timelines of its datasets."""
    session = db_session()
    try:
        entry = find_instrument(
            session, extension().registry, instrument, request.args.get("mission")
        )
    except UnknownName as error:
        return _unknown(error)
    return page("instrument.html", view=instrument_page(session, entry, request_time()))


def _page_number() -> int:
    """The ``page`` parameter (1 when absent)."""
    try:
        return parse_bounded_integer(request.args.get("page", "1"), 1, MAX_PAGE)
    except ValueError as error:
        raise ValidationFailed(
            f"the page number {error}", errors=[{"field": "page", "reason": str(error)}]
        ) from None


@blueprint.get("/instruments/<instrument>/<codename>")
@readable
def codename(instrument: str, codename: str) -> Response:
    """Every dataset of one codename, newest validity first, by detector and filter."""
    session = db_session()
    number = _page_number()
    try:
        entry = find_instrument(
            session, extension().registry, instrument, request.args.get("mission")
        )
        view = codename_page(
            session,
            entry,
            codename,
            detector=request.args.get("detector") or None,
            filter_=request.args.get("filter") or None,
            page=number,
        )
    except UnknownName as error:
        return _unknown(error)
    return page("codename.html", view=view, columns=COLUMNS, pages=_neighbours(view))


def _neighbours(view: CodenamePage) -> dict[str, str | None]:
    """Links to the previous and next pages, keeping the mission and the filters."""
    kept = {k: request.args[k] for k in ("mission", "detector", "filter") if request.args.get(k)}

    def link(target: int) -> str:
        arguments: dict[str, Any] = {"instrument": view.entry.name, "codename": view.codename}
        arguments |= kept | ({"page": str(target)} if target > 1 else {})
        return url_for("ui.codename", **arguments)

    return {
        "previous": link(view.page - 1) if view.page > 1 else None,
        "next": link(view.page + 1) if view.has_next else None,
    }
