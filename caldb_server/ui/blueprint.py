"""The blueprint of the web interface (its own module, so views and hooks can import it)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

__all__ = ["PAGE_POLICY", "STATIC_DIR", "blueprint"]

STATIC_DIR = Path(__file__).with_name("static")
# Pages load their own stylesheet, script and images (thumbnails as data: URIs), nothing else.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

# No static_folder: Flask's static view could not carry an access mark; views.static serves it.
blueprint = Blueprint("ui", __name__, template_folder="templates")
