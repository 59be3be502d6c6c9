"""The rows of the codename page's table, written here rather than in the template.

A codename may have a thousand datasets and the page must render in a few milliseconds:
a Jinja loop spends about 30 µs a row (an escape and an attribute lookup per cell), this
function a few. Every text is escaped (:func:`markupsafe.escape`) before it is placed in
the markup, each distinct value once (detectors, uploaders, dates repeat from row to row);
numbers are formatted by Python. The columns are those of the ``<thead>`` of
``templates/ui/codename.html``, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from markupsafe import Markup, escape

from caldb_server.catalogue.quality import quality_words
from caldb_server.ui.timeline import quality_class

__all__ = ["COLUMNS", "ROW_FIELDS", "table_rows"]

COLUMNS = (
    "Valid from (UTC)",
    "Detector",
    "Filter",
    "Boundaries",
    "Quality",
    "File",
    "Extension",
    "Uploader",
    "Upload date (UTC)",
)
# What each row holds, in this order (the columns of the codename page's statement).
ROW_FIELDS = (
    "id",
    "cal_vsd",
    "cal_vst",
    "ref_time",
    "detnam",
    "filter",
    "cal_cbd",
    "cal_qual",
    "cal_xno",
    "cal_file",
    "uploaded_by",
    "uploaded_at",
)
_EMPTY_BOUNDARY = "NONE"
K = TypeVar("K")
V = TypeVar("V")


def _memo(render: Callable[[K], V]) -> Callable[[K], V]:
    """``render`` computed once per distinct value (within one table)."""
    done: dict[K, V] = {}

    def cached(value: K) -> V:
        found = done.get(value)
        if found is None:
            found = done[value] = render(value)
        return found

    return cached


def _boundaries(values: tuple[str, ...] | None) -> str:
    """CAL_CBD without its empty (``NONE``) boundaries, one per line."""
    return "<br>".join(f"<code>{escape(b)}</code>" for b in values or () if b != _EMPTY_BOUNDARY)


def _quality(quality: int) -> tuple[str, str]:
    return quality_class(quality), str(escape(quality_words(quality)))


def _uploaded(when: datetime) -> str:
    return f'<time datetime="{when.isoformat(timespec="seconds")}">{when.date().isoformat()}</time>'


def table_rows(rows: Iterable[Any], start_of: Callable[[float], datetime]) -> Markup:
    """The ``<tr>`` elements of ``rows``, tuples in the order of :data:`ROW_FIELDS`.

    ``start_of`` turns a REF_TIME into the UTC instant of the ``<time>`` element.
    """
    text: Callable[[str], str] = _memo(lambda value: str(escape(value)))
    boundaries, quality, uploaded = _memo(_boundaries), _memo(_quality), _memo(_uploaded)
    out = []
    for row in rows:  # unpacked: a Row's attribute lookup costs more than the whole cell
        (id_, vsd, vst, ref_time, detector, filter_, cbd, qual, xno, file, by, at) = row
        klass, words = quality(qual)
        start = start_of(ref_time).isoformat(timespec="seconds")
        out.append(
            f'<tr class="{klass}">'
            f'<td class="when"><time datetime="{start}">{text(vsd)} {text(vst)}</time></td>'
            f"<td>{text(detector)}</td><td>{text(filter_)}</td>"
            f"<td>{boundaries(cbd)}</td><td>{words}</td>"
            f'<td class="file"><a href="/datasets/{int(id_)}">{text(file)}</a></td>'
            f"<td>{int(xno)}</td><td>{text(by)}</td>"
            f'<td class="when">{uploaded(at)}</td></tr>'
        )
    return Markup("\n".join(out))  # noqa: S704 - every text above is escaped
