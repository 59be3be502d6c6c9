"""``caldb-server fsck``: checking that the catalogue and the file tree agree.

Inconsistencies (the exit status is non-zero):

- a held file or a release that is missing, of the wrong size, or whose sha256 differs;
- a stray file in ``data/``: neither a catalogue file, a release, nor an exported index.
  Only a crash between an upload's rename and its commit can leave one; it was never
  visible (files are served through the catalogue only).

Notices (harmless): temporary files left in ``.incoming`` by an interrupted upload (every
app removes those of dead processes when it starts), and stray files younger than a grace
period (another process may be about to commit them). ``--repair`` moves strays to
``.trash/`` and deletes old temporary files, never one a live process holds; it never
touches the catalogue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_common.atomic import TEMPORARY_PREFIX
from caldb_common.digest import sha256_of
from caldb_server.catalogue.models import CalibrationFile, CatalogueIndex, Release
from caldb_server.heasarc.tree import CIF_NAME, release_path
from caldb_server.registry import Registry
from caldb_server.storage import Storage

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


def _verify_catalogue(session: Session, storage: Storage, report: FsckReport) -> None:
    """Size and sha256 of every held file and every release."""
    for stored in session.scalars(
        select(CalibrationFile).where(CalibrationFile.sha256.is_not(None))
    ):
        report.files_checked += 1
        path = storage.path_of(stored.cal_dir, stored.cal_file)
        relative = f"{stored.cal_dir}/{stored.cal_file}"
        assert stored.sha256 is not None  # the query selects held files only
        if finding := _verify(path, relative, stored.size_bytes, stored.sha256):
            report.findings.append(finding)
    for release in session.scalars(select(Release)):
        report.releases_checked += 1
        path = release_path(storage, release.index_dir, release.caldbver)
        relative = str(path.relative_to(storage.root))
        if finding := _verify(path, relative, release.size_bytes, release.sha256):
            report.findings.append(finding)


def _expected_paths(session: Session, storage: Storage, registry: Registry) -> set[Path]:
    """Every file ``data/`` may hold: held files, releases, exported indexes."""
    held = session.execute(
        select(CalibrationFile.cal_dir, CalibrationFile.cal_file).where(
            CalibrationFile.sha256.is_not(None)
        )
    )
    expected = {storage.path_of(cal_dir, cal_file) for cal_dir, cal_file in held}
    for index_dir, caldbver in session.execute(select(Release.index_dir, Release.caldbver)):
        expected.add(release_path(storage, index_dir, caldbver))
    exported = set(session.scalars(select(CatalogueIndex.index_dir)))
    exported |= registry.index_dirs()  # registered indexes are exported even when empty
    expected |= {storage.root / index_dir / CIF_NAME for index_dir in exported}
    return expected


def _move_to_trash(storage: Storage, path: Path) -> None:
    destination = (
        storage.trash_dir / time.strftime("%Y%m%dT%H%M%S") / path.relative_to(storage.root)
    )
    destination.parent.mkdir(parents=True, exist_ok=True)
    path.replace(destination)


def _leftover(storage: Storage, path: Path, report: FsckReport, *, old: bool, repair: bool) -> None:
    """A temporary file of an interrupted upload or write: a notice; removed once old."""
    relative = str(path.relative_to(storage.root))
    report.findings.append(
        Finding("temporary", relative, "left by an interrupted write", severe=False)
    )
    if repair and old:
        path.unlink(missing_ok=True)
        report.repaired.append(relative)


def _stray(storage: Storage, path: Path, report: FsckReport, *, old: bool, repair: bool) -> None:
    """A file of ``data/`` the catalogue does not know (invisible to clients)."""
    relative = str(path.relative_to(storage.root))
    detail = "not in the catalogue (a crash between an upload's rename and its commit?)"
    recent = "" if old else "; recent, may be in flight"
    report.findings.append(Finding("stray", relative, detail + recent, severe=old))
    if repair and old:
        _move_to_trash(storage, path)
        report.repaired.append(relative)


def fsck(
    session: Session, storage: Storage, registry: Registry, *, repair: bool = False
) -> FsckReport:
    """Compare the catalogue with the tree (see the module docstring)."""
    report = FsckReport()
    _verify_catalogue(session, storage, report)
    expected = _expected_paths(session, storage, registry)
    horizon = time.time() - GRACE_SECONDS
    for path in sorted(p for p in (storage.root / "data").rglob("*") if p.is_file()):
        if path in expected:
            continue
        old = path.stat().st_mtime < horizon
        if path.name.startswith(TEMPORARY_PREFIX):
            _leftover(storage, path, report, old=old, repair=repair)
        else:
            _stray(storage, path, report, old=old, repair=repair)
    for path in sorted(storage.incoming_dir.glob("*")):
        # A file a live process holds is in flight however old it is (a slow upload).
        old = path.stat().st_mtime < horizon and not storage.part_in_use(path)
        _leftover(storage, path, report, old=old, repair=repair)
    return report
