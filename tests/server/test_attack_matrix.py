"""The attack matrix of the authentication issue, against a running server, on both backends.

The server trusts its own HS256 tokens and those of an external identity provider
(``https://idp.example``: an RSA key ``k1`` and an EC key ``k2`` in a JWKS file). Each case
sends one request over real HTTP and checks the status, the ``WWW-Authenticate``
challenge, the problem+json body, and that neither the answer nor the logs carry a
traceback, the token, the password or the server secret. Then the built-in issuer end to
end: users, login, upload, quality change, audit, disabling.
"""

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from caldb_server.db import utcnow
from caldb_server.users.service import create_user
from caldb_server.web import extension
from tests.conftest import SECRET
from tests.helpers import MXT_GAIN, b64url, bearer, calfile_bytes, hs256_by_hand, jwks_bytes

IDP, AUDIENCE, OWN_ISSUER = "https://idp.example", "svom-caldb", "svom-caldb"
UPLOAD = "/api/v1/files"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def idp_keys():
    return {
        "k1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "k2": ec.generate_private_key(ec.SECP256R1()),
    }


@pytest.fixture
def idp(app_config, tmp_path, idp_keys):
    """The provider's keys, configured before the app is built."""
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks_bytes(idp_keys))
    app_config.update(OIDC_ISSUER=IDP, OIDC_AUDIENCE=AUDIENCE, OIDC_JWKS=str(path))
    return idp_keys


@pytest.fixture
def server(idp, live_server):
    return live_server


@dataclass
class Kit:
    """What a client, honest or not, builds its requests with."""

    base: str
    keys: dict[str, Any]

    def call(self, method, path, token=None, **kwargs):
        headers = bearer(token) if token else {}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def builtin(self, *roles, lifetime=3600, not_before=0, secret=SECRET, **changes):
        now = int(time.time())
        claims = {"iss": OWN_ISSUER, "sub": "mallory", "roles": list(roles) or ["reader"]}
        claims |= {"iat": now, "nbf": now + not_before, "exp": now + lifetime}
        claims = {"jti": uuid.uuid4().hex, **claims, **changes}
        return jwt.encode(claims, secret, algorithm="HS256")

    def external(self, *roles, kid="k1", lifetime=300, not_before=0, key=None, **changes):
        now = int(time.time())
        claims = {"iss": IDP, "aud": AUDIENCE, "sub": "ext-user", "roles": list(roles)}
        claims |= {"iat": now, "nbf": now + not_before, "exp": now + lifetime}
        claims |= {"jti": uuid.uuid4().hex, **changes}
        key = key or self.keys[kid]
        algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})

    def revoked(self, token):
        assert self.call("GET", "/api/v1/auth/whoami", token).status_code == 200
        jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        admin = self.builtin("admin", sub="root")
        assert self.call("DELETE", f"/api/v1/auth/tokens/{jti}", admin).status_code == 204
        return token


