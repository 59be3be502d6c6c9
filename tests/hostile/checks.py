"""What every hostile case asserts: a 4xx problem+json, and that nothing was kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse

from caldb_server.web import extension

# Tables whose rows a refused request must leave alone. login_throttle is left out: counting
# a refused login is its purpose.
KEPT_TABLES = (
    "users",
    "tokens",
    "catalogue_indexes",
    "calibration_files",
    "datasets",
    "quality_changes",
    "releases",
    "changes",
    "change_subjects",
    "change_counter",
    "usage_records",
    "usage_selections",
)


def assert_refused(response: TestResponse, status: int) -> dict[str, Any]:
    """A problem+json refusal with ``status`` that leaks no traceback."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert 400 <= status < 500
    assert response.mimetype == "application/problem+json", response.mimetype
    body = response.get_json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in text
    assert 'File "' not in text
    return body


def snapshot(app: Flask) -> dict[str, Any]:
    """Every kept row and every file of the tree (data/ and .incoming/)."""
    services = extension(app)
    rows = {}
    with services.database.engine.connect() as connection:
        for table in KEPT_TABLES:
            result = connection.execute(sa.text(f"SELECT * FROM {table}"))  # noqa: S608 - constant
            rows[table] = sorted(map(repr, result))
    return {"rows": rows, "files": tree_files(services.storage.root)}


def tree_files(root: Path) -> list[str]:
    """Files anywhere under the CALDB tree, relative to it."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
