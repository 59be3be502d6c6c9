"""Rendering pages: the context every page gets, and errors shown as pages.

Every page extends ``ui/base.html`` (the header with ``Search``, ``Upload`` for uploaders,
``Sign in`` or ``Sign out``, and the home link). Errors of the interface carry the same
problem document as the API's (status, title, detail, every failed check) and are shown
as a page, never a traceback; a page that needs a signed-in user sends a browser to
``Sign in`` and back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from caldb_common.api import API_PREFIX
from caldb_common.text import control_characters
from caldb_server.errors import json_problem
from caldb_server.ui.blueprint import PAGE_POLICY
from caldb_server.ui.session import signed_in

__all__ = ["page", "prefers_a_page", "problem_page", "problem_page_or_json", "safe_next"]


def page(template: str, status: int = 200, **context: Any) -> Response:
    """``template`` rendered with ``context`` and what every page shows."""
    principal = signed_in()
    body = render_template(
        f"ui/{template}",
        principal=principal,
        can_upload=principal is not None and principal.has_role("uploader"),
        is_admin=principal is not None and principal.has_role("admin"),
        **context,
    )
    response = Response(body, status=status, mimetype="text/html")
    # A page may show who is signed in: never from a shared cache.
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    return response


def safe_next(target: str | None) -> str:
    """``target`` if it is a path of this site, else the home page (no open redirect).

    A path: it starts with one ``/``, names no scheme nor host, and holds no backslash nor
    control character (browsers drop tabs and newlines: ``/<tab>/evil`` would be a host).
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("ui.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or control_characters(target):
        return url_for("ui.home")
    return target


def problem_page(problem: dict[str, Any], headers: dict[str, str]) -> BaseResponse:
    """An error of the interface as a page; a page needing a sign-in redirects to it."""
    if problem["status"] == 401 and request.method in ("GET", "HEAD"):
        target = request.full_path if request.query_string else request.path
        return redirect(f"{url_for('ui.sign_in')}?{urlencode({'next': target})}")
    response = page("problem.html", status=problem["status"], problem=problem)
    response.headers.update(headers)
    return response


def prefers_a_page() -> bool:
    """Whether the client asks for HTML before JSON (a browser; no Accept means JSON)."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def problem_page_or_json(problem: dict[str, Any], headers: dict[str, str]) -> BaseResponse:
    """A request that matched no route: a page for a browser, JSON for the API and the tree."""
    if prefers_a_page() and not request.path.startswith((API_PREFIX, "/caldb")):
        response = page("problem.html", status=problem["status"], problem=problem)
        response.headers.update(headers)
        # No blueprint matched, so the data policy would apply: a page loads its stylesheet.
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        return response
    return json_problem(problem, headers)
