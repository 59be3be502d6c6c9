"""Storing usage records (idempotently, by the sender's ``record_id``) and reading them back.

A selection is checked as a search would check its parameters (the same parser), and the
dataset it names must be the stored dataset of that file, HDU and content: a record that
cannot be replayed, or names a file the catalogue never served, is refused whole.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import jsonschema
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from caldb_common.resources import schema_path
from caldb_server.catalogue.models import Dataset
from caldb_server.db import utcnow
from caldb_server.errors import Conflict, ValidationFailed
from caldb_server.registry import Registry
from caldb_server.search.params import parse_search_params
from caldb_server.search.service import SearchRequest
from caldb_server.usage.models import UsageRecord, UsageSelection

__all__ = ["SELECTION_FIELDS", "list_usage", "record_usage", "usage_json"]

SELECTION_FIELDS = ("instrument", "codename", "date", "detector", "filter", "expr", "as_of")
CHOICE_FIELDS = ("dataset_id", "cal_file", "cal_xno", "sha256")


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path("usage_record.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _where(path: Any) -> str:
    return "/".join(str(part) for part in path) or "body"


def _schema_errors(document: dict[str, Any]) -> list[dict[str, Any]]:
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    # jsonschema's messages quote the offending value: cut it short, a record is small.
    return [{"field": _where(e.absolute_path), "reason": e.message[:300]} for e in errors]


def _finished_at(text: str, errors: list[dict[str, Any]]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        errors.append({"field": "finished_at", "reason": "must be ISO 8601 with an offset"})
        return None
    return moment


def _search_of(
    number: int, item: dict[str, Any], registry: Registry, now: datetime
) -> tuple[SearchRequest | None, list[dict[str, Any]]]:
    """The selection as the search it was, checked by the search's own parser."""
    args = MultiDict({k: item[k] for k in SELECTION_FIELDS if item.get(k) is not None})
    try:
        return parse_search_params(args, registry, now), []
    except ValidationFailed as refusal:
        return None, [
            {"field": f"selections/{number}/{error['field']}", "reason": error["reason"]}
            for error in refusal.errors
        ]


def _check_choice(
    session: Session, number: int, item: dict[str, Any], search: SearchRequest
) -> list[dict[str, Any]]:
    """The dataset named is that file's HDU, of that codename, with that content."""
    dataset = session.get(Dataset, item["dataset_id"])
    where = f"selections/{number}/dataset_id"
    if dataset is None:
        return [{"field": where, "reason": "no such dataset"}]
    query = search.query
    if (
        dataset.file.cal_file != item["cal_file"]
        or dataset.cal_xno != item["cal_xno"]
        or dataset.file.sha256 != item["sha256"]
        or (dataset.instrume, dataset.cal_cnam) != (query.instrument, query.codename)
    ):
        return [
            {
                "field": where,
                "reason": f"dataset {dataset.id} is not {item['cal_file']}[{item['cal_xno']}] "
                f"of {query.instrument} {query.codename} with that sha256",
            }
        ]
    return []


def _selection(item: dict[str, Any], search: SearchRequest) -> UsageSelection:
    query = search.query
    return UsageSelection(
        mission=search.mission,
        instrument=query.instrument,
        codename=query.codename,
        date=item["date"],
        time_mjd=query.time_mjd,
        detector=query.detector,
        filter=query.filter,
        expr=item["expr"],
        as_of=search.as_of,
        **{name: item[name] for name in CHOICE_FIELDS},
    )


def _same_record(stored: UsageRecord, record: UsageRecord) -> bool:
    def content(r: UsageRecord) -> list[Any]:
        return [
            r.observation,
            r.brick,
            r.brick_version,
            [(s.codename, s.date, s.dataset_id) for s in r.selections],
        ]

    return content(stored) == content(record)


def _build(
    session: Session, document: dict[str, Any], registry: Registry, submitted_by: str
) -> UsageRecord:
    errors = _schema_errors(document)
    if errors:
        raise ValidationFailed("the usage record is not valid", errors=errors)
    finished_at = _finished_at(document["finished_at"], errors)
    selections = []
    for number, item in enumerate(document["selections"]):
        search, problems = _search_of(number, item, registry, finished_at or utcnow())
        if search is not None:
            problems = _check_choice(session, number, item, search)
            selections.append(_selection(item, search))
        errors += problems
    if errors or finished_at is None:
        raise ValidationFailed("the usage record is not valid", errors=errors)
    return UsageRecord(
        record_id=document["record_id"],
        observation=document["observation"],
        brick=document["brick"],
        brick_version=document["brick_version"],
        finished_at=finished_at,
        submitted_by=submitted_by,
        selections=selections,
    )


def _stored(session: Session, record_id: str) -> UsageRecord | None:
    return session.scalars(select(UsageRecord).where(UsageRecord.record_id == record_id)).first()


def record_usage(
    session: Session, document: dict[str, Any], registry: Registry, submitted_by: str
) -> tuple[UsageRecord, bool]:
    """Store a usage record; return it and whether it is new (a resend returns the stored one).

    Raises
    ------
    ValidationFailed
        If the record breaks its schema, a selection is not a valid search, or names a
        dataset that is not the file, HDU and content it says.
    Conflict
        If a different record was stored under the same ``record_id``.
    """
    record = _build(session, document, registry, submitted_by)
    stored = _stored(session, record.record_id)
    if stored is None:
        try:
            with session.begin_nested():  # a concurrent resend may insert the same id first
                session.add(record)
                session.flush()
        except IntegrityError:
            stored = _stored(session, record.record_id)
            if stored is None:
                raise
        else:
            return record, True
    if not _same_record(stored, record):
        raise Conflict(f"another usage record is stored as {record.record_id}")
    return stored, False


def list_usage(
    session: Session, *, observation: str | None, after_id: int, limit: int
) -> list[UsageRecord]:
    """Usage records in arrival order after ``after_id``, of one observation or all."""
    statement = select(UsageRecord).where(UsageRecord.id > after_id)
    if observation is not None:
        statement = statement.where(UsageRecord.observation == observation)
    return list(session.scalars(statement.order_by(UsageRecord.id).limit(limit)))


def usage_json(record: UsageRecord) -> dict[str, Any]:
    """A usage record as the API shows it."""
    return {
        "id": record.id,
        "record_id": record.record_id,
        "observation": record.observation,
        "brick": record.brick,
        "brick_version": record.brick_version,
        "finished_at": record.finished_at.isoformat(),
        "submitted_by": record.submitted_by,
        "received_at": record.received_at.isoformat(),
        "selections": [
            {
                "instrument": s.instrument,
                "codename": s.codename,
                "date": s.date,
                "detector": s.detector,
                "filter": s.filter,
                "expr": s.expr,
                "as_of": s.as_of.isoformat() if s.as_of else None,
                **{name: getattr(s, name) for name in CHOICE_FIELDS},
            }
            for s in record.selections
        ],
    }
