"""Test helpers: registries, small calibration files, uploads, looking at the tree."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from astropy.io import fits
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from werkzeug.test import TestResponse

from caldb_server.catalogue.models import CalibrationFile, CatalogueIndex, Dataset
from caldb_server.config import DEFAULT_REGISTRY
from caldb_server.db import utcnow
from caldb_server.heasarc.cif import CifRow, write_cif
from caldb_server.heasarc.config_files import parse_caldb_config, read_alias_config
from caldb_server.users.models import User
from caldb_server.users.passwords import hash_password

_NAME = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,9}")
_DIR = re.compile(r"data(/[a-z0-9][a-z0-9_.+-]*)+")

# A valid MXT calibration dataset; tests change what they need.
MXT_GAIN = {
    "TELESCOP": "SVOM",
    "INSTRUME": "MXT",
    "CCLS0001": "BCF",
    "CDTP0001": "DATA",
    "CCNM0001": "GAIN",
    "CVSD0001": "2024-06-22",
    "CVST0001": "00:00:00",
    "CDES0001": "MXT per-column gain and offset",
}


def heasarc_registry_document(caldb_config: Path, alias_config: Path) -> dict[str, Any]:
    """The default SVOM registry plus every mission of a HEASARC caldb.config and aliases."""
    document = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    instruments: dict[str, dict[str, str]] = {}
    for mission, instrument, index_dir, _cif in parse_caldb_config(caldb_config.read_text()):
        if _NAME.fullmatch(mission) and _NAME.fullmatch(instrument) and _DIR.fullmatch(index_dir):
            instruments.setdefault(mission, {}).setdefault(instrument, index_dir)
    aliases = read_alias_config(alias_config)
    for mission, names in sorted(instruments.items()):
        if mission == "SVOM":
            continue
        known = {
            alias: list(targets)
            for alias, targets in aliases.get(mission, {}).items()
            if alias not in names and all(t in names for t in targets)
        }
        entry: dict[str, Any] = {
            "name": mission,
            "instruments": [{"name": n, "dir": d} for n, d in sorted(names.items())],
        }
        if known:
            entry["aliases"] = known
        document["missions"].append(entry)
    return document


def write_registry(document: Mapping[str, Any], path: Path) -> Path:
    """Write a registry document as YAML."""
    path.write_text(yaml.safe_dump(dict(document), sort_keys=False))
    return path


def calfile_bytes(*hdus: Mapping[str, Any], primary: Mapping[str, Any] | None = None) -> bytes:
    """A small FITS file: a primary HDU and one table HDU per keyword mapping.

    A value of None removes that keyword (to test missing keywords).
    """

    def header(keywords: Mapping[str, Any]) -> fits.Header:
        result = fits.Header()
        for key, value in keywords.items():
            if value is not None:
                result[key] = value
        return result

    tables = [
        fits.BinTableHDU.from_columns(
            [fits.Column(name="RAWX", format="J", array=np.arange(4))], header=header(keywords)
        )
        for keywords in hdus
    ]
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(header=header(primary or {})), *tables]).writeto(buffer)
    return buffer.getvalue()


def write_calfile(
    path: Path, *hdus: Mapping[str, Any], primary: Mapping[str, Any] | None = None
) -> Path:
    """:func:`calfile_bytes` written to ``path``."""
    path.write_bytes(calfile_bytes(*hdus, primary=primary))
    return path


def upload(
    client: FlaskClient,
    content: bytes | Path,
    name: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    supersede: bool | None = None,
) -> TestResponse:
    """POST a file to /api/v1/files."""
    if isinstance(content, Path):
        name = name or content.name
        content = content.read_bytes()
    data: dict[str, Any] = {"file": (io.BytesIO(content), name or "file.fits")}
    if supersede is not None:
        data["supersede"] = "true" if supersede else "false"
    return client.post("/api/v1/files", data=data, headers=dict(headers or {}))


def tree_files(root: Path) -> list[str]:
    """Files under data/ and .incoming/ of a CALDB tree, relative to it."""
    return sorted(
        str(path.relative_to(root))
        for directory in (root / "data", root / ".incoming")
        if directory.is_dir()
        for path in directory.rglob("*")
        if path.is_file()
    )


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """Check a problem+json answer and return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


SWIFT_XRT_GAIN_ROW = CifRow(
    telescop="SWIFT",
    instrume="XRT",
    detnam="NONE",
    filter="NONE",
    cal_dev="ONLINE",
    cal_dir="data/swift/xrt/bcf/gain",
    cal_file="gain.fits",
    cal_clas="BCF",
    cal_dtyp="DATA",
    cal_cnam="GAIN",
    cal_cbd=("NONE",) * 9,
    cal_xno=1,
    cal_vsd="2020-01-01",
    cal_vst="00:00:00",
    ref_time=58849.0,
    cal_qual=0,
    cal_date="2020-01-02",
    cal_desc="gain",
)
"""One row of a HEASARC index: a Swift XRT gain file valid from 2020-01-01."""


