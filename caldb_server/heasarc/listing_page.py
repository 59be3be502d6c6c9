"""HTML listings of the HEASARC tree's directories, for browsers.

A directory URL (ending in ``/``) answers a page of the web interface listing the
directory (:mod:`caldb_server.heasarc.listing`); HEASoft and CFITSIO never ask for one, so
file answers, the ``.gz``/``.Z`` probes and the indexes are untouched. Three things differ
from the tree's data answers, each only where a browser is concerned:

- a listing, and an error on a directory URL asked for by a browser (``Accept`` prefers
  HTML), is a page with the interface's Content-Security-Policy (its stylesheet); every
  other answer, file answers included, keeps the JSON problems and the data policy;
- with ``CALDB_PUBLIC_READ=false`` the tree also accepts the web interface's session when
  a request carries no ``Authorization`` header, so that a signed-in browser can follow a
  listing's links to the files. A bearer token, when sent, is the only credential read, and
  a request with neither gets the same 401 as before: HEASoft and CFITSIO, which send no
  cookie, see no change. Reads only (the tree has no other method), so no CSRF concern;
  the answers vary on ``Cookie`` as well as ``Authorization``;
- a directory URL that needs a sign-in sends a browser to ``Sign in`` and back; a client
  without ``Accept: text/html`` gets the tree's JSON 401.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Flask, Response, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from caldb_server.auth.access import authenticate, set_authenticator
from caldb_server.auth.tokens import Principal
from caldb_server.errors import json_problem, set_problem_renderer
from caldb_server.heasarc.listing import Listing, directory_listing
from caldb_server.ui import PAGE_POLICY
from caldb_server.ui.pages import page, prefers_a_page, problem_page
from caldb_server.ui.session import signed_in
from caldb_server.web import extension

__all__ = ["directory_url", "init_app", "listing_response", "tree_url"]

TREE = "/caldb/"


def tree_url(path: str, *, directory: bool = False) -> str:
    """The URL of ``path`` in the tree (``""``: the top), quoted; a directory ends in ``/``."""
    if not path:
        return TREE
    return TREE + quote(path, safe="/") + ("/" if directory else "")


def directory_url() -> bool:
    """Whether the request names a directory (its path ends in ``/``, or is ``/caldb``)."""
    return request.path.endswith("/") or request.path == TREE.rstrip("/")


def _crumbs(path: str) -> list[tuple[str, str]]:
    """(name, URL) of the top of the tree and of each directory down to ``path``."""
    crumbs = [("caldb", TREE)]
    parts = path.split("/") if path else []
    for depth, part in enumerate(parts, start=1):
        crumbs.append((part, tree_url("/".join(parts[:depth]), directory=True)))
    return crumbs


def _rows(listing: Listing) -> list[dict[str, Any]]:
    prefix = f"{listing.path}/" if listing.path else ""
    return [
        {
            "entry": entry,
            "url": tree_url(prefix + entry.name, directory=entry.directory),
            "datasets": [(i, url_for("ui.dataset", dataset_id=i)) for i in entry.dataset_ids],
        }
        for entry in listing.entries
    ]


def listing_response(path: str) -> Response | None:
    """The listing page of ``path`` (no leading or trailing ``/``), or None if no directory."""
    services = extension()
    with services.database.unit_of_work(write=False) as snapshot:
        listing = directory_listing(snapshot, services.storage, services.registry, path)
    if listing is None:
        return None
    crumbs = _crumbs(path)
    response = page(
        "caldb_listing.html",
        listing=listing,
        crumbs=crumbs,
        parent=crumbs[-2][1] if path else None,
        rows=_rows(listing),
        caldb_url=request.host_url + "caldb",
    )
    response.headers["Content-Security-Policy"] = PAGE_POLICY  # the data policy otherwise
    return response


def _tree_principal() -> Principal:
    """A bearer token when one is sent; else a signed-in session; else the bearer's 401."""
    if "Authorization" not in request.headers:
        principal = signed_in()
        if principal is not None:
            return principal
    return authenticate()


def _tree_problem(problem: dict[str, Any], headers: dict[str, str]) -> BaseResponse:
    """A page for a browser's directory URL; the JSON problem of the tree for anything else."""
    if not directory_url():
        return json_problem(problem, headers)
    response: BaseResponse
    if not prefers_a_page():
        response = json_problem(problem, headers)
    else:
        response = problem_page(problem, headers)
        response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.vary.add("Accept")
    return response


def init_app(app: Flask, blueprint: str) -> None:
    """Read the tree's principal and render its errors as above (after the ui is mounted)."""
    set_authenticator(app, blueprint, _tree_principal)
    set_problem_renderer(app, blueprint, _tree_problem)
