"""Bearer tokens on write endpoints: 401 with a challenge, 403 without the role."""

from datetime import timedelta

import jwt
import pytest

from caldb_server.auth.tokens import Principal, TokenError, issue_token, verify_token
from caldb_server.db import utcnow
from tests.conftest import SECRET
from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, tree_files, upload

ISSUER = "svom-caldb"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def forged(**claims):
    now = utcnow()
    payload = {
        "iss": ISSUER,
        "sub": "eve",
        "roles": ["admin"],
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(hours=1),
        "jti": "x",
    } | claims
    return jwt.encode(
        {k: v for k, v in payload.items() if v is not None}, SECRET, algorithm="HS256"
    )


def _bad_headers(make_token):
    valid = make_token("uploader")
    header, payload, signature = valid.split(".")
    return {
        "no header": {},
        "not bearer": {"Authorization": f"Basic {valid}"},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": bearer("not.a.token"),
        "truncated": bearer(valid[:-10]),
        "tampered signature": bearer(f"{header}.{payload}.{signature[::-1]}"),
        "expired": bearer(make_token("uploader", lifetime=timedelta(seconds=-1))),
        "other secret": bearer(
            issue_token(
                "another-caldb-secret-0123456789-abcdef",
                subject="x",
                roles=["uploader"],
                issuer=ISSUER,
                now=utcnow(),
                lifetime=timedelta(hours=1),
            ).token
        ),
        "wrong issuer": bearer(forged(iss="someone-else")),
        "no exp": bearer(forged(exp=None)),
        "no sub": bearer(forged(sub=None)),
        "not yet valid": bearer(forged(nbf=utcnow() + timedelta(hours=1))),
        "alg none": bearer(jwt.encode({"sub": "eve", "roles": ["admin"]}, None, algorithm="none")),
    }


@pytest.mark.parametrize(
    "case",
    [
        "no header",
        "not bearer",
        "empty bearer",
        "garbage",
        "truncated",
        "tampered signature",
        "expired",
        "other secret",
        "wrong issuer",
        "no exp",
        "no sub",
        "not yet valid",
        "alg none",
    ],
)
def test_bad_credentials_get_401_with_a_bearer_challenge(client, app_config, make_token, case):
    response = upload(
        client, calfile_bytes(MXT_GAIN), "g.fits", headers=_bad_headers(make_token)[case]
    )
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert tree_files(app_config["ROOT"]) == []


def test_token_in_the_query_string_is_refused(client, make_token):
    token = make_token("uploader")
    response = client.post(f"/api/v1/files?access_token={token}", data={}, headers=bearer(token))
    body = assert_problem(response, 401)
    assert "URL" in body["detail"]


def test_reader_cannot_upload_or_change_quality(client, app_config, make_token, uploader):
    reader = bearer(make_token("reader"))
    assert_problem(upload(client, calfile_bytes(MXT_GAIN), "g.fits", headers=reader), 403)
    assert tree_files(app_config["ROOT"]) == []
    dataset = upload(client, calfile_bytes(MXT_GAIN), "g.fits", headers=uploader).get_json()[
        "datasets"
    ][0]
    response = client.patch(
        f"/api/v1/datasets/{dataset['id']}", json={"cal_qual": 5, "reason": "x"}, headers=reader
    )
    assert_problem(response, 403)


def test_admin_includes_uploader(client, make_token):
    response = upload(
        client, calfile_bytes(MXT_GAIN), "g.fits", headers=bearer(make_token("admin"))
    )
    assert response.status_code == 201


def test_reads_are_public(client):
    assert client.get("/api/v1/search?instrument=MXT&codename=GAIN").status_code == 200
    assert client.get("/api/v1/instruments").status_code == 200


def test_token_round_trip_and_roles():
    token = issue_token(
        SECRET,
        subject="carol",
        roles=["uploader"],
        issuer=ISSUER,
        now=utcnow(),
        lifetime=timedelta(minutes=5),
    ).token
    principal = verify_token(token, SECRET, issuer=ISSUER)
    assert principal.subject == "carol"
    assert principal.has_role("uploader")
    assert principal.has_role("reader")
    assert not principal.has_role("admin")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer=ISSUER)
    assert set(claims) == {"iss", "sub", "roles", "iat", "nbf", "exp", "jti"}


@pytest.mark.parametrize("roles", [[], ["root"], ["reader", "superuser"]])
def test_issuing_unknown_roles_is_refused(roles):
    with pytest.raises(TokenError):
        issue_token(
            SECRET,
            subject="x",
            roles=roles,
            issuer=ISSUER,
            now=utcnow(),
            lifetime=timedelta(minutes=1),
        )


def test_unknown_roles_in_a_token_grant_nothing():
    assert not Principal("x", frozenset({"root"}), "j").has_role("reader")


def test_roles_claim_must_be_a_list_of_names():
    with pytest.raises(TokenError, match="roles"):
        verify_token(forged(roles="admin"), SECRET, issuer=ISSUER)


def test_subjects_longer_than_the_audit_columns_are_refused():
    with pytest.raises(TokenError, match="subject"):
        issue_token(
            SECRET,
            subject="x" * 201,
            roles=["uploader"],
            issuer=ISSUER,
            now=utcnow(),
            lifetime=timedelta(minutes=1),
        )
    with pytest.raises(TokenError, match="subject"):
        verify_token(forged(sub="x" * 201), SECRET, issuer=ISSUER)