def cif_row(**values: Any) -> CifRow:
    """:data:`SWIFT_XRT_GAIN_ROW` with ``values`` replaced."""
    return dataclasses.replace(SWIFT_XRT_GAIN_ROW, **values)


def write_index(directory: Path, *rows: CifRow, caldbver: str = "20260101") -> Path:
    """Write ``rows`` as ``directory``/caldb.indx (with our ``write_cif``)."""
    path = directory / "caldb.indx"
    write_cif(rows, path, caldbver=caldbver)
    return path


def import_index(app: Any, cif: Path, files_root: Path | None = None) -> Any:
    """Import a HEASARC CIF into the test app's catalogue (as ``caldb-server import-cif``)."""
    from caldb_server.imports.service import import_cif  # noqa: PLC0415
    from caldb_server.web import extension  # noqa: PLC0415

    services = extension(app)
    with services.database.unit_of_work() as session:
        return import_cif(
            session, services.storage, cif, files_root=files_root, actor="test", now=utcnow()
        )


def assert_fitsverify_clean(path: Path) -> None:
    """HEASARC's fitsverify finds no error and no warning (skip when it is not installed)."""
    executable = shutil.which("fitsverify")
    if executable is None:
        pytest.skip("fitsverify is not installed (Debian package fitsverify; make system-deps)")
    result = subprocess.run(
        [executable, "-q", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    # -q prints "verification OK" only with 0 errors and 0 warnings; the exit code counts both.
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("verification OK"), result.stdout


def mxt_gain_dataset(**values: Any) -> dict[str, Any]:
    """Column values of an MXT GAIN dataset row (for writing the catalogue directly)."""
    return {
        "telescop": "SVOM",
        "instrume": "MXT",
        "detnam": "NONE",
        "filter": "NONE",
        "cal_dev": "ONLINE",
        "cal_clas": "BCF",
        "cal_dtyp": "DATA",
        "cal_cnam": "GAIN",
        "cal_cbd": ["NONE"] * 9,
        "cal_xno": 1,
        "cal_vsd": "2023-01-01",
        "cal_vst": "00:00:00",
        "ref_time": 59945.0,
        "cal_qual": 0,
        "cal_date": "2026-01-01",
        "cal_desc": "test",
        "indexed_by": "test",
        "indexed_at": utcnow(),
    } | values


def insert_datasets(database: Any, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write datasets of one MXT file straight into the catalogue, bypassing ingestion.

    For tests that need many datasets or exact REF_TIMEs fast; ``rows`` come from
    :func:`mxt_gain_dataset`.
    """
    now = utcnow()
    with database.unit_of_work() as session:
        session.add(
            CatalogueIndex(index_dir="data/svom/mxt", telescop="SVOM", serial=1, updated_at=now)
        )
        session.flush()  # no relationship orders this insert before the file's
        stored = CalibrationFile(
            index_dir="data/svom/mxt",
            cal_dir="data/svom/mxt/bcf/gain",
            cal_file="many.fits",
            origin="import",
            uploaded_by="test",
            uploaded_at=now,
        )
        session.add_all([Dataset(file=stored, **row) for row in rows])


def bearer(token: str) -> dict[str, str]:
    """Authorization headers carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


@lru_cache(maxsize=16)
def _password_hash(password: str) -> str:
    return hash_password(password)  # argon2 is slow on purpose: hash each password once


def add_user(
    database: Any, name: str, password: str, role: str = "reader", *, disabled: bool = False
) -> None:
    """Write a user of the built-in issuer straight into the database (no API, no audit)."""
    now = utcnow()
    with database.unit_of_work() as session:
        session.add(
            User(
                name=name,
                role=role,
                password_hash=_password_hash(password),
                disabled=disabled,
                created_by="test",
                created_at=now,
                updated_by="test",
                updated_at=now,
            )
        )


def b64url(data: bytes) -> str:
    """Base64url without padding, as in the parts of a JWT."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_by_hand(claims: Mapping[str, Any], secret: bytes, kid: str | None = None) -> str:
    """An HS256 JWT signed with any bytes: PyJWT refuses a public key as an HMAC secret."""
    header = {"alg": "HS256", "typ": "JWT"} | ({"kid": kid} if kid else {})
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def public_jwk(private_key: Any, kid: str) -> dict[str, Any]:
    """The public JWK (with ``kid``) of an RSA or EC private key."""
    public = private_key.public_key()
    algorithm = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
    return algorithm.to_jwk(public, as_dict=True) | {"kid": kid}


def jwks_bytes(keys: Mapping[str, Any], *extra: Mapping[str, Any]) -> bytes:
    """A JWKS document of the public halves of ``keys`` (private keys by kid), then ``extra``."""
    entries = [public_jwk(key, kid) for kid, key in keys.items()]
    return json.dumps({"keys": [*entries, *map(dict, extra)]}).encode()
