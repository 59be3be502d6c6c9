"""Search at memory speed: per-codename indexes and recent answers, kept per process.

Each process answers searches from :class:`~caldb_server.search.memory.CodenameIndex` objects
loaded on first use, and repeats recent answers from a small cache. Both are valid for one
catalogue serial (:func:`~caldb_server.catalogue.indexes.catalogue_serial`), read from the
database on every search: when another process (another worker, another host) commits a
change, the serial moves and everything held is dropped, so a search never answers from a
catalogue older than the one its own read saw. The SQL path
(:func:`caldb_server.search.service.search`) stays the reference, and answers whenever the
catalogue moves while an index is being loaded.

Memory: at most every dataset of the catalogue once per process (indexes are loaded only
for the codenames searched), plus :data:`CACHED_ANSWERS` answers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from sqlalchemy.orm import Session

from caldb_server.catalogue.indexes import catalogue_serial
from caldb_server.metrics import record_search_cache
from caldb_server.search import service
from caldb_server.search.memory import CodenameIndex, answer, load_codename
from caldb_server.search.service import SearchAnswer, SearchRequest

__all__ = ["CACHED_ANSWERS", "SearchCache"]

CACHED_ANSWERS = 1024

_Group = tuple[str, str, str]  # mission, instrument, codename


def _group(request: SearchRequest) -> _Group:
    return request.mission, request.query.instrument, request.query.codename


def _answer_key(request: SearchRequest) -> Hashable:
    return request.query, request.mission, request.maxret, request.as_of, request.explain


class SearchCache:
    """The indexes and recent answers of one app, valid at one catalogue serial."""

    def __init__(self, capacity: int = CACHED_ANSWERS) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()  # gthread workers and the development server use threads
        self._serial = -1
        self._indexes: dict[_Group, CodenameIndex] = {}
        self._answers: OrderedDict[Hashable, SearchAnswer] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def search(self, session: Session, request: SearchRequest) -> SearchAnswer:
        """The answer :func:`caldb_server.search.service.search` gives on the current catalogue."""
        serial = catalogue_serial(session)
        key, group = _answer_key(request), _group(request)
        with self._lock:
            older = serial < self._serial  # this read began before a newer one: do not mix
            if serial > self._serial:  # someone committed a change: all held is stale
                self._serial = serial
                self._indexes.clear()
                self._answers.clear()
            found = None if older else self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
                self.hits += 1
            elif not older:
                self.misses += 1
            index = self._indexes.get(group)
        if older:  # answered by SQL outside the lock: the other thread's searches go on
            return service.search(session, request)
        record_search_cache(hit=found is not None)
        if found is not None:
            return found
        if index is None:
            index = load_codename(session, *group)
            if catalogue_serial(session) != serial:  # loaded across a commit: maybe mixed
                return service.search(session, request)
        result = answer(index, request)
        with self._lock:
            if self._serial == serial:
                self._indexes[group] = index
                self._answers[key] = result
                if len(self._answers) > self._capacity:
                    self._answers.popitem(last=False)
        return result
