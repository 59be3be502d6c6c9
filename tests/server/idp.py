"""A fake identity provider for the token tests: keys, claims, signed tokens, a JWKS server.

The fixtures built on it (``rsa_key``, ``ec_key``, ``new_key``, ``jwks_file``, ``verifier``,
``provider``) are in ``tests/server/conftest.py``.
"""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from caldb_server.auth.external import ExternalIssuer
from tests.helpers import jwks_bytes, public_jwk

ISSUER, AUDIENCE = "https://idp.example", "svom-caldb"


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


def public_key_forms(rsa_key):
    """What anyone can read of the provider's RSA key, as an attacker's HMAC secret."""
    public, pem, jwk = rsa_key.public_key(), serialization.Encoding.PEM, public_jwk(rsa_key, "k1")
    return {
        "SPKI PEM": public.public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        "PKCS1 PEM": public.public_bytes(pem, serialization.PublicFormat.PKCS1),
        "JWK": json.dumps(jwk).encode(),
        "JWKS": json.dumps({"keys": [jwk]}).encode(),
    }


@contextmanager
def serving(state: Provider) -> Iterator[Provider]:
    """Serve ``state.document`` as a JWKS URL (503 while ``state.up`` is false)."""

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
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
