"""The arguments of the ``caldbio`` command: every option and positional, with its help.

Kept apart from :mod:`caldbio.cli` (what each command does) so that both read in one sitting.
Global options are accepted before and after the command name.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from caldbio import __version__
from caldbio.client import DEFAULT_MAXRET

__all__ = ["GLOBAL_DEFAULTS", "build_parser"]


def _selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("instrument", help="e.g. MXT, ECL, VT")
    parser.add_argument("codename", help="e.g. TELDEF, GAIN (any case)")
    parser.add_argument("--date", default="now", help="now, YYYY-MM-DD, ISO datetime or -")
    parser.add_argument("--time", default=None, help="hh:mm:ss when --date is a day")
    parser.add_argument("--detector", default="-", help="DETNAM (default: any)")
    parser.add_argument("--filter", default="-", help="FILTER (default: any)")
    parser.add_argument("--expr", default="-", help="boundary expression, e.g. energy.eq.1.5")
    parser.add_argument("--mission", default="SVOM", help="mission (default: SVOM)")
    parser.add_argument("--as-of", default=None, help="replay the answer given at this UTC time")
    parser.add_argument(
        "--maxret",
        type=int,
        default=DEFAULT_MAXRET,
        help=f"at most this many datasets ({DEFAULT_MAXRET})",
    )
    parser.add_argument(
        "--explain", action="store_true", help="also say why each other candidate was not chosen"
    )


GLOBAL_DEFAULTS: dict[str, Any] = {
    "url": None,
    "max_tries": 5,
    "cache_dir": None,
    "offline": False,
    "json": False,
}


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, before or after its name.

    On the sub-commands their default is ``SUPPRESS``, so that an option given before the
    command is not overwritten by the sub-command's default.
    """

    def default(name: str) -> Any:
        return argparse.SUPPRESS if suppress else GLOBAL_DEFAULTS[name]

    parser.add_argument(
        "--url",
        default=default("url"),
        help="CalDB URL (default: CALDB_URL, else http://127.0.0.1:5000)",
    )
    parser.add_argument(
        "--max-tries", type=int, default=default("max_tries"), help="attempts per request"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default("cache_dir"),
        help="cache directory (default: CALDBIO_CACHE, else ~/.cache/caldbio)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        default=default("offline"),
        help="answer from the synced copy",
    )
    parser.add_argument(
        "--json", action="store_true", default=default("json"), help="machine-readable output"
    )


QUZCIF_ARGUMENTS = {
    "mission": "e.g. SVOM",
    "instrument": "e.g. MXT",
    "detector": "DETNAM, or - for any",
    "filter": "FILTER, or - for any",
    "codename": "e.g. GAIN",
    "date": "YYYY-MM-DD, now, or - for any",
    "time": "hh:mm:ss, or - for any",
    "expr": "boundary expression, e.g. energy.eq.1.5, or - for none",
}


def _feed_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instrument", default=None, help="only this instrument's changes")
    parser.add_argument(
        "--codename", action="append", metavar="CODENAME", help="only these (repeat it)"
    )


def build_parser(description: str) -> argparse.ArgumentParser:
    """The ``caldbio`` parser: global options (before or after the command), commands."""
    parser = argparse.ArgumentParser(prog="caldbio", description=description)
    parser.add_argument("--version", action="version", version=f"caldbio {__version__}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="one of these; 'caldbio COMMAND --help' shows its options",
    )

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=summary, parents=[common])

    search = command("search", "find calibration datasets (quzcif rules)")
    _selection_options(search)
    search.add_argument("--download", type=Path, metavar="DIR", help="also download them here")
    get = command("get", "download the selected files; print their paths")
    _selection_options(get)
    get.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="download here (default: .)",
    )

    upload = command("upload", "upload calibration FITS files")
    upload.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a FITS file")
    upload.add_argument("--supersede", action="store_true", help="replace duplicated datasets")
    onboard = command("upload-onboard", "upload onboard configuration YAML files")
    onboard.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="INST_CODE_<date>T<time>_VNN.yaml"
    )

    quzcif = command("quzcif", "HEASoft quzcif: prints 'path xno' lines")
    for name, meaning in QUZCIF_ARGUMENTS.items():
        quzcif.add_argument(name, help=meaning)
    quzcif.add_argument(
        "--maxret",
        type=int,
        default=DEFAULT_MAXRET,
        help=f"at most this many datasets ({DEFAULT_MAXRET})",
    )
    quzcif.add_argument("--retrieve", action="store_true", help="download into the current dir")
    quzcif.add_argument(
        "--explain",
        action="store_true",
        help="say on stderr why each other candidate was not chosen",
    )

    login = command("login", "exchange a password for a token and keep it")
    login.add_argument(
        "--username", default=getpass.getuser(), help="your CalDB user name (default: login name)"
    )
    sync = command("sync", "copy an instrument's catalogue for offline work")
    sync.add_argument("instrument", help="e.g. MXT, ECL, VT")
    sync.add_argument("codenames", nargs="*", metavar="CODENAME", help="only these (default: all)")
    sync.add_argument("--mission", default="SVOM", help="mission (default: SVOM)")
    sync.add_argument("--no-download", action="store_true", help="the catalogue only")
    command("info", "server, token, cache and offline copies")
    instruments = command("instruments", "instruments, their codenames and onboard codenames")
    instruments.add_argument("--mission", default=None, help="only this mission (default: all)")
    impact = command("impact", "observations to reprocess after the changes since N")
    impact.add_argument("--since", type=int, required=True, metavar="N", help="a feed number")
    _feed_filters(impact)
    impact.add_argument("--limit", type=int, default=None, help="at most this many runs")
    watch = command("watch", "run a command for each new change (the change as JSON on stdin)")
    watch.add_argument(
        "--since", type=int, default=None, metavar="N", help="start after N (default: --state)"
    )
    watch.add_argument("--state", metavar="FILE", help="keeps the last change handled")
    watch.add_argument(
        "--interval", type=float, default=10.0, help="seconds between polls (default: 10)"
    )
    watch.add_argument("--once", action="store_true", help="handle what is there, then stop")
    _feed_filters(watch)
    watch.add_argument(
        "exec",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND ...",
        help="run for each change, the change as JSON on its standard input",
    )
    usage = command("usage", "usage records waiting to be sent: list them, or send them now")
    usage.add_argument(
        "action", choices=["pending", "flush"], help="pending: list them; flush: send them"
    )
    return parser
