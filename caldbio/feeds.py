"""What pipelines tell the CalDB and follow from it: usage records, changes, their impact.

Methods of :class:`caldbio.CaDBIO` (a mix-in, so that the client's module stays about
searching, downloading and uploading).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from caldbio.results import json_object
from caldbio.usage import FlushReport, UsageQueue, usage_queue_dir

if TYPE_CHECKING:
    import requests

    from caldbio.cache import Cache

__all__ = ["FeedMethods"]


def _feed_params(
    since: int, instrument: str | None, codenames: Iterable[str]
) -> list[tuple[str, str]]:
    params = [("since", str(int(since)))]
    if instrument is not None:
        params.append(("instrument", instrument))
    return params + [("codename", codename) for codename in codenames]


class FeedMethods:
    """Usage records, the change feed and the impact of changes (mixed into CaDBIO)."""

    cache: Cache

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request with the client's token (:meth:`caldbio.CaDBIO.request`)."""
        raise NotImplementedError

    def send_usage(self, record: dict[str, Any]) -> dict[str, Any]:
        """Send one usage record (``POST usage``); return the record the CalDB holds.

        Sending the same record again is harmless: its ``record_id`` makes the CalDB answer
        the record it stored the first time.
        """
        return json_object(self.request("POST", "usage", json=record))

    def usage_queue(self) -> UsageQueue:
        """The queue of unsent usage records (in the cache directory)."""
        return UsageQueue(usage_queue_dir(self.cache.root))

    def report_usage(self, record: dict[str, Any]) -> FlushReport:
        """Queue a usage record, then send every queued one the CalDB can take now."""
        queue = self.usage_queue()
        queue.put(record)
        return queue.flush(self)

    # -- changes and their impact --------------------------------------------------------

    def changes(
        self,
        since: int,
        *,
        instrument: str | None = None,
        codenames: Iterable[str] = (),
        limit: int = 100,
    ) -> dict[str, Any]:
        """One page of the change feed after ``since`` (``changes``, ``next_since``, ``more``)."""
        params = [*_feed_params(since, instrument, codenames), ("limit", str(limit))]
        return json_object(self.request("GET", "changes", params=params))

    def impact(
        self,
        since: int,
        *,
        instrument: str | None = None,
        codenames: Iterable[str] = (),
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The runs whose calibration would now differ because of the changes after ``since``."""
        params = _feed_params(since, instrument, codenames)
        if limit is not None:
            params.append(("limit", str(limit)))
        return json_object(self.request("GET", "impact", params=params))
