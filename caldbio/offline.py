"""Offline searches: the cache's copy of a catalogue, selected with the server's own rules.

``caldbio sync INSTRUMENT`` (:meth:`caldbio.CaDBIO.sync`) copies every dataset of an
instrument (all qualities, from ``GET /api/v1/datasets``) into
``<cache>/index/<mission>/<instrument>.json`` and the good datasets' files into the cache.
An offline search then applies :func:`caldb_selection.select` — the module the server
uses — to that copy, so both answer alike for the catalogue as it was when synced.
``as_of`` cannot be replayed offline: the copy holds qualities, not their history.

A codename the server would refuse as unknown (its 404 naming the known ones) is refused
offline too when the sync could tell the registry's list from ``/api/v1/instruments``
(see :func:`_known_codenames`); an instrument that was never synced is not found, and
offline the client cannot tell an unknown instrument from one not synced.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from caldb_common.atomic import write_text_atomically
from caldb_selection import ExpressionError, Query, parse_expression, requested_mjd, select
from caldbio.errors import NotFound, ValidationFailed
from caldbio.progress import progress_bar
from caldbio.results import Dataset, Rejection, SearchAnswer, json_object

__all__ = [
    "OfflineIndex",
    "index_path",
    "load_index",
    "offline_search",
    "save_index",
    "sync_instrument",
]

FORMAT = 1


@dataclass(frozen=True)
class OfflineIndex:
    """An instrument's catalogue as synced: its datasets, aliases, source and time."""

    mission: str
    instrument: str
    aliases: tuple[str, ...]
    codenames: tuple[str, ...]  # empty: every codename was synced
    url: str
    synced_at: datetime
    datasets: tuple[Dataset, ...]
    known_codenames: tuple[str, ...] | None = None  # None: any codename may be asked


def index_path(cache_root: Path, mission: str, instrument: str) -> Path:
    """Where the copy of ``mission``/``instrument`` lives in the cache."""
    for name in (mission, instrument):
        if not name.isascii() or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"not a mission or instrument name: {name!r}")
    return cache_root / "index" / mission.lower() / f"{instrument.lower()}.json"


def save_index(cache_root: Path, index: OfflineIndex) -> Path:
    """Write the copy atomically (a reader never sees half of it)."""
    path = index_path(cache_root, index.mission, index.instrument)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT,
        "mission": index.mission,
        "instrument": index.instrument,
        "aliases": list(index.aliases),
        "codenames": list(index.codenames),
        "url": index.url,
        "synced_at": index.synced_at.isoformat(),
        "known_codenames": (None if index.known_codenames is None else list(index.known_codenames)),
        "datasets": [dataset.to_json() | {"local_path": None} for dataset in index.datasets],
    }
    write_text_atomically(path, json.dumps(document))
    return path


