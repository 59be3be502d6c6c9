"""Indexing one onboard YAML file: its name gives the indexing data, its content is checked.

A dataset of class ``UPLOAD`` and type ``ONBOARD`` (whatever the client sent) is added to
the instrument's catalogue, so that ``search`` says which configuration was active on
board at a date, with ``as_of`` and ``explain`` like any calibration. The file is stored
under ``<instrument dir>/upload/<codename>/`` and never listed in ``caldb.indx``. A higher
version at the same on-board time supersedes the lower one; a lower one is refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_selection import ref_time
from caldb_server import storage
from caldb_server.catalogue.indexes import record_unlisted_change
from caldb_server.catalogue.models import ONBOARD_CLASS, Dataset
from caldb_server.catalogue.quality import GOOD, SUPERSEDED, change_quality
from caldb_server.catalogue.uploads import new_dataset, new_file
from caldb_server.changes.service import ONBOARD_UPLOAD, record_supersession, record_upload
from caldb_server.db import utcnow
from caldb_server.errors import Conflict, PayloadTooLarge, ValidationFailed
from caldb_server.ingest.headers import HduDataset
from caldb_server.ingest.service import IngestOutcome, claim_upload
from caldb_server.onboard.content import OnboardContentError, read_onboard_yaml, schema_problems
from caldb_server.onboard.names import NAME_PATTERN, OnboardName, parse_onboard_name
from caldb_server.registry import Instrument, Registry

__all__ = ["MAX_ONBOARD_BYTES", "ONBOARD_CLASS", "ONBOARD_TYPE", "ingest_onboard"]

MAX_ONBOARD_BYTES = 1024 * 1024  # configuration files are small; a bigger one is a mistake
MAX_FILE_NAME = 40
ONBOARD_TYPE = "ONBOARD"


def _refuse(detail: str, field: str, reason: str, **where: str) -> ValidationFailed:
    return ValidationFailed(detail, errors=[{"field": field, **where, "reason": reason}])


def _instrument(registry: Registry, name: OnboardName) -> tuple[str, Instrument]:
    """The mission and registered instrument the name designates (aliases accepted)."""
    with_onboard = sorted(
        i.name for m in registry.missions.values() for i in m.instruments.values() if i.onboard
    )
    found = [
        (mission.name, mission.instruments[targets[0]])
        for mission in registry.missions.values()
        if len(targets := registry.expand(mission.name, name.instrument) or ()) == 1
    ]
    for mission, instrument in found:
        if not instrument.onboard:
            continue
        if name.codename not in instrument.onboard:
            raise _refuse(
                f"{name.codename} is not an onboard codename of {instrument.name}",
                "file",
                f"unknown onboard codename {name.codename}; registered: "
                f"{', '.join(sorted(instrument.onboard))}",
            )
        return mission, instrument
    reason = (
        f"{name.instrument} has no onboard products"
        if found
        else f"unknown instrument {name.instrument}"
    )
    raise _refuse(
        f"{name.instrument} is not an instrument with onboard products",
        "file",
        f"{reason}; instruments with onboard products: {', '.join(with_onboard)}",
    )


def _checked(
    incoming: storage.IncomingFile, registry: Registry
) -> tuple[OnboardName, str, Instrument, str]:
    """Name, mission, instrument and description of an acceptable file (else 422/413)."""
    try:
        name = parse_onboard_name(incoming.name)
    except ValueError as error:
        raise _refuse(str(error), "file", str(error), pattern=NAME_PATTERN) from None
    if len(incoming.name) > MAX_FILE_NAME:
        raise _refuse(
            "the file name is too long", "file", f"longer than {MAX_FILE_NAME} characters"
        )
    mission, instrument = _instrument(registry, name)
    if incoming.size > MAX_ONBOARD_BYTES:
        raise PayloadTooLarge(f"an onboard file is at most {MAX_ONBOARD_BYTES} bytes")
    try:
        content = read_onboard_yaml(incoming.path.read_bytes())
    except OnboardContentError as error:
        raise _refuse(
            f"{incoming.name} is not acceptable: {error}", "content", str(error), rule=error.rule
        ) from None
    problems = schema_problems(name.codename, content)
    if problems:
        raise ValidationFailed(
            f"{incoming.name} does not follow schemas/onboard/{name.codename.lower()}.schema.json",
            errors=problems,
        )
    description = content.get("description")
    # CAL_DESC is a one-line FITS string: printable ASCII, at most 70 characters.
    if not (
        isinstance(description, str)
        and description.isascii()
        and description.isprintable()
        and 0 < len(description) <= 70
    ):
        description = f"{instrument.name} {name.codename} onboard configuration V{name.version:02d}"
    return name, mission, instrument, description


def _active_versions(
    session: Session, mission: str, instrument: str, name: OnboardName
) -> list[tuple[int, Dataset]]:
    """Good onboard datasets taking effect at the same instant, with their versions."""
    rows = session.scalars(
        select(Dataset).where(
            Dataset.telescop == mission,
            Dataset.instrume == instrument,
            Dataset.cal_cnam == name.codename,
            Dataset.cal_clas == ONBOARD_CLASS,
            Dataset.cal_qual == GOOD,
            Dataset.ref_time == ref_time(name.validity_date, name.validity_time),
        )
    ).all()
    return [(parse_onboard_name(row.file.cal_file).version, row) for row in rows]


def ingest_onboard(
    session: Session,
    tree: storage.Storage,
    registry: Registry,
    incoming: storage.IncomingFile,
    *,
    actor: str,
    now: datetime | None = None,
) -> IngestOutcome:
    """Index a received onboard file and stage it for the tree.

    Raises
    ------
    ValidationFailed
        A bad name (the answer shows the expected pattern), an unknown instrument or
        codename, content that is not a safe YAML mapping or breaks its schema.
    PayloadTooLarge
        Over :data:`MAX_ONBOARD_BYTES`.
    Conflict
        The same name with other bytes, or a lower version than the one active at that time.
    """
    name, mission, instrument, description = _checked(incoming, registry)
    cal_dir = f"{instrument.dir}/upload/{name.codename.lower()}"
    unchanged, index = claim_upload(
        session, tree, incoming, index_dir=instrument.dir, telescop=mission
    )
    if unchanged is not None:
        return unchanged
    assert index is not None  # a new upload holds its index's lock
    active = _active_versions(session, mission, instrument.name, name)
    higher = [(version, row) for version, row in active if version >= name.version]
    if higher:
        version, row = max(higher, key=lambda pair: pair[0])
        raise Conflict(
            f"version V{version:02d} ({row.file.cal_file}, dataset {row.id}) is active from "
            f"{name.validity_date}T{name.validity_time}; upload a higher version to replace it",
            errors=[{"field": "file", "reason": "lower or equal version", "dataset_id": row.id}],
        )
    now = now or utcnow()
    stored = new_file(instrument.dir, cal_dir, incoming, actor=actor, now=now)
    values = HduDataset(
        hdu=0,  # one YAML document
        telescop=mission,
        instrume=instrument.name,
        detnam="NONE",
        filter="NONE",
        cal_clas=ONBOARD_CLASS,
        cal_dtyp=ONBOARD_TYPE,
        cal_cnam=name.codename,
        cal_cbd=("NONE",) * 9,
        cal_vsd=name.validity_date,
        cal_vst=name.validity_time,
        ref_time=ref_time(name.validity_date, name.validity_time),
        cal_desc=description,
    )
    dataset = new_dataset(stored, values, actor=actor, now=now)
    session.add_all([stored, dataset])
    session.flush()
    superseded, replaced = [], []
    for _version, old in active:
        reason = (
            f"superseded by version V{name.version:02d} ({incoming.name}, dataset {dataset.id})"
        )
        change = change_quality(session, old, SUPERSEDED, reason=reason, actor=actor, now=now)
        if change is not None:
            superseded.append(old)
            replaced.append(change)
    storage.stage(session, incoming, tree.path_of(cal_dir, incoming.name))
    # No new index serial: caldb.indx does not list onboard files, so it has not changed;
    # the catalogue serial moves, so that every server's searches see the new version.
    record_unlisted_change(index)
    # The change feed (numbered at the commit: caldb_server.changes.service).
    validity = f"{name.validity_date}T{name.validity_time}"
    record_upload(
        session,
        stored,
        [dataset],
        kind=ONBOARD_UPLOAD,
        actor=actor,
        now=now,
        details={"version": name.version, "onboard_from": validity},
    )
    record_supersession(session, replaced, [dataset] * len(replaced), stored, actor=actor, now=now)
    session.flush()
    return IngestOutcome(True, stored, [dataset], superseded, [])
