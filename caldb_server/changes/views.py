"""``GET /api/v1/changes`` (JSON, paged by ``since``) and ``GET /feeds/changes.atom``."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, jsonify, request

from caldb_common.api import API_PREFIX
from caldb_server.auth.access import readable
from caldb_server.changes.documents import FeedLinks, atom_feed, change_document
from caldb_server.changes.models import Change
from caldb_server.changes.params import ChangeQuery, parse_change_params
from caldb_server.changes.service import latest_seq, list_changes
from caldb_server.db import utcnow
from caldb_server.web import api_root, db_session, extension

__all__ = ["blueprint", "feeds_blueprint"]

blueprint = Blueprint("changes", __name__)  # under /api/v1
feeds_blueprint = Blueprint("feeds", __name__)  # /feeds: for feed readers


def _query(*, since_required: bool) -> ChangeQuery:
    return parse_change_params(request.args, extension().registry, since_required=since_required)


def _listed(query: ChangeQuery, limit: int) -> list[Change]:
    return list(
        list_changes(
            db_session(),
            since=query.since,
            limit=limit,
            mission=query.mission,
            instrument=query.instrument,
            codenames=query.codenames,
        )
    )


def _next_query(query: ChangeQuery, since: int) -> str:
    return urlencode([("since", since), ("limit", query.limit), *query.filters()])


def _own_query(query: ChangeQuery) -> str:
    since = [] if query.since is None else [("since", query.since)]
    return urlencode([*since, ("limit", query.limit), *query.filters()])


@blueprint.get("/changes")
@readable
def changes_view() -> Response:
    """Changes after ``since``, in sequence (commit) order; ``next_since`` continues."""
    query = _query(since_required=True)
    assert query.since is not None
    found = _listed(query, query.limit + 1)  # one more: is there another page?
    page, more = found[: query.limit], len(found) > query.limit
    next_since = page[-1].seq if page else query.since
    response = jsonify(
        changes=[change_document(change) for change in page],
        next_since=next_since,
        more=more,
        latest=latest_seq(db_session()),
    )
    if more:
        next_page = f"{api_root()}changes?{_next_query(query, next_since)}"
        response.headers["Link"] = f'<{next_page}>; rel="next"'
    return response


@feeds_blueprint.get("/feeds/changes.atom")
@readable
def changes_feed_view() -> Response:
    """The latest changes as Atom, newest first; with ``since``, the page after it."""
    query = _query(since_required=False)  # the latest
    changes = _listed(query, query.limit)
    if query.since is not None:
        changes.reverse()  # listed oldest first
    api = api_root()
    site = api.removesuffix(API_PREFIX.lstrip("/") + "/")  # the server's root
    next_url = None
    if query.since is not None and len(changes) == query.limit:
        next_url = f"{site}feeds/changes.atom?{_next_query(query, changes[0].seq)}"
    filters = urlencode(sorted(query.filters()))
    links = FeedLinks(
        host=urlsplit(site).hostname or "localhost",
        self_url=f"{site}feeds/changes.atom" + (f"?{own}" if (own := _own_query(query)) else ""),
        next_url=next_url,
        api_root=api,
        site_root=site,
    )
    document = atom_feed(
        changes, links, feed_key=f"?{filters}" if filters else "", empty_updated=utcnow()
    )
    return Response(document, mimetype="application/atom+xml")
