"""The ``caldbio`` command line: CaDBIO for people (tables) and scripts (``--json``).

Exit codes, one per kind of failure: 0 success, 1 unexpected error, 2 usage error,
3 request refused (validation), 4 conflict, 5 not found, 6 authentication, 7 forbidden,
8 no answer (transport), 9 server error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from caldbio.client import DEFAULT_MAXRET, CaDBIO
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
from caldbio.offline import index_path
from caldbio.results import Dataset
from caldbio.tokens import default_config_dir, save_token

__all__ = ["EXIT_CODES", "main"]

EXIT_CODES: dict[type[CaDBIOError], int] = {
    ValidationFailed: 3,
    Conflict: 4,
    NotFound: 5,
    AuthError: 6,
    Forbidden: 7,
    TransportError: 8,
    ServerError: 9,
}


def _selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("instrument", help="e.g. MXT, ECL, VT")
    parser.add_argument("codename", help="e.g. TELDEF, GAIN (any case)")
    parser.add_argument("--date", default="now", help="now, YYYY-MM-DD, ISO datetime or -")
    parser.add_argument("--time", default=None, help="hh:mm:ss when --date is a day")
    parser.add_argument("--detector", default="-", help="DETNAM (default: any)")
    parser.add_argument("--filter", default="-", help="FILTER (default: any)")
    parser.add_argument("--expr", default="-", help="boundary expression, e.g. energy.eq.1.5")
    parser.add_argument("--mission", default="SVOM")
    parser.add_argument("--as-of", default=None, help="replay the answer given at this UTC time")
    parser.add_argument("--maxret", type=int, default=DEFAULT_MAXRET)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="caldbio", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="CalDB URL (default: CALDB_URL, else http://127.0.0.1:5000)")
    parser.add_argument("--max-tries", type=int, default=5, help="attempts per request")
    parser.add_argument("--cache-dir", type=Path, help="cache (default: CALDBIO_CACHE or ~/.cache)")
    parser.add_argument("--offline", action="store_true", help="answer from the synced copy")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    search = commands.add_parser("search", help="find calibration datasets (quzcif rules)")
    _selection_options(search)
    search.add_argument("--download", type=Path, metavar="DIR", help="also download them here")
    get = commands.add_parser("get", help="download the selected files; print their paths")
    _selection_options(get)
    get.add_argument("-o", "--output", type=Path, default=Path(), metavar="DIR")

    upload = commands.add_parser("upload", help="upload calibration FITS files")
    upload.add_argument("files", nargs="+", type=Path)
    upload.add_argument("--supersede", action="store_true", help="replace duplicated datasets")
    onboard = commands.add_parser("upload-onboard", help="upload onboard configuration YAML files")
    onboard.add_argument("files", nargs="+", type=Path)

    quzcif = commands.add_parser("quzcif", help="HEASoft quzcif: prints 'path xno' lines")
    for name in ("mission", "instrument", "detector", "filter", "codename", "date", "time", "expr"):
        quzcif.add_argument(name)
    quzcif.add_argument("--maxret", type=int, default=DEFAULT_MAXRET)
    quzcif.add_argument("--retrieve", action="store_true", help="download into the current dir")

    login = commands.add_parser("login", help="exchange a password for a token and keep it")
    login.add_argument("--username", default=getpass.getuser())
    sync = commands.add_parser("sync", help="copy an instrument's catalogue for offline work")
    sync.add_argument("instrument")
    sync.add_argument("codenames", nargs="*")
    sync.add_argument("--mission", default="SVOM")
    sync.add_argument("--no-download", action="store_true", help="the catalogue only")
    commands.add_parser("info", help="server, token, cache and offline copies")
    return parser


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


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def _show_datasets(datasets: list[Dataset], nfound: int, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"nfound": nfound, "results": [d.to_json() for d in datasets]}, indent=2))
        return
    rows = [
        (
            d.id,
            d.hdu,
            d.detnam,
            d.filter,
            f"{d.cal_vsd} {d.cal_vst}",
            d.cal_qual,
            d.local_path or d.cal_desc,
        )
        for d in datasets
    ]
    print(
        _table(
            rows,
            (
                "id",
                "file[xno]",
                "detnam",
                "filter",
                "valid from",
                "qual",
                "description / local path",
            ),
        )
    )
    print(f"nfound={nfound}" + (f" (showing {len(datasets)})" if nfound > len(datasets) else ""))


def _search(client: CaDBIO, args: argparse.Namespace) -> None:
    answer = client.search_answer(args.instrument, args.codename, **_search_kwargs(args))
    if args.download:
        client.download_all(answer.results, args.download)
    _show_datasets(answer.results, answer.nfound, args.json)


def _get(client: CaDBIO, args: argparse.Namespace) -> None:
    results = client.search(
        args.instrument, args.codename, download_path=args.output, **_search_kwargs(args)
    )
    if not results:
        raise NotFound(f"no {args.codename.upper()} dataset of {args.instrument.upper()} matches")
    paths = sorted({str(d.local_path) for d in results})
    print(json.dumps(paths) if args.json else "\n".join(paths))


def _upload(client: CaDBIO, args: argparse.Namespace) -> None:
    documents = []
    for path in args.files:
        if args.command == "upload":
            result = client.upload(path, supersede=args.supersede)
        else:
            result = client.upload_onboard(path)
        state = "indexed" if result.created else "already indexed"
        documents.append(
            {
                "file": str(path),
                "created": result.created,
                "datasets": [d.id for d in result.datasets],
            }
        )
        if not args.json:
            names = " ".join(f"{d.instrume}/{d.cal_cnam}[{d.cal_xno}]" for d in result.datasets)
            print(f"{path.name}: {state}: {names}")
            for note in result.notes:
                print(f"  note: {note}")
    if args.json:
        print(json.dumps(documents, indent=2))


def _quzcif(client: CaDBIO, args: argparse.Namespace) -> None:
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
    good = sum(1 for d in index.datasets if d.cal_qual == 0)
    where = index_path(client.cache.root, index.mission, index.instrument)
    count = len(index.datasets)
    print(f"{index.mission} {index.instrument}: {count} datasets ({good} good) in {where}")


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
    if args.json:
        print(json.dumps(document, indent=2))
        return
    for key, value in document.items():
        print(f"{key:15} {json.dumps(value) if isinstance(value, dict | list) else value}")


HANDLERS = {
    "search": _search,
    "get": _get,
    "upload": _upload,
    "upload-onboard": _upload,
    "quzcif": _quzcif,
    "login": _login,
    "sync": _sync,
    "info": _info,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``caldbio``; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        with CaDBIO(
            args.url,
            max_tries=args.max_tries,
            cache_dir=args.cache_dir,
            offline=True if args.offline else None,
        ) as client:
            HANDLERS[args.command](client, args)
    except CaDBIOError as error:
        print(f"caldbio: {error}", file=sys.stderr)
        return next((code for kind, code in EXIT_CODES.items() if isinstance(error, kind)), 1)
    except (OSError, ValueError) as error:  # unreadable files, bad RUNTIME_DATA...
        print(f"caldbio: {error}", file=sys.stderr)
        return 3 if isinstance(error, ValueError) else 1
    return 0


def run() -> None:
    """Console entry point."""
    sys.exit(main())
