"""Fixtures of the server tests."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from caldb_server.auth.external import ExternalIssuer, KeySet
from caldb_server.auth.verification import TokenVerifier
from tests.conftest import SECRET
from tests.helpers import jwks_bytes
from tests.server.idp import AUDIENCE, ISSUER, Provider, replace_file, serving


@pytest.fixture
def root(app_config: dict[str, Any]) -> Path:
    """The CALDB tree of the test app."""
    return app_config["ROOT"]


# The identity provider of the token tests (tests/server/idp.py).


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """The provider's RSA key (kid k1)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    """The provider's P-256 key (kid k2)."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def new_key() -> rsa.RSAPrivateKey:
    """The provider's next key (rotation)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_key: Any, ec_key: Any) -> Path:
    """A JWKS file with both keys."""
    return replace_file(tmp_path / "jwks.json", jwks_bytes({"k1": rsa_key, "k2": ec_key}))


@pytest.fixture
def verifier(jwks_file: Path) -> TokenVerifier:
    """The verifier of a server trusting the provider's JWKS file."""
    return TokenVerifier(
        SECRET, "svom-caldb", ExternalIssuer(ISSUER, AUDIENCE, KeySet(str(jwks_file)))
    )


@pytest.fixture
def provider() -> Iterator[Provider]:
    """The provider's JWKS served over HTTP, its document and availability under test control."""
    with serving(Provider()) as state:
        yield state


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The schemathesis figures per backend (test_schemathesis.py), from the test reports."""
    records = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "teardown"
        for name, value in getattr(report, "user_properties", ())
        if name == "schemathesis"
    ]
    if records:
        from tests.server.test_schemathesis import summary  # noqa: PLC0415

        terminalreporter.section("schemathesis")
        for line in summary(records):
            terminalreporter.write_line(line)