def tampered(token):
    """The token with ``roles: ["admin"]`` in its payload, the signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    return ".".join([header, b64url(json.dumps(claims | {"roles": ["admin"]}).encode()), signature])


def confused(kit):
    """HS256 signed with the provider's published RSA key as the HMAC secret."""
    public = (
        kit.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    now = int(time.time())
    claims = {"iss": IDP, "aud": AUDIENCE, "sub": "eve", "roles": ["admin"], "jti": "x"}
    return hs256_by_hand(claims | {"iat": now, "nbf": now, "exp": now + 60}, public, "k1")


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # "{token}" in it: the token goes in the URL, not in a header
    token: Callable[[Kit], str | None]
    status: int
    error: str | None = None  # the error= of the WWW-Authenticate challenge (401 only)
    detail: str = ""  # a phrase of the problem detail
    json: dict[str, Any] | None = None  # a JSON body; uploads send a FITS file
    answer: dict[str, Any] | None = None  # fields the JSON answer must have


INVALID = "invalid_token"
USERS, WHOAMI, TOKENS = "/api/v1/users", "/api/v1/auth/whoami", "/api/v1/auth/tokens"
LOGIN = {"username": "nobody", "password": PASSWORD}
CASES = {
    "upload without token": Case("POST", UPLOAD, lambda k: None, 401, INVALID, "needs a bearer"),
    "alg none": Case(
        "POST",
        UPLOAD,
        lambda k: jwt.encode({"sub": "eve", "roles": ["admin"]}, None, algorithm="none"),
        401,
        INVALID,
        "algorithm is not one of HS256, RS256, ES256",
    ),
    "HS256 with the RS256 public key": Case(
        "POST", UPLOAD, confused, 401, INVALID, "signature is wrong"
    ),
    "built-in expired 1 s": Case(
        "POST", UPLOAD, lambda k: k.builtin("uploader", lifetime=-1), 401, INVALID, "expired"
    ),
    "built-in nbf future": Case(
        "POST", UPLOAD, lambda k: k.builtin("uploader", not_before=60), 401, INVALID, "not valid"
    ),
    "external nbf future": Case(
        "GET", USERS, lambda k: k.external("admin", not_before=60), 401, INVALID, "not valid"
    ),
    "external wrong aud": Case(
        "POST", UPLOAD, lambda k: k.external("uploader", aud="archive"), 401, INVALID, "audience"
    ),
    "built-in wrong iss": Case(
        "POST", UPLOAD, lambda k: k.builtin("uploader", iss="other"), 401, INVALID, "someone else"
    ),
    "external wrong iss": Case(
        "POST",
        UPLOAD,
        lambda k: k.external("uploader", iss="https://evil.example"),
        401,
        INVALID,
        "someone else",
    ),
    "unknown kid": Case(
        "POST",
        UPLOAD,
        lambda k: k.external("uploader", kid="k9", key=rsa.generate_private_key(65537, 2048)),
        401,
        INVALID,
        "does not publish",
    ),
    "ES256 token naming the RSA kid": Case(
        "GET",
        USERS,
        lambda k: k.external("admin", kid="k1", key=k.keys["k2"]),
        401,
        INVALID,
        "does not match",
    ),
    "built-in payload tampered": Case(
        "GET", USERS, lambda k: tampered(k.builtin("reader")), 401, INVALID, "signature is wrong"
    ),
    "external payload tampered": Case(
        "GET", USERS, lambda k: tampered(k.external("reader")), 401, INVALID, "signature is wrong"
    ),
    "external subject with a NUL": Case(
        "GET", USERS, lambda k: k.external("admin", sub="ev\x00e"), 401, INVALID, "subject"
    ),
    "external jti with a newline": Case(
        "GET", USERS, lambda k: k.external("admin", jti="a\nb"), 401, INVALID, "jti"
    ),
    "built-in subject with an escape": Case(
        "GET", WHOAMI, lambda k: k.builtin("reader", sub="\x1b[2Jroot"), 401, INVALID, "subject"
    ),
    "truncated": Case(
        "POST", UPLOAD, lambda k: k.builtin("uploader")[:-6], 401, INVALID, "malformed"
    ),
    "token in the query string": Case(
        "POST",
        UPLOAD + "?access_token={token}",
        lambda k: k.builtin("uploader"),
        401,
        INVALID,
        "URL",
    ),
    "reader uploading": Case(
        "POST", UPLOAD, lambda k: k.builtin("reader"), 403, None, "'uploader' role"
    ),
    "uploader changing a user": Case(
        "PATCH",
        USERS + "/mallory",
        lambda k: k.builtin("uploader"),
        403,
        None,
        "'admin' role",
        json={"role": "admin"},
    ),
    "uploader listing tokens": Case(
        "GET", TOKENS, lambda k: k.builtin("uploader"), 403, None, "'admin' role"
    ),
    "revoked built-in": Case(
        "POST", UPLOAD, lambda k: k.revoked(k.builtin("uploader")), 401, INVALID, "revoked"
    ),
    "revoked external": Case(
        "GET", USERS, lambda k: k.revoked(k.external("admin")), 401, INVALID, "revoked"
    ),
    "another CalDB's secret": Case(
        "POST",
        UPLOAD,
        lambda k: k.builtin("admin", secret="another-caldb-instance-secret-0123456789abcdef"),
        401,
        INVALID,
        "signature is wrong",
    ),
    "login of an unknown user": Case(
        "POST", "/api/v1/auth/token", lambda k: None, 401, None, "password", json=LOGIN
    ),
    "built-in uploader uploading": Case("POST", UPLOAD, lambda k: k.builtin("uploader"), 201),
    "external RS256 admin listing users": Case(
        "GET", USERS, lambda k: k.external("admin"), 200, answer={"users": []}
    ),
    "external ES256 admin listing users": Case(
        "GET", USERS, lambda k: k.external("admin", kid="k2"), 200, answer={"users": []}
    ),
    "external without CalDB role listing users": Case(
        "GET", USERS, lambda k: k.external("grafana-admin"), 403, None, "the token has []"
    ),
    "external without CalDB role asking who": Case(
        "GET",
        WHOAMI,
        lambda k: k.external("grafana-admin", "offline_access", sub="ext-nobody"),
        200,
        answer={"subject": "ext-nobody", "roles": [], "source": IDP},
    ),
}


def _send(kit, case, token):
    in_url = "{token}" in case.path
    path, header_token = case.path.format(token=token), None if in_url else token
    if not path.startswith(UPLOAD):
        return kit.call(case.method, path, header_token, json=case.json)
    files = {"file": ("mxt_gain.fits", calfile_bytes(MXT_GAIN), "application/fits")}
    return kit.call(case.method, path, header_token, files=files)


def _log_lines(caplog, in_url):
    # With the token in the URL, the HTTP client's and the test server's access logs show it:
    # that is why the server refuses such requests. The application's own logs must not.
    skipped = ("urllib3", "werkzeug") if in_url else ()
    return "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if not record.name.startswith(skipped)
    )


