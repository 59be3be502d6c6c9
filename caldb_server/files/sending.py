"""Sending a file of the tree: by the server itself, or by nginx (``X-Accel-Redirect``).

Every file the server answers with (calibration files, current indexes, releases) goes
through :func:`send_tree_file`, called by a view once the request is authorised (the access
rule runs before every view). With ``CALDB_ACCEL_REDIRECT`` set, the answer is an empty body
with the headers of the file and ``X-Accel-Redirect: <prefix><path in the tree>``: nginx then
sends the bytes from its ``internal`` location of the tree (``deploy/nginx/caldb.conf``), so a
slow download never holds a server worker. The path is that of a file the catalogue or the
tree resolution already validated; it is checked again to lie inside the tree and is
percent-encoded, so no request string ever reaches nginx's location unnormalised.

Conditional requests (``If-None-Match``, ``If-Modified-Since``) are answered here either way,
so a 304 carries no redirect; ranges are left to nginx, which handles them for its files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from flask import Response, request, send_file

from caldb_server.storage import UnsafePathError
from caldb_server.web import extension

__all__ = ["ACCEL_HEADER", "send_tree_file"]

ACCEL_HEADER = "X-Accel-Redirect"


def send_tree_file(
    path: Path,
    *,
    mimetype: str,
    etag: str,
    max_age: int | None,
    download_name: str | None = None,
) -> Response:
    """The answer sending ``path``, a file of the tree, with its ETag and caching headers.

    ``download_name`` makes it an attachment of that name. ``max_age`` is how long caches
    may keep it; 0 or None make them revalidate every time.
    """
    services = extension()
    prefix = services.settings.accel_redirect
    if prefix is None:
        return send_file(
            path,
            mimetype=mimetype,
            as_attachment=download_name is not None,
            download_name=download_name,
            etag=etag,
            conditional=True,
            max_age=max_age,
        )
    root = services.storage.root.resolve()
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise UnsafePathError(f"{path} is not in the CALDB tree {root}")
    response = Response(mimetype=mimetype)  # the body is nginx's to send
    if download_name is not None:
        response.headers.set("Content-Disposition", "attachment", filename=download_name)
    response.last_modified = datetime.fromtimestamp(int(resolved.stat().st_mtime), UTC)
    _cache_for(response, max_age)
    response.set_etag(etag)
    response.make_conditional(request)  # without ranges: nginx serves those from the file
    if response.status_code == 200:
        response.headers[ACCEL_HEADER] = prefix + quote(resolved.relative_to(root).as_posix())
    return response


def _cache_for(response: Response, max_age: int | None) -> None:
    """The caching headers ``send_file`` gives (werkzeug), so both ways answer alike."""
    response.cache_control.no_cache = True
    if max_age is None:
        return
    if max_age > 0:
        response.cache_control.no_cache = None
        response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.expires = datetime.now(UTC) + timedelta(seconds=max_age)
