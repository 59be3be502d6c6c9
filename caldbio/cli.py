"""The ``caldbio`` command line: CaDBIO for people (tables) and scripts (``--json``).

Exit codes, one per kind of failure: 0 success, 1 unexpected error, 2 usage error (also a
missing file, a directory, or a file for the other upload command),
3 request refused (validation), 4 conflict, 5 not found (also a search naming a mission,
instrument or codename the CalDB does not know: the message lists the known ones),
6 authentication, 7 forbidden, 8 no answer (transport), 9 server error, 10 ``quzcif``
found nothing valid (``nfound`` 0, said on stderr; ``search`` then prints ``nfound=0`` and
exits 0).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from caldb_common.console import exit_code_for, help_summary, report_failure
from caldbio import display
from caldbio.arguments import build_parser
from caldbio.client import CaDBIO
from caldbio.errors import (
    AuthError,
    CaDBIOError,
    Conflict,
    Forbidden,
    NotFound,
    ServerError,
    TransportError,
    ValidationFailed,
)
from caldbio.feed_commands import impact_command, watch_command
from caldbio.offline import index_path
from caldbio.tokens import default_config_dir, save_token

__all__ = ["EXIT_CODES", "NOTHING_FOUND", "main"]

EXIT_CODES: dict[type[CaDBIOError], int] = {
    ValidationFailed: 3,
    Conflict: 4,
    NotFound: 5,
    AuthError: 6,
    Forbidden: 7,
    TransportError: 8,
    ServerError: 9,
}
NOTHING_FOUND = 10  # quzcif: known names, but no dataset valid at that date


def _parser() -> argparse.ArgumentParser:
    return build_parser(help_summary(__doc__))


def _search_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": args.date,
        "time": args.time,
        "detector": args.detector,
        "filter": args.filter,
        "expr": args.expr,
        "mission": args.mission,
        "as_of": args.as_of,
        "maxret": args.maxret,
    }


def _search(client: CaDBIO, args: argparse.Namespace) -> None:
    answer = client.search_answer(
        args.instrument, args.codename, explain=args.explain, **_search_kwargs(args)
    )
    if args.download:
        client.download_all(answer.results, args.download)
    display.show_datasets(answer, args.json)


def _get(client: CaDBIO, args: argparse.Namespace) -> None:
    results = client.search(
        args.instrument, args.codename, download_path=args.output, **_search_kwargs(args)
    )
    if not results:
        raise NotFound(f"no {args.codename.upper()} dataset of {args.instrument.upper()} matches")
    paths = sorted({str(d.local_path) for d in results})
    print(json.dumps(paths) if args.json else "\n".join(paths))


ONBOARD_SUFFIXES = (".yaml", ".yml")
FITS_SUFFIXES = (".fits", ".fit", ".fts")


class UsageError(Exception):
    """A command line that cannot be run as given (exit code 2), said in one sentence."""


def _check_files(command: str, paths: Sequence[Path]) -> None:
    """Refuse, before anything is sent, a file that is missing, a directory, or of the other kind.

    A YAML onboard file given to ``upload`` (or a FITS file to ``upload-onboard``) would be
    refused by the server with a parser's message; the user is told which command to use.
    """
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such file: {path}")
        if path.is_dir():
            raise UsageError(f"{path} is a directory")
        suffixes = [suffix.lower() for suffix in path.suffixes]
        if command == "upload" and suffixes[-1:] and suffixes[-1] in ONBOARD_SUFFIXES:
            raise UsageError(
                f"{path} is an onboard configuration file (YAML): "
                f"upload it with 'caldbio upload-onboard {path}'"
            )
        if command == "upload-onboard" and any(s in FITS_SUFFIXES for s in suffixes):
            raise UsageError(
                f"{path} is a calibration FITS file: upload it with 'caldbio upload {path}'"
            )


def _upload(client: CaDBIO, args: argparse.Namespace) -> None:
    _check_files(args.command, args.files)
    documents = []
    for path in args.files:
        if args.command == "upload":
            result = client.upload(path, supersede=args.supersede)
        else:
            result = client.upload_onboard(path)
        documents.append(display.upload_item(path, result))
        if not args.json:
            print(display.upload_line(path, result))
    if args.json:
        print(display.to_json(documents))


def _quzcif(client: CaDBIO, args: argparse.Namespace) -> int:
    answer = client.search_answer(
        args.instrument,
        args.codename,
        args.date,
        None if args.time == "-" and args.date in ("-", "now") else args.time,
        detector=args.detector,
        filter=args.filter,
        expr=args.expr,
        mission=args.mission,
        maxret=args.maxret,
        explain=args.explain,
    )
    for dataset in answer.results:
        if args.retrieve:
            location = str(client.download(dataset, Path.cwd()))
        else:
            location = f"{client.url}/caldb/{dataset.cal_dir}/{dataset.cal_file}"
        print(f"{location} {dataset.cal_xno}")
    if answer.nfound > len(answer.results):
        print(
            f"caldbio quzcif: {answer.nfound} found, {len(answer.results)} returned",
            file=sys.stderr,
        )
    if answer.explain is not None:  # stdout keeps quzcif's "path xno" lines only
        print(display.explanation(answer.explain), file=sys.stderr)
    if answer.nfound == 0:
        print("caldbio quzcif: no datasets found matching selection criteria", file=sys.stderr)
        return NOTHING_FOUND
    return 0


def _instruments(client: CaDBIO, args: argparse.Namespace) -> None:
    document = client.instruments()
    missions = [
        mission
        for mission in document.get("missions", [])
        if args.mission is None or mission.get("name") == args.mission.upper()
    ]
    if args.mission is not None and not missions:
        known = ", ".join(m.get("name", "?") for m in document.get("missions", []))
        raise NotFound(
            f"the CalDB at {client.url} knows no mission {args.mission.upper()} (known: {known})"
        )
    print(
        display.to_json({"missions": missions}) if args.json else display.instruments_text(missions)
    )


def _login(client: CaDBIO, args: argparse.Namespace) -> None:
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.username} at {client.url}: ")
    else:
        password = sys.stdin.readline().removesuffix("\n")
    answer = client.login(args.username, password)
    path = save_token(
        default_config_dir(), client.url, answer["access_token"], answer.get("expires_at")
    )
    roles = ", ".join(answer["roles"])
    print(f"token for {args.username} ({roles}) saved in {path}, expires {answer['expires_at']}")


def _sync(client: CaDBIO, args: argparse.Namespace) -> None:
    index = client.sync(
        args.instrument, args.codenames, mission=args.mission, download=not args.no_download
    )
    where = index_path(client.cache.root, index.mission, index.instrument)
    print(display.sync_line(index, where))


def _info(client: CaDBIO, args: argparse.Namespace) -> None:
    document: dict[str, Any] = {"url": client.url, "cache": str(client.cache.root)}
    try:
        document["health"] = client.health()
    except CaDBIOError as error:
        document["health"] = {"status": "unreachable", "detail": error.detail}
    token = client.tokens.token() if client.tokens else None
    document["token_source"] = token.source if token else None
    if token and document["health"].get("status") == "ok":
        try:
            document["whoami"] = client.whoami()
        except CaDBIOError as error:
            document["whoami"] = {"error": error.detail}
    copies = sorted((client.cache.root / "index").glob("*/*.json"))
    document["offline_copies"] = [str(p.relative_to(client.cache.root)) for p in copies]
    print(display.to_json(document) if args.json else display.info_text(document))


def _usage(client: CaDBIO, args: argparse.Namespace) -> int:
    queue = client.usage_queue()
    if args.action == "pending":
        paths = queue.pending()
        if args.json:
            print(
                display.to_json({"queue": str(queue.directory), "pending": [p.name for p in paths]})
            )
        else:
            print(f"{len(paths)} usage record(s) waiting in {queue.directory}")
        return 0
    report = queue.flush(client)
    if args.json:
        print(display.to_json(vars(report)))
    else:
        print(report.line())
    # Records left: the CalDB could not take them now (exit code of the transport or auth).
    return 0 if not report.remaining else 8


HANDLERS: dict[str, Callable[[CaDBIO, argparse.Namespace], int | None]] = {
    "search": _search,
    "get": _get,
    "upload": _upload,
    "upload-onboard": _upload,
    "quzcif": _quzcif,
    "login": _login,
    "sync": _sync,
    "info": _info,
    "instruments": _instruments,
    "usage": _usage,
    "impact": impact_command,
    "watch": watch_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``caldbio``; returns the exit code."""
    parser = _parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for candidates (README: Shell completion)
        import argcomplete  # noqa: PLC0415 - only then

        argcomplete.autocomplete(parser)  # prints them and exits
    args = parser.parse_args(argv)
    try:
        with CaDBIO(
            args.url,
            max_tries=args.max_tries,
            cache_dir=args.cache_dir,
            offline=True if args.offline else None,
        ) as client:
            code = HANDLERS[args.command](client, args)
    except CaDBIOError as error:
        return report_failure(error, exit_code_for(error, EXIT_CODES), prefix="caldbio")
    except UsageError as error:
        return report_failure(error, 2, prefix="caldbio")
    except OSError as error:  # unreadable or unwritable files and directories
        return report_failure(describe_os_error(error), 1, prefix="caldbio")
    except ValueError as error:  # bad RUNTIME_DATA, CALDBIO_OFFLINE...
        return report_failure(error, 3, prefix="caldbio")
    return code or 0


def describe_os_error(error: OSError) -> str:
    """A sentence for a failed file operation, without Python's ``[Errno N]`` prefix."""
    name = error.filename
    if name is None:
        return error.strerror or str(error)
    if isinstance(error, FileNotFoundError):
        return f"no such file or directory: {name}"
    if isinstance(error, IsADirectoryError):
        return f"{name} is a directory"
    if isinstance(error, NotADirectoryError):
        return f"{name}: a part of this path is not a directory"
    if isinstance(error, PermissionError):
        return f"permission denied: {name}"
    reason = (error.strerror or type(error).__name__).lower()
    return f"{name}: {reason}"


def run() -> None:
    """Console entry point."""
    sys.exit(main())
