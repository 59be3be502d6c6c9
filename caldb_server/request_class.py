"""The request class of the app: every multipart spool file it opens is closed with it.

werkzeug's form parser opens a spooled temporary file per file part; when a body is cut
or malformed it raises before the part reaches ``request.files``, and that file is left
for the garbage collector (a file descriptor held until then, and a ResourceWarning).
Flask closes the request at the end of every request, so closing here covers all cases.
"""

from __future__ import annotations

from typing import IO

from flask import Request

__all__ = ["CaldbRequest"]


class CaldbRequest(Request):
    """A Flask request that closes every spool file its form parser opened."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        stream = super()._get_file_stream(
            total_content_length, content_type, filename, content_length
        )
        self.__dict__.setdefault("_spool_files", []).append(stream)
        return stream

    def close(self) -> None:
        """Close the parsed files, then any spool file the parser dropped on an error."""
        super().close()
        for stream in self.__dict__.pop("_spool_files", []):
            stream.close()
