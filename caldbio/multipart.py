"""An upload's ``multipart/form-data`` body, read from the file on disk while it is sent.

The body is the form fields and the file part's headers (encoded by urllib3, as requests
would), the file's bytes, and the closing boundary. :class:`MultipartUpload` is a file-like
object over the three: requests sends it with its ``Content-Length`` and urllib3 reads it in
blocks, so a large file is never held in memory, and every block read advances the progress
bar. A retried request is rewound by urllib3 (``tell`` then ``seek``): the body, and its bar,
restart from the first byte.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Self

from urllib3.fields import RequestField
from urllib3.filepost import choose_boundary, encode_multipart_formdata

__all__ = ["MultipartUpload"]

_BLOCK = 1024 * 1024


class MultipartUpload:
    """The body of a form with ``fields`` and one file part named ``file_field``.

    Use it as a context manager (it holds the file open); ``bar`` is any object with
    ``update(n)`` and ``reset()`` (a tqdm bar), advanced by the bytes read.
    """

    def __init__(
        self,
        path: Path,
        fields: Mapping[str, str],
        *,
        file_field: str = "file",
        bar: Any = None,
    ) -> None:
        self.path = path
        self.boundary = choose_boundary()
        part = RequestField(name=file_field, data=b"", filename=path.name)
        part.make_multipart()  # no Content-Type of the part, as requests sends it
        encoded, self.content_type = encode_multipart_formdata(
            [*fields.items(), part], boundary=self.boundary
        )
        self._tail = f"\r\n--{self.boundary}--\r\n".encode("latin-1")
        self._head = encoded[: -len(self._tail)]  # everything before the file's bytes
        self._handle = path.open("rb")
        self._file_size = os.fstat(self._handle.fileno()).st_size
        self._position = 0
        self._bar = bar

    def __len__(self) -> int:
        return len(self._head) + self._file_size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:  # requests streams an object that iterates
        while block := self.read(_BLOCK):
            yield block

    def tell(self) -> int:
        """Bytes of the body read so far."""
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to ``offset`` from the start (urllib3 rewinds a retried request to 0)."""
        if whence != os.SEEK_SET or not 0 <= offset <= len(self):
            raise OSError(f"cannot seek an upload body to {offset} (whence {whence})")
        self._position = offset
        if self._bar is not None:
            self._bar.reset()
            self._bar.update(offset)
        return offset

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the body (all that is left when ``size`` < 0).

        Raises
        ------
        OSError
            If the file became shorter since the upload started (its length was announced).
        """
        remaining = len(self) - self._position
        size = remaining if size < 0 else min(size, remaining)
        blocks = []
        while size > 0:
            block = self._read_block(size)
            blocks.append(block)
            size -= len(block)
            self._position += len(block)
        data = b"".join(blocks)
        if self._bar is not None and data:
            self._bar.update(len(data))
        return data

    def _read_block(self, size: int) -> bytes:
        """At most ``size`` bytes from the current position, within one of the three parts."""
        head, file_end = len(self._head), len(self._head) + self._file_size
        if self._position < head:
            return self._head[self._position : self._position + size]
        if self._position < file_end:
            self._handle.seek(self._position - head)
            block = self._handle.read(min(size, file_end - self._position))
            if not block:
                raise OSError(f"{self.path} became shorter while it was uploaded")
            return block
        start = self._position - file_end
        return self._tail[start : start + size]

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
