"""The identity provider's keys: which are used, how a file or a URL is re-read when keys
rotate, and what happens while the provider is down. No server or database: a JWKS URL is
served by a real local HTTP server whose document the tests change; time is a fake clock."""

import warnings

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.warnings import InsecureKeyLengthWarning

from caldb_server.auth.external import (
    MAX_AGE_S,
    MIN_REFRESH_S,
    ExternalIssuer,
    KeySet,
    KeySetUnavailable,
    parse_keys,
)
from caldb_server.auth.tokens import TokenError
from caldb_server.auth.verification import TokenVerifier
from tests.conftest import SECRET
from tests.helpers import b64url, jwks_bytes, public_jwk
from tests.server.idp import AUDIENCE, ISSUER, Clock, public_key_forms, replace_file, sign, verify


def test_symmetric_and_weak_keys_are_ignored(tmp_path, rsa_key):
    weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    p384 = ec.generate_private_key(ec.SECP384R1())
    hmac_key = {"kty": "oct", "k": b64url(b"an-hmac-key-nobody-should-use-000"), "kid": "h"}
    weak = [hmac_key, public_jwk(weak_key, "weak"), public_jwk(p384, "p384")]
    assert set(parse_keys(jwks_bytes({"k1": rsa_key}, *weak))) == {"k1"}
    for entry in weak:
        with pytest.raises(ValueError, match="no RS256/ES256 signature key"):
            parse_keys(jwks_bytes({}, entry))
    path = replace_file(tmp_path / "jwks.json", jwks_bytes({"k1": rsa_key}, *weak))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = sign(weak_key, "weak")
    with pytest.raises(TokenError, match="does not publish"):
        verify(KeySet(str(path)), token)


@pytest.mark.parametrize("kid", [None, "any-kid"])
def test_a_pem_public_key_file_verifies_tokens_with_or_without_kid(tmp_path, rsa_key, ec_key, kid):
    pem = public_key_forms(rsa_key)["SPKI PEM"]
    keys = KeySet(str(replace_file(tmp_path / "idp.pem", pem)))
    assert verify(keys, sign(rsa_key, kid)).subject == "ext-user"
    with pytest.raises(TokenError, match="algorithm does not match"):
        verify(keys, sign(ec_key, kid))


def test_a_jwks_file_is_reread_when_it_changes(tmp_path, rsa_key, new_key):
    path = replace_file(tmp_path / "jwks.json", jwks_bytes({"k1": rsa_key}))
    keys = KeySet(str(path))
    old, new = sign(rsa_key, "k1"), sign(new_key, "k3")
    assert verify(keys, old).subject == "ext-user"
    with pytest.raises(TokenError, match="does not publish"):
        verify(keys, new)
    replace_file(path, jwks_bytes({"k1": rsa_key, "k3": new_key}))  # the new key is published
    assert verify(keys, new).subject == "ext-user"
    assert verify(keys, old).subject == "ext-user"
    replace_file(path, jwks_bytes({"k3": new_key}))  # the old key is withdrawn
    with pytest.raises(TokenError, match="does not publish"):
        verify(keys, old)
    assert verify(keys, new).subject == "ext-user"


def test_url_keys_are_cached_and_an_unknown_kid_refetches_them_at_most_every_min_refresh(
    provider, rsa_key, ec_key, new_key
):
    provider.publish({"k1": rsa_key, "k2": ec_key})
    clock = Clock()
    keys = KeySet(provider.url, clock=clock)
    for key, kid in [(rsa_key, "k1"), (ec_key, "k2")] * 5:
        assert verify(keys, sign(key, kid)).subject == "ext-user"
    assert provider.gets == 1
    provider.publish({"k1": rsa_key, "k2": ec_key, "k3": new_key})  # rotation
    clock.now += MIN_REFRESH_S - 1
    with pytest.raises(TokenError, match="does not publish"):
        verify(keys, sign(new_key, "k3"))  # too soon after the last fetch
    assert provider.gets == 1
    clock.now += 1
    assert verify(keys, sign(new_key, "k3")).subject == "ext-user"
    assert provider.gets == 2
    for number in range(20):  # made-up kids cannot make the server hammer the provider
        with pytest.raises(TokenError, match="does not publish"):
            verify(keys, sign(new_key, f"made-up-{number}"))
    assert provider.gets == 2
    clock.now += MIN_REFRESH_S
    with pytest.raises(TokenError, match="does not publish"):
        verify(keys, sign(new_key, "made-up"))
    assert provider.gets == 3


def test_url_keys_are_reread_after_max_age(provider, rsa_key, new_key):
    provider.publish({"k1": rsa_key})
    clock = Clock()
    keys = KeySet(provider.url, clock=clock)
    old = sign(rsa_key, "k1")
    verify(keys, old)
    provider.publish({"k3": new_key})  # the old key withdrawn
    clock.now += MAX_AGE_S - 1
    assert verify(keys, old).subject == "ext-user"
    assert provider.gets == 1
    clock.now += 1
    with pytest.raises(TokenError, match="does not publish"):
        verify(keys, old)
    assert provider.gets == 2
    assert verify(keys, sign(new_key, "k3")).subject == "ext-user"
    assert provider.gets == 2


def test_a_provider_down_before_any_fetch_makes_keys_unavailable(provider, rsa_key):
    provider.publish({"k1": rsa_key})
    provider.up = False
    clock = Clock()
    external = ExternalIssuer(ISSUER, AUDIENCE, KeySet(provider.url, clock=clock))
    down = TokenVerifier(SECRET, "svom-caldb", external)
    token = sign(rsa_key, "k1")
    with pytest.raises(KeySetUnavailable):
        down.verify(token)
    assert provider.gets == 1
    provider.up = True
    clock.now += MIN_REFRESH_S
    assert down.verify(token).subject == "ext-user"


@pytest.mark.parametrize("where", ["url", "file"])
def test_keys_stay_unavailable_while_they_cannot_be_read(provider, tmp_path, rsa_key, where):
    provider.up = False
    location = provider.url if where == "url" else str(tmp_path / "half-written.json")
    if where == "file":
        (tmp_path / "half-written.json").write_bytes(jwks_bytes({"k1": rsa_key})[:40])
    keys, token = KeySet(location, clock=Clock()), sign(rsa_key, "k1")
    for _ in range(2):
        with pytest.raises(KeySetUnavailable):
            verify(keys, token)


def test_a_provider_down_with_cached_keys_still_verifies(provider, rsa_key, caplog):
    provider.publish({"k1": rsa_key})
    clock = Clock()
    keys = KeySet(provider.url, clock=clock)
    token = sign(rsa_key, "k1")
    verify(keys, token)
    provider.up = False
    clock.now += MAX_AGE_S
    assert verify(keys, token).subject == "ext-user"
    assert provider.gets == 2
    assert "cannot read the identity provider's keys" in caplog.text
