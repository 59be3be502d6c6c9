"""Tokens of an external identity provider, and the verifier that dispatches every token.

Unit tests of :mod:`caldb_server.auth.external` and :mod:`caldb_server.auth.verification`,
without a server or a database. Keys are generated here; a JWKS URL is served by a real
local HTTP server whose document the tests change; time is a fake clock given to KeySet.
"""

import json
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
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
from caldb_server.auth.verification import MAX_TOKEN_LENGTH, TokenVerifier, build_verifier
from caldb_server.config import ConfigError, load_settings
from tests.conftest import SECRET
from tests.helpers import b64url, hs256_by_hand, jwks_bytes, public_jwk

ISSUER, AUDIENCE = "https://idp.example", "svom-caldb"


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def new_key():
    """The provider's next key (rotation)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def claims(*, lifetime=300, not_before=None, **changes):
    """Provider claims (an uploader, valid ``lifetime`` s from now); None leaves one out."""
    now = int(time.time())
    values = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ext-user", "iat": now}
    values |= {"exp": now + lifetime, "jti": uuid.uuid4().hex, "roles": ["uploader"]}
    if not_before is not None:
        values["nbf"] = now + not_before
    return {k: v for k, v in (values | changes).items() if v is not None}


def sign(key, kid="k1", **changes):
    """A provider token signed with ``key`` (RS256 or ES256 by its type)."""
    alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(**changes), key, algorithm=alg, headers=headers)


def replace_file(path, content):
    """Write ``path`` as a rotation tool would: a new file moved into place."""
    temporary = path.with_suffix(".new")
    temporary.write_bytes(content)
    temporary.replace(path)
    return path


def verify(keys, token, roles_claim="roles"):
    issuer = ExternalIssuer(ISSUER, AUDIENCE, keys, roles_claim)
    return issuer.verify(token, jwt.get_unverified_header(token))


@pytest.fixture
def jwks_file(tmp_path, rsa_key, ec_key):
    return replace_file(tmp_path / "jwks.json", jwks_bytes({"k1": rsa_key, "k2": ec_key}))


@pytest.fixture
def verifier(jwks_file):
    return TokenVerifier(
        SECRET, "svom-caldb", ExternalIssuer(ISSUER, AUDIENCE, KeySet(str(jwks_file)))
    )


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self):
        return self.now


@dataclass
class Provider:
    """The state of the local identity provider: its document, whether it is up, GETs seen."""

    document: bytes = b""
    up: bool = True
    gets: int = 0
    url: str = ""

    def publish(self, keys):
        self.document = jwks_bytes(keys)


@pytest.fixture
def provider():
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.gets += 1
            status, body = (200, state.document) if state.up else (503, b"down for maintenance")
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/jwks.json"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("kid", ["k1", "k2"], ids=["RS256", "ES256"])
def test_provider_tokens_are_accepted_with_their_roles(jwks_file, rsa_key, ec_key, kid):
    key = {"k1": rsa_key, "k2": ec_key}[kid]
    token = sign(key, kid, jti="abc-1", roles=["uploader"], not_before=0)  # no leeway needed
    principal = verify(KeySet(str(jwks_file)), token)
    assert (principal.subject, principal.roles) == ("ext-user", frozenset({"uploader"}))
    assert (principal.source, principal.token_id) == (ISSUER, "abc-1")
    assert principal.has_role("reader")
    assert not principal.has_role("admin")
    assert abs(principal.expires_at.timestamp() - time.time() - 300) < 5


ROLE_CLAIMS = {  # roles claim setting, token claims, the CalDB roles they give
    "list": ("roles", {"roles": ["admin"]}, {"admin"}),
    "dotted path": ("realm_access.roles", {"realm_access": {"roles": ["reader", "x"]}}, {"reader"}),
    "space separated": ("roles", {"roles": "reader uploader openid"}, {"reader", "uploader"}),
    "other services only": ("roles", {"roles": ["grafana-admin", "ADMIN", "s3:uploader"]}, set()),
    "absent": ("roles", {"roles": None}, set()),
    "path absent": ("realm_access.roles", {"roles": ["admin"]}, set()),  # no fallback
}


@pytest.mark.parametrize("case", ROLE_CLAIMS)
def test_roles_come_from_the_roles_claim(jwks_file, rsa_key, case):
    roles_claim, changes, roles = ROLE_CLAIMS[case]
    principal = verify(KeySet(str(jwks_file)), sign(rsa_key, **changes), roles_claim)
    assert principal.roles == frozenset(roles)
    assert principal.has_role("reader") == bool(roles)


REFUSED_CLAIMS = {  # claim changes, the reason given
    "wrong aud": ({"aud": "another-service"}, "audience"),
    "wrong iss": ({"iss": "https://evil.example"}, "issued by someone else"),
    "expired 1 s": ({"lifetime": -1}, "expired"),
    "nbf future": ({"not_before": 5}, "not valid yet"),
    "no exp": ({"exp": None}, "lacks the 'exp' claim"),
    "no iat": ({"iat": None}, "lacks the 'iat' claim"),
    "no sub": ({"sub": None}, "lacks the 'sub' claim"),
    "no aud": ({"aud": None}, "lacks the 'aud' claim"),
    "no iss": ({"iss": None}, "lacks the 'iss' claim"),
    "long sub": ({"sub": "x" * 201}, "subject"),
}


@pytest.mark.parametrize("case", REFUSED_CLAIMS)
def test_unacceptable_claims_are_refused_with_a_reason(jwks_file, rsa_key, case):
    changes, message = REFUSED_CLAIMS[case]
    with pytest.raises(TokenError, match=message):
        verify(KeySet(str(jwks_file)), sign(rsa_key, **changes))


WRONG_KEYS = {  # the kid a token names, the key that signs it, the reason given
    "unknown kid": ("k9", "new", "does not publish"),
    "known kid, other key": ("k1", "new", "signature is wrong"),
    "ES256 naming the RSA key": ("k1", "ec", "algorithm does not match"),
    "RS256 naming the EC key": ("k2", "rsa", "algorithm does not match"),
    "no kid, two keys": (None, "rsa", "names no key"),
}


@pytest.mark.parametrize("case", WRONG_KEYS)
def test_the_key_must_be_published_and_match_the_algorithm(
    jwks_file, rsa_key, ec_key, new_key, case
):
    kid, key_name, message = WRONG_KEYS[case]
    key = {"rsa": rsa_key, "ec": ec_key, "new": new_key}[key_name]
    with pytest.raises(TokenError, match=message):
        verify(KeySet(str(jwks_file)), sign(key, kid))


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


def test_the_verifier_refuses_alg_none(verifier):
    token = jwt.encode(claims(roles=["admin"]), None, algorithm="none")
    with pytest.raises(TokenError, match="algorithm is not one of HS256, RS256, ES256"):
        verifier.verify(token)


def public_key_forms(rsa_key):
    """What anyone can read of the provider's RSA key, as an attacker's HMAC secret."""
    public, pem, jwk = rsa_key.public_key(), serialization.Encoding.PEM, public_jwk(rsa_key, "k1")
    return {
        "SPKI PEM": public.public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        "PKCS1 PEM": public.public_bytes(pem, serialization.PublicFormat.PKCS1),
        "JWK": json.dumps(jwk).encode(),
        "JWKS": json.dumps({"keys": [jwk]}).encode(),
    }


@pytest.mark.parametrize("form", ["SPKI PEM", "PKCS1 PEM", "JWK", "JWKS"])
def test_hs256_signed_with_the_public_key_is_refused(verifier, rsa_key, form):
    admin = claims(roles=["admin"], not_before=0)
    for issuer in (ISSUER, "svom-caldb"):
        token = hs256_by_hand(admin | {"iss": issuer}, public_key_forms(rsa_key)[form], "k1")
        with pytest.raises(TokenError, match="signature is wrong"):
            verifier.verify(token)
    # The hand-made token signed with the CalDB's secret is accepted: the refusal is the key's.
    own = hs256_by_hand(
        claims(roles=["admin"], iss="svom-caldb", aud=None, not_before=0), SECRET.encode()
    )
    assert verifier.verify(own).roles == frozenset({"admin"})


def test_tokens_longer_than_the_limit_are_refused(verifier, rsa_key):
    short = sign(rsa_key, pad="")
    room = MAX_TOKEN_LENGTH - len(short)
    fits = sign(rsa_key, pad="a" * (room * 3 // 4 - 4))
    assert len(fits) <= MAX_TOKEN_LENGTH
    assert verifier.verify(fits).subject == "ext-user"
    too_long = sign(rsa_key, pad="a" * (room * 3 // 4 + 8))
    assert len(too_long) > MAX_TOKEN_LENGTH
    with pytest.raises(TokenError, match=f"longer than {MAX_TOKEN_LENGTH}"):
        verifier.verify(too_long)


def test_provider_tokens_are_refused_without_a_provider(rsa_key, ec_key):
    own = TokenVerifier(SECRET, "svom-caldb")
    for token in (sign(rsa_key, "k1"), sign(ec_key, "k2")):
        with pytest.raises(TokenError, match=r"algorithm is not one of HS256$"):
            own.verify(token)


def _settings(tmp_path, **oidc):
    overrides = {"SECRET_KEY": SECRET, "INSTANCE_PATH": tmp_path / "instance"} | oidc
    return load_settings(overrides, environ={})


def _oidc(jwks):
    return {"OIDC_ISSUER": ISSUER, "OIDC_AUDIENCE": AUDIENCE, "OIDC_JWKS": str(jwks)}


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        (["OIDC_ISSUER"], ["CALDB_OIDC_AUDIENCE", "CALDB_OIDC_JWKS"]),
        (["OIDC_ISSUER", "OIDC_AUDIENCE"], ["CALDB_OIDC_JWKS"]),
        (["OIDC_JWKS"], ["CALDB_OIDC_ISSUER", "CALDB_OIDC_AUDIENCE"]),
    ],
)
def test_partial_oidc_settings_name_what_is_missing(tmp_path, jwks_file, given, missing):
    with pytest.raises(ConfigError) as raised:
        _settings(tmp_path, **{name: _oidc(jwks_file)[name] for name in given})
    for name in ["CALDB_OIDC_ISSUER", "CALDB_OIDC_AUDIENCE", "CALDB_OIDC_JWKS"]:
        assert (name in str(raised.value)) == (name in missing)


def test_a_jwks_path_that_does_not_exist_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="CALDB_OIDC_JWKS names no file"):
        _settings(tmp_path, **_oidc(tmp_path / "no.json"))


def test_complete_oidc_settings_build_a_verifier_for_the_provider(tmp_path, jwks_file, rsa_key):
    settings = _settings(tmp_path, **_oidc(jwks_file), OIDC_ROLES_CLAIM="realm_access.roles")
    assert _settings(tmp_path).oidc is None
    verifier = build_verifier(settings)
    token = sign(rsa_key, "k1", realm_access={"roles": ["admin"]}, roles=None)
    assert verifier.verify(token).roles == frozenset({"admin"})
