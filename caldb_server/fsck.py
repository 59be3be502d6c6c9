"""``caldb-server fsck``: checking that the catalogue and the file tree agree.

Inconsistencies (the exit status is non-zero):

- a held file or a release that is missing, of the wrong size, or whose sha256 differs;
- a stray file in ``data/``: neither a catalogue file, a release, nor an exported index.
  Only a crash between an upload's rename and its commit can leave one; it was never
  visible (files are served through the catalogue only).

Notices (harmless): temporary files left in ``.incoming`` by an interrupted upload, and
stray files younger than a grace period (another process may be about to commit them).
``--repair`` moves strays to ``.trash/`` and deletes old temporary files; it never touches
the catalogue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_server.catalogue.models import CalibrationFile, CatalogueIndex, Release
from caldb_server.heasarc.tree import CIF_NAME, release_path
from caldb_server.registry import Registry
from caldb_server.storage import Storage, sha256_of

__all__ = ["Finding", "FsckReport", "fsck"]

GRACE_SECONDS = 600


@dataclass(frozen=True)
class Finding:
    """One thing fsck noticed; ``severe`` ones make the state inconsistent."""

    kind: str
    path: str
    detail: str
    severe: bool


@dataclass
class FsckReport:
    """The result of a check."""

    files_checked: int = 0
    releases_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """True when no finding is severe."""
        return not any(f.severe for f in self.findings)


def _verify(path: Path, relative: str, size: int | None, sha256: str) -> Finding | None:
    if not path.is_file():
        return Finding("missing", relative, "in the catalogue but not in the tree", severe=True)
    if size is not None and path.stat().st_size != size:
        return Finding(
            "wrong-size",
            relative,
            f"{path.stat().st_size} bytes, catalogue says {size}",
            severe=True,
        )
    if sha256_of(path) != sha256:
        return Finding("corrupt", relative, "sha256 differs from the catalogue", severe=True)
    return None


def _expected_paths(
    session: Session, storage: Storage, registry: Registry, report: FsckReport
) -> set[Path]:
    """Check every held file and release; return every path the tree may contain."""
    expected = set()
    for stored in session.scalars(
        select(CalibrationFile).where(CalibrationFile.sha256.is_not(None))
    ):
        path = storage.path_of(stored.cal_dir, stored.cal_file)
        expected.add(path)
        report.files_checked += 1
        if finding := _verify(
            path, f"{stored.cal_dir}/{stored.cal_file}", stored.size_bytes, stored.sha256
        ):
            report.findings.append(finding)
    for release in session.scalars(select(Release)):
        path = release_path(storage, release.index_dir, release.caldbver)
        expected.add(path)
        report.releases_checked += 1
        relative = str(path.relative_to(storage.root))
        if finding := _verify(path, relative, release.size_bytes, release.sha256):
            report.findings.append(finding)
    exported = set(session.scalars(select(CatalogueIndex.index_dir)))
    exported |= {entry[2] for entry in registry.index_entries()}  # empty registered indexes
    expected |= {storage.root / index_dir / CIF_NAME for index_dir in exported}
    return expected


def _move_to_trash(storage: Storage, path: Path) -> None:
    destination = (
        storage.trash_dir / time.strftime("%Y%m%dT%H%M%S") / path.relative_to(storage.root)
    )
    destination.parent.mkdir(parents=True, exist_ok=True)
    path.replace(destination)


def fsck(
    session: Session, storage: Storage, registry: Registry, *, repair: bool = False
) -> FsckReport:
    """Compare the catalogue with the tree (see the module docstring)."""
    report = FsckReport()
    expected = _expected_paths(session, storage, registry, report)
    horizon = time.time() - GRACE_SECONDS
    data = storage.root / "data"
    for path in sorted(
        p for p in data.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")
    ):
        if path in expected:
            continue
        relative = str(path.relative_to(storage.root))
        young = path.stat().st_mtime >= horizon
        detail = "not in the catalogue (interrupted upload?)"
        report.findings.append(
            Finding(
                "stray",
                relative,
                detail + (" - recent, may be in flight" if young else ""),
                severe=not young,
            )
        )
        if repair and not young:
            _move_to_trash(storage, path)
            report.repaired.append(relative)
    for leftover in sorted(storage.incoming_dir.glob("*")):
        old = leftover.stat().st_mtime < horizon
        report.findings.append(
            Finding(
                "temporary",
                str(leftover.relative_to(storage.root)),
                "left by an interrupted upload",
                severe=False,
            )
        )
        if repair and old:
            leftover.unlink(missing_ok=True)
            report.repaired.append(str(leftover.relative_to(storage.root)))
    return report
