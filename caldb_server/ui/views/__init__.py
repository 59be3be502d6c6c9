"""The pages of the web interface, one module per concern; importing this registers them."""

from caldb_server.ui.views import (
    account,
    admin_users,
    assets,
    curate,
    dataset,
    home,
    instruments,
    search,
    tokens,
    upload,
)

__all__ = [
    "account",
    "admin_users",
    "assets",
    "curate",
    "dataset",
    "home",
    "instruments",
    "search",
    "tokens",
    "upload",
]
