"""The command lines of the documentation: what a reader would type, found in the Markdown.

A code block is an indented block or a fence that is unlabelled or labelled as a shell
(``sh``, ``bash``, ``shell``, ``console``, ``zsh``: the shell that runs it); JSON, Python or
YAML fences are samples, not commands. In a block, a line ending with ``\\`` continues on
the next one, ``#`` starts a comment outside quotes, and ``$ `` is a prompt. Whether a line
is a command line is decided by its first word: one of our commands or a shell tool
(``COMMANDS``), or a shell variable assignment; FITS cards and formulas start otherwise,
and a line drawn with box-drawing characters or arrows is a diagram even when it starts
with a command's name.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
# The shell of each fence label (an indented block is bash).
SHELLS = {
    "": "bash",
    "sh": "bash",
    "bash": "bash",
    "shell": "bash",
    "console": "bash",
    "zsh": "zsh",
}
# First words of command lines: our commands, then the shell tools the docs use.
COMMANDS = frozenset(
    {
        "caldbio", "caldb-server", "pipeline-bricks", "mxt-simulate", "quzcif",
        "make", "pip", "python", "python3", "gunicorn", "alembic",
        "pytest", "ruff", "mypy", "lint-imports", "coverage",
        "register-python-argcomplete", "activate-global-python-argcomplete",
        "curl", "jq", "psql", "fitsverify", "fitscopy", "git",
        "export", "eval", "source", ".", "cd", "autoload",
        "printf", "echo", "cat", "ls", "mkdir", "cp",
        # docs/operations.md: a host's installation, as root
        "apt-get", "useradd", "usermod", "install", "runuser", "set", "systemctl", "rsync",
    }
)  # fmt: skip
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
# A whole line that only sets shell state: later lines of its block rely on it.
STATE_LINE = re.compile(
    r"(export|source|eval|cd|autoload|\.)\s.*|[A-Za-z_][A-Za-z0-9_]*=(\S*|\$\(.*\))"
)
PROMPT = "$ "
DRAWING = re.compile("[\u2190-\u21ff\u2500-\u27ff]")  # arrows, boxes, shapes


@dataclass(frozen=True)
class CommandLine:
    """One command line of the docs (continuations joined, comment removed)."""

    document: str  # path relative to the repository
    line: int  # 1-based number of its first physical line
    block: int  # code block it belongs to, numbered from 0 in its document
    text: str
    shell: str = "bash"  # the shell its block is written for

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"

    @property
    def sets_state(self) -> bool:
        """An ``export``, an assignment: what the following lines of its block rely on."""
        return STATE_LINE.fullmatch(self.text) is not None


@dataclass(frozen=True)
class CodeLine:
    """One logical line of a shell code block, command or not."""

    document: str
    line: int
    block: int
    text: str
    shell: str


def documents(root: Path = ROOT) -> list[Path]:
    """README.md and docs/*.md."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def code_lines(path: Path, root: Path = ROOT) -> Iterator[CodeLine]:
    """Every logical line of the shell code blocks of one Markdown file."""
    name = path.relative_to(root).as_posix()
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    blocks = [t for t in tokens if t.type in ("code_block", "fence") and t.map is not None]
    for number, token in enumerate(blocks):
        shell = SHELLS.get(token.info.strip().lower()) if token.type == "fence" else "bash"
        if shell is None:
            continue
        assert token.map is not None
        first = token.map[0] + (1 if token.type == "fence" else 0)
        prompted = token.info.strip().lower() == "console"
        for offset, text in logical_lines(token.content.splitlines(), prompted):
            yield CodeLine(name, first + offset + 1, number, text, shell)


def logical_lines(physical: list[str], prompted: bool = False) -> Iterator[tuple[int, str]]:
    """(offset of the first physical line, text) with continuations joined, comments gone.

    ``prompted``: a console transcript, where only lines after a ``$ `` prompt are typed
    (the others are what the commands printed).
    """
    start = 0
    parts: list[str] = []  # the physical lines of a logical line so far
    for offset, raw in enumerate(physical):
        text = raw.strip()
        if not parts:
            if prompted and not text.startswith(PROMPT):
                continue
            start, text = offset, text.removeprefix(PROMPT)
        if text.endswith("\\"):
            parts.append(text[:-1].strip())
            continue
        joined = strip_comment(" ".join([*parts, text])).strip()
        parts = []
        if joined:
            yield start, joined
    if parts:  # a last line that promised a continuation
        yield start, strip_comment(" ".join(parts)).strip()


def strip_comment(text: str) -> str:
    """The line without its ``#`` comment (a ``#`` inside quotes or a word is kept)."""
    quote = ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            return text[:index].rstrip()
    return text


def first_word(text: str) -> str:
    """The first shell word (quotes removed when the line parses as shell)."""
    try:
        words = shlex.split(text)
    except ValueError:  # unbalanced quotes: not a shell line anyway
        words = text.split()
    return words[0] if words else ""


def is_command(text: str) -> bool:
    """A command line: it starts with a known command or a shell variable assignment."""
    if DRAWING.search(text):
        return False
    word = first_word(text)
    return ASSIGNMENT.match(word) is not None or word.rsplit("/", 1)[-1] in COMMANDS


def command_lines(root: Path = ROOT) -> list[CommandLine]:
    """Every command line of README.md and docs/*.md, in document order."""
    return [
        CommandLine(code.document, code.line, code.block, code.text, code.shell)
        for path in documents(root)
        for code in code_lines(path, root)
        if is_command(code.text)
    ]


def other_lines(root: Path = ROOT) -> list[CodeLine]:
    """The lines of shell code blocks that are not command lines (cards, formulas...)."""
    return [
        code
        for path in documents(root)
        for code in code_lines(path, root)
        if not is_command(code.text)
    ]
