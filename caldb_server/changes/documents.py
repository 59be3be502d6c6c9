"""A change as JSON (``GET /api/v1/changes``) and as an Atom feed (``/feeds/changes.atom``).

The feed is written by ``feedgen`` (well-formed XML, RFC 4287 elements), never by string
concatenation. Entry ids are ``tag:`` URIs of the server's host and the sequence number,
so a feed reader sees an event once, whatever page or filter showed it. An entry links to
the web page of its (first) dataset, or, without datasets (a release, an import), to its
JSON document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedgen.feed import FeedGenerator

from caldb_server.changes.models import Change

__all__ = ["FeedLinks", "atom_feed", "change_document", "change_title"]

TAG_DATE = "2026-12-07"  # when the tag: ids were minted (RFC 4151 needs a date)


def _single(values: list[str]) -> str | None:
    return values[0] if len(values) == 1 else None


def change_document(change: Change) -> dict[str, Any]:
    """One change: seq, kind, time, actor, what it concerns, what it touched, its details.

    ``mission`` and ``instrument`` are null when it concerns several (an import may);
    ``codenames`` is empty for a release, which concerns every codename of its index.
    """
    missions = sorted({s.telescop for s in change.subjects})
    instruments = sorted({s.instrume for s in change.subjects})
    return {
        "seq": change.seq,
        "kind": change.kind,
        "time": change.recorded_at.isoformat(),
        "actor": change.actor,
        "mission": _single(missions),
        "instrument": _single(instruments),
        "instruments": instruments,
        "codenames": sorted({s.cal_cnam for s in change.subjects if s.cal_cnam is not None}),
        "datasets": change.dataset_ids,
        "files": change.files,
        "details": change.details,
    }


def change_title(change: Change) -> str:
    """A one-line summary: ``#12 quality: SVOM MXT GAIN, dataset 3 (0 -> 5)``."""
    document = change_document(change)
    about = " ".join(
        part
        for part in (
            document["mission"],
            document["instrument"] or ", ".join(document["instruments"]),
            ", ".join(document["codenames"]),
        )
        if part
    )
    details = change.details
    if change.kind in ("quality", "supersession"):
        ids = ", ".join(str(i) for i in change.dataset_ids)
        what = f"dataset {ids}" + (
            f" ({details['old_qual']} -> {details['new_qual']})" if change.kind == "quality" else ""
        )
    elif change.kind == "release":
        what = f"{details['index_dir']} CALDBVER {details['caldbver']}"
    elif change.kind == "import":
        what = f"{details['cif']}: {details['datasets_added']} datasets added"
    else:
        what = ", ".join(f.rsplit("/", 1)[-1] for f in change.files)
    return f"#{change.seq} {change.kind}: {about}, {what}"


def _content(change: Change) -> str:
    document = change_document(change)
    lines = [change_title(change), f"by {change.actor} at {document['time']}"]
    lines += [f"file: {path}" for path in change.files]
    if change.dataset_ids:
        lines.append("datasets: " + ", ".join(str(i) for i in change.dataset_ids))
    lines += [
        f"{key}: {value if isinstance(value, str | int) else json.dumps(value)}"
        for key, value in change.details.items()
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class FeedLinks:
    """Where the feed, its next page, the API and the web interface are (absolute URLs)."""

    host: str  # the tag: authority
    self_url: str
    next_url: str | None
    api_root: str  # ends with /
    site_root: str  # ends with /


def atom_feed(
    changes: Sequence[Change], links: FeedLinks, *, feed_key: str, empty_updated: datetime
) -> bytes:
    """The Atom document of ``changes``, in the order given (newest first, by convention).

    ``feed_key`` tells filtered feeds apart (their ids differ); ``empty_updated`` is the
    feed's ``updated`` when it has no entry.
    """
    feed = FeedGenerator()
    feed.id(f"tag:{links.host},{TAG_DATE}:changes{feed_key}")
    feed.title("SVOM CalDB changes")
    feed.subtitle("Uploads, quality changes, supersessions, releases and imports, by number")
    feed.author({"name": "SVOM CalDB"})
    feed.link(href=links.self_url, rel="self", type="application/atom+xml")
    feed.link(href=links.site_root, rel="alternate", type="text/html")
    if links.next_url is not None:
        feed.link(href=links.next_url, rel="next", type="application/atom+xml")
    feed.updated(max((c.recorded_at for c in changes), default=empty_updated))
    for change in changes:
        entry = feed.add_entry(order="append")
        entry.id(f"tag:{links.host},{TAG_DATE}:change:{change.seq}")
        entry.title(change_title(change))
        entry.updated(change.recorded_at)
        entry.published(change.recorded_at)
        entry.author({"name": change.actor})
        entry.category(term=change.kind)
        entry.content(_content(change), type="text")
        # One link: feedgen 1.0 drops the rel and type of entry links, and a link without
        # rel is the alternate, of which an entry may have one (per type) only.
        if change.dataset_ids:
            entry.link(href=f"{links.site_root}datasets/{change.dataset_ids[0]}")
        else:
            entry.link(href=f"{links.api_root}changes?since={change.seq - 1}&limit=1")
    result: bytes = feed.atom_str(pretty=True)
    return result
