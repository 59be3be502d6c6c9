"""``caldb-server`` commands for people and tokens: create-user, create-token, revoke-token."""

from __future__ import annotations

import getpass
import sys
from datetime import timedelta

import click

from caldb_server.auth.models import JTI_LENGTH, TokenRecord
from caldb_server.auth.records import issue_recorded, revoke, valid_token_id
from caldb_server.auth.tokens import MAX_SUBJECT, MAX_TOKEN_DAYS, ROLES
from caldb_server.cli.common import actor_option, handles_errors, main, open_services
from caldb_server.db import utcnow
from caldb_server.users.passwords import MAX_PASSWORD
from caldb_server.users.service import create_user

__all__ = ["create_token", "create_user_command", "revoke_token"]


def _read_password() -> str:
    """From a prompt on a terminal (asked twice), else the first line of standard input."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline(MAX_PASSWORD + 2)
    return line.removesuffix("\n").removesuffix("\r")


@main.command("create-user")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@actor_option
@handles_errors
def create_user_command(name: str, role: str, actor: str) -> None:
    """Create the user NAME of the built-in token issuer (password from a prompt or stdin)."""
    password = _read_password()
    with open_services() as (_app, services), services.database.unit_of_work() as session:
        create_user(session, name, role, password, actor=actor, now=utcnow())
    click.echo(f"user {name} created with role {role}")


@main.command("create-token")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(ROLES),
    help="What the token allows (repeatable).",
)
@click.option(
    "--sub", "subject", default=None, help="Who the token is for (default: the current user)."
)
@click.option(
    "--days",
    default=None,
    type=click.IntRange(1, MAX_TOKEN_DAYS),
    help="Lifetime (default CALDB_TOKEN_DAYS).",
)
@actor_option
def create_token(roles: tuple[str, ...], subject: str | None, days: int | None, actor: str) -> None:
    """Print a signed bearer token alone on stdout (its id and expiry go to stderr).

    The token is recorded, so that it is listed and can be revoked like any other.
    """
    subject = subject or getpass.getuser()
    if not 0 < len(subject) <= MAX_SUBJECT:
        raise click.BadParameter(f"must have 1 to {MAX_SUBJECT} characters", param_hint="--sub")
    with open_services() as (_app, services), services.database.unit_of_work() as session:
        settings = services.settings
        signed = issue_recorded(
            session,
            secret=settings.secret_key,
            issuer=settings.token_issuer,
            subject=subject,
            roles=roles,
            lifetime=timedelta(days=days or settings.token_days),
            issued_by=actor,
            now=utcnow(),
        )
    click.echo(signed.token)
    click.echo(f"token id {signed.jti}, expires {signed.expires_at.isoformat()}", err=True)


@main.command("revoke-token")
@click.argument("jti")
@actor_option
@handles_errors
def revoke_token(jti: str, actor: str) -> None:
    """Revoke the token whose id is JTI; every server refuses it from its next request.

    A jti this CalDB never issued is recorded as revoked too (the identity provider's tokens
    are revoked that way), and the answer says so: a mistyped jti must not pass for done.
    """
    if not valid_token_id(jti):
        raise click.BadParameter(
            f"a token id has 1 to {JTI_LENGTH} printable ASCII characters", param_hint="JTI"
        )
    with open_services() as (_app, services), services.database.unit_of_work() as session:
        before = session.get(TokenRecord, jti)
        already = before is not None and before.revoked_at is not None
        record = revoke(session, jti, actor=actor, now=utcnow())
        external_accepted = services.settings.oidc is not None
    when = record.revoked_at.isoformat() if record.revoked_at else "?"
    if record.issued_at is not None:  # issued here: by create-token or a login
        if already:
            click.echo(f"token {jti} was already revoked at {when} by {record.revoked_by}")
        else:
            click.echo(f"token {jti} revoked at {when}")
        return
    done = f"already recorded as revoked at {when}" if already else "recorded as revoked"
    click.echo(f"jti {jti} was never issued here; {done} (external token)")
    if not external_accepted:
        click.echo(
            "note: no identity provider is configured (CALDB_OIDC_*), so this server accepts "
            "no token with that id anyway; check the jti ('GET /api/v1/auth/tokens' lists "
            "the tokens issued here)",
            err=True,
        )
