"""Tokens of an external identity provider, and the verifier that dispatches every token.

Unit tests of :mod:`caldb_server.auth.external` and :mod:`caldb_server.auth.verification`,
without a server or a database. Keys are generated here; a JWKS URL is served by a real
local HTTP server whose document the tests change; time is a fake clock given to KeySet.
"""

import time

import jwt
import pytest

from caldb_server.auth.external import (
    KeySet,
)
from caldb_server.auth.tokens import TokenError
from caldb_server.auth.verification import MAX_TOKEN_LENGTH, TokenVerifier, build_verifier
from caldb_server.config import ConfigError, load_settings
from tests.conftest import SECRET
from tests.helpers import hs256_by_hand
from tests.server.idp import AUDIENCE, ISSUER, claims, public_key_forms, sign, verify


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


def test_the_verifier_refuses_alg_none(verifier):
    token = jwt.encode(claims(roles=["admin"]), None, algorithm="none")
    with pytest.raises(TokenError, match="algorithm is not one of HS256, RS256, ES256"):
        verifier.verify(token)


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
