"""The read-only HEASARC tree under ``/caldb/``, for HEASoft and CFITSIO.

A HEASoft user sets ``CALDB=http://host/caldb`` (with this server's ``caldb.config`` and
``alias_config.fits``) and quzcif works unchanged. Paths are never mapped onto the disk
directly: each is looked up in the catalogue, so nothing outside it can be reached.
Anything unknown, including CFITSIO's ``X.gz``/``X.Z`` probes, is a 404.

A directory URL (ending in ``/``) answers an HTML listing for browsers
(:mod:`caldb_server.heasarc.listing_page`); HEASoft never asks for one. The only redirect
is a directory named without its ``/`` (301 to it, as web servers do), given only once no
file answers and never for a name ending in ``.gz`` or ``.Z``: CFITSIO, which does not
follow redirects, asks only for files and their probes.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, redirect, request
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from caldb_server.auth.access import readable
from caldb_server.catalogue.models import CalibrationFile, Release
from caldb_server.errors import NotFound
from caldb_server.files.sending import send_tree_file
from caldb_server.files.views import send_calibration_file
from caldb_server.heasarc.listing import is_directory
from caldb_server.heasarc.listing_page import listing_response, tree_url
from caldb_server.heasarc.tree import (
    CIF_NAME,
    TOOLS_DIR,
    alias_config_bytes,
    caldb_config_text,
    current_index,
    release_path,
)
from caldb_server.web import db_session, extension

__all__ = ["blueprint"]

blueprint = Blueprint("heasarc", __name__)

_RELEASE = re.compile(rf"(?P<index>.+)/index/{re.escape(CIF_NAME)}(?P<version>\d{{8}})")
_FITS = "application/fits"
_REPEATED_SLASHES = re.compile(r"/{2,}")
_PROBE_SUFFIXES = (".gz", ".Z")  # what CFITSIO appends to a file name before asking for it


def _not_found(path: str) -> NotFound:
    return NotFound(f"/caldb/{path} is not in this CALDB")


def _tools_file(name: str) -> Response | None:
    if name == "caldb.config":
        text = caldb_config_text(db_session(), extension().registry)
        return Response(text, mimetype="text/plain")
    if name == "alias_config.fits":
        return Response(alias_config_bytes(extension().registry), mimetype=_FITS)
    return None


def _current_index(index_dir: str) -> Response | None:
    services = extension()
    with services.database.unit_of_work(write=False) as snapshot:  # serial and rows agree
        path = current_index(snapshot, services.storage, services.registry, index_dir)
    if path is None:
        return None
    return send_tree_file(path, mimetype=_FITS, max_age=0, etag=path.name)


def _release(index_dir: str, version: str) -> Response | None:
    release = (
        db_session()
        .scalars(select(Release).where(Release.index_dir == index_dir, Release.caldbver == version))
        .one_or_none()
    )
    if release is None:
        return None
    path = release_path(extension().storage, index_dir, version)
    return send_tree_file(path, mimetype=_FITS, max_age=None, etag=release.sha256)


def _calibration_file(cal_dir: str, cal_file: str) -> Response | None:
    stored = (
        db_session()
        .scalars(
            select(CalibrationFile).where(
                CalibrationFile.cal_dir == cal_dir, CalibrationFile.cal_file == cal_file
            )
        )
        .one_or_none()
    )
    return None if stored is None else send_calibration_file(stored)


def _directory(path: str) -> Response:
    """The listing of a directory URL (404 if it names no directory)."""
    response = listing_response(path.rstrip("/"))
    if response is None:
        raise _not_found(path)
    return response


def _to_directory(path: str) -> BaseResponse | None:
    """A 301 to ``path/`` if ``path`` is a directory and cannot be a CFITSIO probe."""
    if path.endswith(_PROBE_SUFFIXES) or not is_directory(db_session(), extension().registry, path):
        return None
    return redirect(tree_url(path, directory=True), code=301)


@blueprint.get("/caldb/", strict_slashes=False)  # also /caldb (301) and /caldb// (CALDB=.../)
@readable
def caldb_root_view() -> BaseResponse:
    """The listing of the top of the tree."""
    if not request.path.endswith("/"):
        return redirect(tree_url(""), code=301)
    return _directory("")


@blueprint.get("/caldb/<path:path>")
@blueprint.get("/caldb//<path:path>")  # CALDB=http://host/caldb/ (trailing slash) gives '//'
@readable
def caldb_tree_view(path: str) -> BaseResponse:
    """A file of the tree (index, release, configuration, calibration file) or a listing."""
    named_directory = path.endswith("/")
    path = _REPEATED_SLASHES.sub("/", path).lstrip("/")
    if named_directory:
        return _directory(path)
    directory, _, name = path.rpartition("/")
    response: BaseResponse | None = None
    if directory == TOOLS_DIR:
        response = _tools_file(name)
    elif name == CIF_NAME:
        response = _current_index(directory)
    elif match := _RELEASE.fullmatch(path):
        response = _release(match["index"], match["version"])
    # A calibration file may be named like an index (a CAL_FILE 'caldb.indx' in
    # data/<m>/<i>/bcf/<codename>): what is not an index or a release is looked up as one.
    if response is None and directory:
        response = _calibration_file(directory, name)
    if response is None:
        response = _to_directory(path)
    if response is None:
        raise _not_found(path)
    return response


@blueprint.after_request
def _vary_on_the_session(response: Response) -> Response:
    """With private reads a signed-in browser's session opens the tree too (listing_page)."""
    if not extension().settings.public_read:
        response.vary.add("Cookie")
    return response