@pytest.mark.parametrize("name", CASES)
def test_attack_matrix(server, idp, caplog, name):
    caplog.set_level(logging.DEBUG)
    case, kit = CASES[name], Kit(server, idp)
    token = case.token(kit)
    response = _send(kit, case, token)
    assert response.status_code == case.status, response.text
    challenge = response.headers.get("WWW-Authenticate")
    if case.status == 401:  # the login endpoint's challenge has no error: no token was sent
        error = f', error="{case.error}"' if case.error else ""
        assert challenge == f'Bearer realm="caldb"{error}'
    else:
        assert challenge is None
    if case.status >= 400:
        assert response.headers["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == case.status
        assert case.detail in body["detail"]
    for key, value in (case.answer or {}).items():
        assert response.json()[key] == value
    logs = _log_lines(caplog, "{token}" in case.path)
    secrets = [SECRET, PASSWORD, *([token] if token else [])]
    for text in (response.text, logs):
        assert "Traceback" not in text
        assert not [secret for secret in secrets if secret in text]
    if case.path.startswith(UPLOAD) and case.status != 201:
        found = kit.call("GET", "/api/v1/search?instrument=MXT&codename=GAIN&date=-").json()
        assert found["nfound"] == 0


def test_built_in_issuer_end_to_end(app, live_server):
    kit = Kit(live_server, {})
    with extension(app).database.unit_of_work() as session:
        create_user(session, "root", "admin", PASSWORD, actor="install", now=utcnow())

    def login(name):
        return kit.call("POST", "/api/v1/auth/token", json={"username": name, "password": PASSWORD})

    answer = login("root")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    admin = answer.json()["access_token"]
    created = kit.call(
        "POST",
        "/api/v1/users",
        admin,
        json={"name": "ulysse", "role": "uploader", "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "root"
    uploader = login("ulysse").json()["access_token"]
    assert kit.call("GET", "/api/v1/auth/whoami", uploader).json()["roles"] == ["uploader"]

    files = {"file": ("mxt_gain.fits", calfile_bytes(MXT_GAIN), "application/fits")}
    uploaded = kit.call("POST", UPLOAD, uploader, files=files)
    assert uploaded.status_code == 201, uploaded.text
    dataset = f"/api/v1/datasets/{uploaded.json()['datasets'][0]['id']}"
    for token, quality in [(uploader, 5), (admin, 0)]:
        changed = kit.call("PATCH", dataset, token, json={"cal_qual": quality, "reason": "check"})
        assert changed.status_code == 200, changed.text
    document = kit.call("GET", dataset).json()
    assert document["uploaded_by"] == "ulysse"
    history = [(c["old_qual"], c["new_qual"], c["changed_by"]) for c in document["quality_history"]]
    assert history == [(0, 5, "ulysse"), (5, 0, "root")]

    disabled = kit.call("PATCH", "/api/v1/users/ulysse", admin, json={"disabled": True})
    assert disabled.status_code == 200, disabled.text
    assert (disabled.json()["disabled"], disabled.json()["updated_by"]) == (True, "root")
    refused = kit.call("GET", "/api/v1/auth/whoami", uploader)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert kit.call("POST", UPLOAD, uploader, files=files).status_code == 401
    again = login("ulysse")
    assert again.status_code == 401
    assert again.headers["WWW-Authenticate"] == 'Bearer realm="caldb"'
    assert again.json()["detail"] == login("nobody").json()["detail"]  # reveals nothing
    tokens = kit.call("GET", "/api/v1/auth/tokens?all=true&subject=ulysse", admin).json()["tokens"]
    assert [(t["revoked_by"], t["issued_by"]) for t in tokens] == [("root", "login")]
