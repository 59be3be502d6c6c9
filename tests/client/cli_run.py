"""Run the ``caldbio`` command line in process, as the CLI tests do."""

from __future__ import annotations

import sys

from caldbio.cli import main


def caldbio(capsys, *args, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", _Lines(stdin))
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


class _Lines:
    def __init__(self, text):
        self.lines = text.splitlines(keepends=True)

    def isatty(self):
        return False

    def readline(self):
        return self.lines.pop(0) if self.lines else ""