def _read(path: Path) -> OfflineIndex:
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        known_codenames = document.get("known_codenames")  # absent in older copies
        return OfflineIndex(
            mission=document["mission"],
            instrument=document["instrument"],
            aliases=tuple(document.get("aliases", ())),
            codenames=tuple(document.get("codenames", ())),
            url=document["url"],
            synced_at=datetime.fromisoformat(document["synced_at"]),
            datasets=tuple(Dataset.from_json(item) for item in document["datasets"]),
            known_codenames=(None if known_codenames is None else tuple(map(str, known_codenames))),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise NotFound(f"the offline copy {path} cannot be read ({error}); sync again") from None


def load_index(cache_root: Path, mission: str, instrument: str) -> OfflineIndex:
    """The synced copy of an instrument, found by its name or one of its aliases.

    Raises
    ------
    NotFound
        If the instrument was never synced into this cache.
    """
    path = index_path(cache_root, mission, instrument)
    if path.is_file():
        return _read(path)
    synced = []
    for candidate in sorted(path.parent.glob("*.json")):
        index = _read(candidate)
        if instrument.upper() in index.aliases:
            return index
        synced.append(index.instrument)
    raise NotFound(
        f"{mission.upper()} {instrument.upper()} is not in the offline cache {cache_root} "
        f"(synced: {', '.join(synced) or 'none'}); it is unknown to the CalDB or was never "
        f"synced: run 'caldbio sync {instrument.upper()}' while the CalDB is reachable"
    )


MAX_MAXRET = 10000  # as the server
_NAME_LENGTHS = {"codename": 20, "detector": 20, "filter": 10}


def _check_query(query: dict[str, Any]) -> None:
    """Refuse what the server would refuse with a 422, naming each field."""
    errors = [
        {"field": name, "reason": f"must have 1 to {length} characters"}
        for name, length in _NAME_LENGTHS.items()
        if not isinstance(query.get(name), str) or not 0 < len(query[name].strip()) <= length
    ]
    maxret = query.get("maxret")
    if isinstance(maxret, bool) or not isinstance(maxret, int) or not 1 <= maxret <= MAX_MAXRET:
        errors.append({"field": "maxret", "reason": f"must be an integer from 1 to {MAX_MAXRET}"})
    if errors:
        raise ValidationFailed("the search parameters are not valid", status=422, errors=errors)


def offline_search(
    index: OfflineIndex,
    query: dict[str, Any],
    *,
    now: datetime | None = None,
) -> SearchAnswer:
    """Select among an instrument's synced datasets as the server would.

    ``query`` holds the search's arguments: ``codename``, ``date``, ``time``, ``detector``,
    ``filter``, ``expr``, ``maxret`` and optionally ``explain`` (the instrument is the
    index's).

    Raises
    ------
    NotFound
        If the codename is unknown (as the server's 404, when the copy knows the
        registry's list) or was left out of the sync (the answer would be wrongly empty).
    ValidationFailed
        For a malformed date, time or expression (the server would answer 422).
    """
    _check_query(query)
    codename = query["codename"].upper()
    known = index.known_codenames
    held = any(dataset.cal_cnam == codename for dataset in index.datasets)
    if known is not None and codename not in known and not held:
        listed = ", ".join(known)
        detail = (
            f"unknown codename {codename} of {index.instrument}; "
            f"known codenames of {index.instrument}: {listed}"
        )
        raise NotFound(
            detail,
            errors=[{"field": "codename", "reason": detail, "known": list(known)}],
        )
    if index.codenames and codename not in index.codenames:
        raise NotFound(
            f"{codename} was not synced for {index.instrument} "
            f"(synced: {', '.join(index.codenames)}); sync it while the CalDB is reachable"
        )
    now = now or datetime.now(UTC)
    try:
        time_mjd = requested_mjd(query["date"], query["time"], now)
        expression = parse_expression(query["expr"])
    except ValueError as error:
        field = "expr" if isinstance(error, ExpressionError) else "date"
        raise ValidationFailed(
            str(error), status=422, errors=[{"field": field, "reason": str(error)}]
        ) from None
    selection = select(
        index.datasets,
        Query.create(
            index.instrument,
            codename,
            detector=query["detector"],
            filter=query["filter"],
            expression=expression,
            time_mjd=time_mjd,
        ),
        explain=bool(query.get("explain")),
    )
    explain = (
        [
            Rejection(
                r.candidate.id, r.candidate.cal_file, r.candidate.cal_xno, str(r.reason), r.detail
            )
            for r in selection.rejections
        ]
        if query.get("explain")
        else None
    )
    return SearchAnswer(selection.nfound, list(selection.selected[: query["maxret"]]), now, explain)


class _Client(Protocol):
    url: str
    progress: bool | None

    def instruments(self) -> dict[str, Any]: ...
    def request(self, method: str, path: str, **kwargs: Any) -> Any: ...
    def fetch_to_cache(self, dataset: Dataset) -> None: ...

    @property
    def cache(self) -> Any: ...


def _known_codenames(entry: dict[str, Any]) -> tuple[str, ...] | None:
    """The codenames the server knows for an instrument of ``/api/v1/instruments``, or None.

    The document lists the registry's codenames together with those the catalogue holds;
    it does not say whether the registry declares a list (the server then refuses other
    codenames) or none (any codename is searched). A listed codename with no dataset or
    with a description can only come from the registry's list: then every listed name is
    known. Otherwise the copy cannot tell and accepts any codename (an unknown one then
    answers nfound 0 offline where the server might answer 404).
    """
    listed = [*entry.get("codenames", []), *entry.get("onboard", [])]
    if not any(c.get("datasets") == 0 or c.get("description") for c in listed):
        return None
    return tuple(sorted({str(c["name"]) for c in listed}))


def _canonical(
    client: _Client, mission: str, instrument: str
) -> tuple[str, tuple[str, ...], tuple[str, ...] | None]:
    """The instrument's registered name, its aliases (``ECLAIRS`` → ``ECL``), its codenames.

    Raises
    ------
    NotFound
        If the server knows no such mission or instrument (a copy of nothing would look
        like an instrument without calibration).
    """
    name = instrument.upper()
    for entry in client.instruments().get("missions", []):
        if entry.get("name") != mission.upper():
            continue
        aliases: dict[str, list[str]] = entry.get("aliases") or {}
        if len(aliases.get(name, [])) == 1:
            name = aliases[name][0]
        for item in entry.get("instruments", []):
            if item.get("name") == name:
                known = _known_codenames(item) if item.get("registered", True) else None
                return name, tuple(sorted(a for a, t in aliases.items() if t == [name])), known
    raise NotFound(f"the CalDB at {client.url} knows no instrument {mission.upper()} {name}")


def _fetch_good_files(client: _Client, instrument: str, datasets: list[Dataset]) -> None:
    """Put the file of every good dataset in the cache (once per file), with a bar of files."""
    files: dict[str, Dataset] = {}
    for dataset in datasets:
        if dataset.cal_qual == 0 and dataset.sha256:
            files.setdefault(dataset.sha256, dataset)
    with progress_bar(
        client.progress, total=len(files), desc=f"sync {instrument}", unit="file"
    ) as bar:
        for dataset in files.values():
            client.fetch_to_cache(dataset)
            bar.update(1)


def sync_instrument(
    client: _Client,
    instrument: str,
    codenames: Iterable[str] = (),
    *,
    mission: str = "SVOM",
    download: bool = True,
) -> OfflineIndex:
    """Copy an instrument's catalogue from the server, and its good files into the cache.

    The copy is written last, so an interrupted sync leaves the previous copy in place.
    """
    canonical, aliases, known_codenames = _canonical(client, mission, instrument)
    wanted = tuple(sorted({c.upper() for c in codenames}))
    datasets: list[Dataset] = []
    after: int | None = 0
    while after is not None:
        params = {"mission": mission, "instrument": canonical, "after": after}
        page = json_object(
            client.request("GET", "datasets", params=params | {"codename": list(wanted)})
        )
        datasets.extend(Dataset.from_json(item) for item in page["datasets"])
        after = page["next"]
    if download:
        _fetch_good_files(client, canonical, datasets)
    index = OfflineIndex(
        mission=mission.upper(),
        instrument=canonical,
        aliases=aliases,
        codenames=wanted,
        url=client.url,
        synced_at=datetime.now(UTC),
        datasets=tuple(datasets),
        known_codenames=known_codenames,
    )
    save_index(client.cache.root, index)
    return index
