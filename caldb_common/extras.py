"""Console scripts of the optional parts: one clear line when their extra is not installed.

A client-only install (``pip install svom-caldb``) has every console script, but the server
and the pipeline bricks need the third-party packages of their extra (``server``,
``pipeline``). Their entry points go through :func:`run_command`, which turns a missing
third-party module into one ``error:`` line naming the extra, and exit code 2. A missing
module of this project or of the standard library is a bug, and is raised as such.

It lives in the neutral package of the base install (``caldb_common``) so that the server's and the
bricks' entry points share it without importing each other.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from caldb_common.console import report_failure

__all__ = ["OWN_PACKAGES", "missing_third_party", "run_command"]

OWN_PACKAGES = frozenset({"caldb_server", "caldb_selection", "caldbio", "pipeline_bricks"})
EXIT_MISSING_EXTRA = 2


def missing_third_party(error: ModuleNotFoundError) -> str | None:
    """The top-level third-party module ``error`` is about, or None (ours, stdlib, unknown)."""
    if not error.name:
        return None
    top = error.name.partition(".")[0]
    if top in OWN_PACKAGES or top in sys.stdlib_module_names:
        return None
    return top


def run_command(target: str, command: str, extra: str) -> Any:
    """Import ``module:function`` and call it.

    A missing third-party module prints one line naming ``extra`` and exits 2.
    """
    module_name, _, function_name = target.partition(":")
    try:
        function: Callable[[], Any] = getattr(importlib.import_module(module_name), function_name)
        return function()
    except ModuleNotFoundError as error:
        missing = missing_third_party(error)
        if missing is None:
            raise
        sys.exit(
            report_failure(
                f"{command} needs the {extra} extra ({missing} is not installed): "
                f"pip install 'svom-caldb[{extra}]'",
                EXIT_MISSING_EXTRA,
            )
        )
