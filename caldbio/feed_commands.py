"""``caldbio impact`` and ``caldbio watch``: the operator's loop after a calibration change.

``watch`` follows the change feed and runs a command once per change, with the change as
JSON on its standard input, in sequence order. It handles a change at least once: the
number of the last change whose command succeeded is kept in ``--state`` (written after
the command), so a restarted watcher goes on from there; a command that fails stops the
watcher (exit code: the command's) before that change is counted as handled.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caldb_common.atomic import write_text_atomically
from caldbio import display
from caldbio.errors import ServerError, TransportError

if TYPE_CHECKING:
    from caldbio.client import CaDBIO

__all__ = ["impact_command", "impact_text", "watch_command"]

PAGE = 100


def impact_text(answer: dict[str, Any]) -> str:
    """The affected runs as a table, then one line of totals."""
    rows = [
        (
            item["observation"],
            item["brick"],
            f"{item['instrument']} {item['codename']}",
            item["reason"],
            f"{item['old']['cal_file']}[{item['old']['cal_xno']}]",
            f"{item['new']['cal_file']}[{item['new']['cal_xno']}]" if item["new"] else "(none)",
            f"{item['change']['seq']} {item['change']['kind']}",
        )
        for item in answer["affected"]
    ]
    header = ("observation", "brick", "codename", "reason", "used", "now", "change")
    lines = [display.table(rows, header)] if rows else []
    total = (
        f"{len(answer['observations'])} observation(s) to reprocess after "
        f"{answer['changes']} change(s) since {answer['since']} (latest {answer['until']})"
    )
    if answer["truncated"]:
        total += f"; only the first {len(answer['affected'])} runs are listed"
    return "\n".join([*lines, total])


def impact_command(client: CaDBIO, args: argparse.Namespace) -> int:
    """``caldbio impact``."""
    answer = client.impact(
        args.since, instrument=args.instrument, codenames=args.codename or (), limit=args.limit
    )
    print(display.to_json(answer) if args.json else impact_text(answer))
    return 0


def _start(client: CaDBIO, args: argparse.Namespace, state: Path | None) -> int:
    """Where to start: ``--since``, else the state file, else the feed's latest (new only)."""
    if args.since is not None:
        return int(args.since)
    if state is not None and state.is_file():
        return int(state.read_text(encoding="utf-8").strip())
    return int(client.changes(0, limit=1)["latest"])


def _run(command: list[str], change: dict[str, Any]) -> int:
    # The operator's own command, given on the command line (never from the feed).
    return subprocess.run(  # noqa: S603
        command, input=json.dumps(change), text=True, check=False
    ).returncode


def watch_command(client: CaDBIO, args: argparse.Namespace) -> int:
    """``caldbio watch``: run the command for each change; see the module docstring."""
    command = args.exec[1:] if args.exec[:1] == ["--"] else list(args.exec)
    if not command:
        print("caldbio: watch needs a command to run, after --", file=sys.stderr)
        return 2
    state = Path(args.state) if args.state else None
    cursor = _start(client, args, state)
    if state is not None:  # a restart goes on from here, even if nothing is handled now
        write_text_atomically(state, f"{cursor}\n")
    while True:
        try:
            page = client.changes(
                cursor, instrument=args.instrument, codenames=args.codename or (), limit=PAGE
            )
        except (TransportError, ServerError) as error:
            if args.once:
                raise
            print(f"caldbio: watch: {error.detail}; trying again", file=sys.stderr)
            time.sleep(args.interval)
            continue
        for change in page["changes"]:
            code = _run(command, change)
            if code != 0:
                print(
                    f"caldbio: watch: the command failed on change {change['seq']}", file=sys.stderr
                )
                return code
            cursor = int(change["seq"])
            if state is not None:
                write_text_atomically(state, f"{cursor}\n")
        if page["more"]:
            continue
        if args.once:
            return 0
        time.sleep(args.interval)
