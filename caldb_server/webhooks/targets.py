"""Where a webhook may be sent: http(s) URLs of public addresses only (no SSRF).

A subscriber must not make the server reach what only the server can reach: its own
loopback services, the private network, the cloud metadata address (link-local), and so
on. The URL's host is resolved when the subscription is made (to refuse early) and again
at every delivery, and the connection is made to the very address that was checked
(:mod:`caldb_server.webhooks.sender`): a name that resolves to a public address when
checked and to 127.0.0.1 a moment later (DNS rebinding) cannot slip through. Redirects are
never followed. ``CALDB_WEBHOOK_ALLOW_PRIVATE=true`` lifts the address rule (tests, a
receiver on the same private network).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from caldb_server.webhooks.models import URL_LENGTH

__all__ = ["Target", "TargetRefused", "parse_target", "resolve_target"]


class TargetRefused(ValueError):
    """A URL the server will not send to, with the reason."""


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart: scheme, host, port, path with query."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the name, and the port when not the scheme's default."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse_target(url: str) -> Target:
    """Check a webhook URL's form (not its address).

    Raises
    ------
    TargetRefused
        Unless it is an absolute http(s) URL with a host, without user name or password
        (they would be stored and logged with it) or fragment, of at most 2000 characters.
    """
    if len(url) > URL_LENGTH or any(c.isspace() or not c.isprintable() for c in url):
        raise TargetRefused(f"must be a URL of at most {URL_LENGTH} printable characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("must be an http:// or https:// URL")
    if not parts.hostname:
        raise TargetRefused("must name a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("must not hold a user name or password")
    if parts.fragment:
        raise TargetRefused("must not have a #fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, path)


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # The most telling name first: 169.254/16 and 0.0.0.0 are "private" to ipaddress too.
    for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    if not address.is_global:  # shared address space (100.64/10) and other special ranges
        return "not global"
    return None


def resolve_target(target: Target, *, allow_private: bool) -> str:
    """The address to connect to: the first the host resolves to, all of them checked.

    Raises
    ------
    TargetRefused
        If the host does not resolve, or any of its addresses is loopback, private,
        link-local, multicast, reserved or otherwise not global (unless ``allow_private``).
    """
    try:
        found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise TargetRefused(f"its host {target.host!r} does not resolve ({error})") from None
    addresses = [ipaddress.ip_address(str(item[4][0]).partition("%")[0]) for item in found]
    if not addresses:
        raise TargetRefused(f"its host {target.host!r} has no address")
    if not allow_private:
        for address in addresses:
            if (kind := _refusal(address)) is not None:
                raise TargetRefused(
                    f"its host {target.host!r} resolves to a {kind} address ({address}); "
                    "only public addresses unless CALDB_WEBHOOK_ALLOW_PRIVATE=true"
                )
    return str(addresses[0])
