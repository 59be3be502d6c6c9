"""An onboard YAML file compared with its previous version, line by line.

A unified diff (``difflib``, 3 lines of context, the format of ``diff -u`` and of code
review tools), returned as tagged lines a template renders as a table: each line says
whether it was added, removed or kept, with its line number in the old and new file.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

__all__ = ["CONTEXT_LINES", "DiffLine", "compare_yaml"]

CONTEXT_LINES = 3
_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class DiffLine:
    """One line of the diff.

    ``kind`` is ``hunk`` (the start of a group of changes: ``text`` is its ``@@`` line,
    the line numbers where it starts), ``added``, ``removed`` or ``context``. ``text`` is
    the line without its end of line and without the diff's ``+``/``-``/space prefix.
    ``old_number``/``new_number`` are 1-based line numbers, None on the side a line is
    not in.
    """

    kind: str
    text: str
    old_number: int | None
    new_number: int | None


def compare_yaml(old_text: str, new_text: str) -> list[DiffLine]:
    """The unified diff of two texts as tagged lines; empty when their lines are equal.

    Line ends are not compared (a file that only gains a final newline has no diff).

    Parameters
    ----------
    old_text, new_text : str
        The previous and the new content of an onboard YAML file.

    Returns
    -------
    list of DiffLine
        Hunks in order, each a ``hunk`` line followed by its context, removed and added
        lines.
    """
    diff = difflib.unified_diff(
        old_text.splitlines(), new_text.splitlines(), n=CONTEXT_LINES, lineterm=""
    )
    lines: list[DiffLine] = []
    old_number = new_number = 0
    for line in diff:
        if line.startswith(("---", "+++")) and not lines:
            continue  # the two file header lines
        if hunk := _HUNK.match(line):
            old_number, new_number = int(hunk[1]), int(hunk[2])
            lines.append(DiffLine("hunk", line, old_number, new_number))
        elif line.startswith("+"):
            lines.append(DiffLine("added", line[1:], None, new_number))
            new_number += 1
        elif line.startswith("-"):
            lines.append(DiffLine("removed", line[1:], old_number, None))
            old_number += 1
        else:
            lines.append(DiffLine("context", line[1:], old_number, new_number))
            old_number += 1
            new_number += 1
    return lines
