"""One entry point for every bearer token: the CalDB's own, or the identity provider's.

The token's header names its algorithm; the verifier picks the only key that algorithm
may use: HS256 with the CalDB secret, RS256/ES256 with the provider's published keys. No
other algorithm (``none`` included) is accepted, and a token cannot choose its verifier
by lying about its algorithm, because each verifier pins its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from caldb_server.auth.external import EXTERNAL_ALGORITHMS, ExternalIssuer, KeySet
from caldb_server.auth.tokens import ALGORITHM, Principal, TokenError, verify_token
from caldb_server.config import Settings

__all__ = ["MAX_TOKEN_LENGTH", "TokenVerifier", "build_verifier"]

MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True)
class TokenVerifier:
    """Verifies bearer tokens for one server process (it caches the provider's keys)."""

    secret: str
    issuer: str
    external: ExternalIssuer | None = None

    def verify(self, token: str) -> Principal:
        """The principal of ``token``.

        Raises
        ------
        TokenError
            If the token is not acceptable; the message says why.
        caldb_server.auth.external.KeySetUnavailable
            If an external token cannot be checked because the provider's keys are unreachable.
        """
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError(f"the token is longer than {MAX_TOKEN_LENGTH} characters")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenError("the token is malformed") from None
        algorithm = header.get("alg")
        if algorithm == ALGORITHM:
            return verify_token(token, self.secret, issuer=self.issuer)
        if self.external is not None and algorithm in EXTERNAL_ALGORITHMS:
            return self.external.verify(token, header)
        accepted = [ALGORITHM, *(EXTERNAL_ALGORITHMS if self.external else ())]
        raise TokenError(f"the token's signing algorithm is not one of {', '.join(accepted)}")


def build_verifier(settings: Settings) -> TokenVerifier:
    """The verifier the settings describe (with the identity provider when configured)."""
    external = None
    if settings.oidc is not None:
        external = ExternalIssuer(
            issuer=settings.oidc.issuer,
            audience=settings.oidc.audience,
            keys=KeySet(settings.oidc.jwks),
            roles_claim=settings.oidc.roles_claim,
        )
    return TokenVerifier(settings.secret_key, settings.token_issuer, external)
