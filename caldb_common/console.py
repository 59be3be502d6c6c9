"""How the project's command lines end on a failure: one sentence on stderr and an exit code.

``caldbio``, ``pipeline-bricks``, ``mxt-simulate`` and the missing-extra answer of
:mod:`caldb_common.extras` all print a refusal the same way: ``<prefix>: <sentence>``
(``error:`` unless the command names itself, as ``caldbio:`` does), further lines of the
message (a server's per-field findings) as they are, never a traceback. Each command keeps
its own table of exit codes (they differ between commands); :func:`exit_code_for` reads
any of them. :func:`help_summary` turns a module's docstring into the plain sentence its
``--help`` shows.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import TypeVar

__all__ = ["exit_code_for", "help_summary", "report_failure"]

E = TypeVar("E", bound=BaseException)
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")  # :func:`x`, :mod:`~a.b`
_LITERAL = re.compile(r"``([^`]+)``")


def report_failure(message: object, code: int, *, prefix: str = "error") -> int:
    """Print ``<prefix>: <message>`` on stderr and return ``code``.

    Returning the code lets a command's ``main`` end with ``return report_failure(...)``.
    """
    print(f"{prefix}: {message}", file=sys.stderr)
    return code


def exit_code_for(error: BaseException, codes: Mapping[type[E], int], default: int = 1) -> int:
    """The code of the first kind in ``codes`` that ``error`` is, else ``default``."""
    return next((code for kind, code in codes.items() if isinstance(error, kind)), default)


def help_summary(docstring: str | None) -> str:
    """The first paragraph of ``docstring`` as plain text, for a ``--help`` description.

    Docstrings are reStructuredText; a terminal is not: literals lose their double
    backticks and roles such as ``:func:`x``` become ``x``.
    """
    first = (docstring or "").strip().split("\n\n")[0]
    return " ".join(_LITERAL.sub(r"\1", _ROLE.sub(r"\1", first)).split())
