"""Answers of the ``caldbio`` command line put in words for people, or in JSON for scripts.

Pure formatting: each function takes what the CalDB answered and returns (or prints) text;
argument parsing and the calls to the server stay in :mod:`caldbio.cli`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from caldbio.offline import OfflineIndex
from caldbio.results import Rejection, SearchAnswer, UploadResult

__all__ = [
    "explanation",
    "info_text",
    "instruments_text",
    "show_datasets",
    "sync_line",
    "table",
    "to_json",
    "upload_item",
    "upload_line",
]


def to_json(document: Any) -> str:
    """The indented JSON every ``--json`` answer prints."""
    return json.dumps(document, indent=2)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Left-aligned columns two spaces apart, the header first, no trailing blanks."""
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def explanation(rejections: Sequence[Rejection]) -> str:
    """Why each other candidate lost, one line each (``--explain``)."""
    if not rejections:
        return "no other candidate"
    rows = [(r.id, r.hdu, r.reason, r.detail) for r in rejections]
    return "not chosen:\n" + table(rows, ("id", "file[xno]", "reason", "why"))


def show_datasets(answer: SearchAnswer, as_json: bool) -> None:
    """Print a search's datasets: a table and ``nfound=``, or the JSON document."""
    datasets, nfound = answer.results, answer.nfound
    if as_json:
        document: dict[str, Any] = {"nfound": nfound, "results": [d.to_json() for d in datasets]}
        if answer.explain is not None:
            document["explain"] = [r.to_json() for r in answer.explain]
        print(to_json(document))
        return
    rows = [
        (
            d.id,
            d.hdu,
            d.detnam,
            d.filter,
            f"{d.cal_vsd} {d.cal_vst}",
            d.cal_qual,
            d.local_path or d.cal_desc,
        )
        for d in datasets
    ]
    print(
        table(
            rows,
            (
                "id",
                "file[xno]",
                "detnam",
                "filter",
                "valid from",
                "qual",
                "description / local path",
            ),
        )
    )
    print(f"nfound={nfound}" + (f" (showing {len(datasets)})" if nfound > len(datasets) else ""))
    if answer.explain is not None:
        print(explanation(answer.explain))


def upload_item(path: Path, result: UploadResult) -> dict[str, Any]:
    """One uploaded file in the ``--json`` list of ``upload``."""
    return {
        "file": str(path),
        "created": result.created,
        "datasets": [d.id for d in result.datasets],
    }


def upload_line(path: Path, result: UploadResult) -> str:
    """``name: indexed: INST/CODE[xno] ...``, then one ``  note:`` line per server note."""
    state = "indexed" if result.created else "already indexed"
    names = " ".join(f"{d.instrume}/{d.cal_cnam}[{d.cal_xno}]" for d in result.datasets)
    return "\n".join([f"{path.name}: {state}: {names}", *(f"  note: {n}" for n in result.notes)])


def sync_line(index: OfflineIndex, where: Path) -> str:
    """What ``sync`` copied: the dataset count, how many are good, and where."""
    good = sum(1 for d in index.datasets if d.cal_qual == 0)
    count = len(index.datasets)
    return f"{index.mission} {index.instrument}: {count} datasets ({good} good) in {where}"


def instruments_text(missions: Sequence[dict[str, Any]]) -> str:
    """Each instrument with its codenames and onboard codenames, then each mission's aliases."""
    blocks = []
    for mission in missions:
        for instrument in mission.get("instruments", []):
            lines = [
                f"{mission['name']} {instrument['name']}: {instrument.get('description') or '-'}"
                f" ({instrument.get('good', 0)} good of {instrument.get('datasets', 0)} datasets)"
            ]
            for title, key in (("codenames", "codenames"), ("onboard codenames", "onboard")):
                entries = instrument.get(key) or []
                if not entries:
                    continue
                lines.append(f"  {title}:")
                rows = [
                    (
                        e["name"],
                        f"{e.get('good', 0)}/{e.get('datasets', 0)}",
                        e.get("description") or "",
                    )
                    for e in entries
                ]
                lines.extend(
                    "    " + line
                    for line in table(rows, ("name", "good/all", "description")).splitlines()
                )
            blocks.append("\n".join(lines))
        aliases = mission.get("aliases") or {}
        if aliases:
            names = ", ".join(f"{a} = {' '.join(t)}" for a, t in sorted(aliases.items()))
            blocks.append(f"{mission['name']} aliases: {names}")
    return "\n\n".join(blocks)


NOT_SET = "not set"
_INFO_LABELS = {
    "url": "server",
    "health": "server state",
    "token_source": "token from",
    "whoami": "token stands for",
    "cache": "cache",
    "offline_copies": "offline copies",
    "jti": "token id",
    "expires_at": "expires",
}
_LABEL_WIDTH = 20


def info_text(document: dict[str, Any]) -> str:
    """``info`` for people: a labelled line per value, nested values indented beneath.

    A list of plain values is one comma-separated line, a list of records one ``- `` line
    each. An absent value reads ``not set``, an empty list ``none``; nothing is printed as
    JSON or as Python's ``None``.
    """
    return "\n".join(line for key, value in document.items() for line in _info_lines(key, value))


def _info_lines(key: str, value: Any, depth: int = 0) -> list[str]:
    indent = "  " * depth
    label = _INFO_LABELS.get(key, key.replace("_", " "))
    if isinstance(value, dict) and value:
        nested = [line for k, v in value.items() for line in _info_lines(k, v, depth + 1)]
        return [f"{indent}{label}:", *nested]
    if isinstance(value, list) and value and not all(_is_scalar(v) for v in value):
        return [f"{indent}{label}:", *(f"{indent}  - {_info_value(v)}" for v in value)]
    return [f"{(indent + label).ljust(_LABEL_WIDTH)} {_info_value(value)}".rstrip()]


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _info_value(value: Any) -> str:
    if value is None or value in ("", {}):
        return NOT_SET
    if isinstance(value, list):
        return ", ".join(map(_info_value, value)) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_info_value(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
