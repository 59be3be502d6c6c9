"""The ``pipeline-bricks`` command: ``run BRICK RUNTIME_DATA``, ``list`` and ``simulate``.

Exit codes: 0 SUCCESS or NO_DATA (both are normal outcomes the scheduler reads in
processing_status.json), 1 FAILED, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline_bricks.framework.runner import run_brick
from pipeline_bricks.registry import bricks
from pipeline_bricks.simulator.command import add_arguments, run_simulate

__all__ = ["main", "run"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pipeline-bricks", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_command = commands.add_parser("run", help="run a brick on a runtime_data.json")
    run_command.add_argument("brick")
    run_command.add_argument("runtime_data", type=Path)
    commands.add_parser("list", help="the bricks, their inputs and calibration codenames")
    add_arguments(commands.add_parser("simulate", help="simulate an MXT observation of a GRB"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "simulate":
        return run_simulate(args)
    if args.command == "list":
        for name, brick in sorted(bricks().items()):
            print(f"{name:18} {brick.description}")
            print(
                f"{'':18} inputs: {', '.join(brick.inputs) or '-'}; "
                f"calibration: {', '.join(brick.codenames) or '-'}"
            )
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    status, path = run_brick(bricks(), args.brick, args.runtime_data)
    print(f"{args.brick}: {status} ({path})")
    if status == "FAILED":
        for message in json.loads(path.read_text())["messages"]:
            if message["level"] == "ERROR":
                print(f"error: {message['text']}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    """Console entry point."""
    sys.exit(main())
