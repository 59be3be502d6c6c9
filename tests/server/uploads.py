"""Building and sending upload requests for the bad-input tests.

Multipart bodies are built by hand so that the file name the server receives is exactly
the one under test (the RFC 5987 ``filename*`` form carries NUL, backslash and quotes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from werkzeug.test import TestResponse

from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, tree_files

GOOD = calfile_bytes(MXT_GAIN)  # primary (2880 B) + table header (2880 B) + data (2880 B)
BOUNDARY = "caldb-test-boundary-7f3a"
Part = tuple[str, str | None, bytes]  # field name, file name (None: a plain field), content


def gain(**changes: Any) -> dict[str, Any]:
    """The MXT gain dataset with some keywords changed (None removes one)."""
    return MXT_GAIN | changes


def gain_datasets(count: int) -> bytes:
    """A primary HDU and ``count`` GAIN datasets of distinct validity starts."""
    return calfile_bytes(*(gain(CVSD0001=f"2024-06-{day:02d}") for day in range(1, count + 1)))


def multipart(parts: list[Part]) -> bytes:
    chunks = []
    for field, filename, content in parts:
        disposition = f'form-data; name="{field}"'
        if filename == "":
            disposition += '; filename=""'
        elif filename is not None:
            disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
        head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n"
        chunks.append(head.encode() + content + b"\r\n")
    return b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()


def post(client, parts: list[Part], headers: dict[str, str]) -> TestResponse:
    with client.post(
        "/api/v1/files",
        data=multipart(parts),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers=headers,
    ) as response:
        response.get_data()
    return response


def send(
    client, headers: dict[str, str], content: bytes, name: str = "mxt_gain.fits", **form: str
) -> TestResponse:
    parts = [("file", name, content), *((k, None, v.encode()) for k, v in form.items())]
    return post(client, parts, headers)


def assert_nothing_stored(client, root: Path) -> None:
    found = client.get("/api/v1/search?instrument=MXT&codename=GAIN&date=-").get_json()
    assert found["nfound"] == 0
    document = client.get("/api/v1/instruments").get_json()
    assert [
        (m["name"], i["name"], i["datasets"])
        for m in document["missions"]
        for i in m["instruments"]
        if i["datasets"]
    ] == []
    assert tree_files(root) == []


def refused(
    client, headers: dict[str, str], root: Path, content: bytes, status: int = 422, **kwargs: Any
) -> list[dict[str, Any]]:
    """Send an upload that must be refused; its ``errors`` once nothing is found stored."""
    body = assert_problem(send(client, headers, content, **kwargs), status)
    assert_nothing_stored(client, root)
    return body.get("errors", [])


def places(errors: list[dict[str, Any]]) -> set[tuple[Any, Any]]:
    """Where each failed check is: (HDU, keyword), or ("field", name)."""
    return {("field", e["field"]) if "field" in e else (e["hdu"], e["keyword"]) for e in errors}
