"""Every table of the schema, imported in one place for Alembic and the tests."""

from caldb_server.auth.models import LoginThrottle, TokenRecord
from caldb_server.catalogue.models import (
    CalibrationFile,
    CatalogueIndex,
    Dataset,
    QualityChange,
    Release,
)
from caldb_server.changes.models import Change, ChangeCounter, ChangeSubject
from caldb_server.usage.models import UsageRecord, UsageSelection
from caldb_server.users.models import User
from caldb_server.webhooks.models import DeliveryAttempt, Subscription

__all__ = [
    "CalibrationFile",
    "CatalogueIndex",
    "Change",
    "ChangeCounter",
    "ChangeSubject",
    "Dataset",
    "DeliveryAttempt",
    "LoginThrottle",
    "QualityChange",
    "Release",
    "Subscription",
    "TokenRecord",
    "UsageRecord",
    "UsageSelection",
    "User",
]
