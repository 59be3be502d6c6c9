"""Every table of the schema, imported in one place for Alembic and the tests."""

from caldb_server.auth.models import LoginThrottle, TokenRecord
from caldb_server.catalogue.models import (
    CalibrationFile,
    CatalogueIndex,
    Dataset,
    QualityChange,
    Release,
)
from caldb_server.users.models import User

__all__ = [
    "CalibrationFile",
    "CatalogueIndex",
    "Dataset",
    "LoginThrottle",
    "QualityChange",
    "Release",
    "TokenRecord",
    "User",
]
