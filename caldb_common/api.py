"""Where the JSON API is: the one path both sides of the HTTP boundary agree on.

The server mounts its API blueprints under :data:`API_PREFIX` and the client builds its
request URLs from it; the client cannot import the server, so the prefix lives here.
"""

from __future__ import annotations

__all__ = ["API_PREFIX"]

API_PREFIX = "/api/v1"
