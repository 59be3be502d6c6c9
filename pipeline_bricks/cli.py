"""The ``pipeline-bricks`` command: ``run BRICK RUNTIME_DATA``, ``list`` and ``simulate``.

Exit codes: 0 SUCCESS or NO_DATA (both are normal outcomes the scheduler reads in
processing_status.json), 1 FAILED, 2 usage error.

``list`` and ``--help`` import no science module (numpy, scipy, astropy, the simulator):
the bricks are described by :data:`pipeline_bricks.registry.CATALOGUE`, and the modules
that run them are imported by the command that needs them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline_bricks.registry import CATALOGUE
from pipeline_bricks.summary import result_line

__all__ = ["main", "run"]


def _parser(command: str | None) -> argparse.ArgumentParser:
    """The parser; the simulator's options are declared only when ``command`` is ``simulate``."""
    parser = argparse.ArgumentParser(prog="pipeline-bricks", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_command = commands.add_parser("run", help="run a brick on a runtime_data.json")
    run_command.add_argument("brick")
    run_command.add_argument("runtime_data", type=Path)
    commands.add_parser("list", help="the bricks, their inputs and calibration codenames")
    simulate = commands.add_parser("simulate", help="simulate an MXT observation of a GRB")
    if command == "simulate":
        from pipeline_bricks.simulator.command import add_arguments  # noqa: PLC0415 (numpy)

        add_arguments(simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _parser(arguments[0] if arguments else None).parse_args(arguments)
    if args.command == "simulate":
        from pipeline_bricks.simulator.command import run_simulate  # noqa: PLC0415

        return run_simulate(args)
    if args.command == "list":
        for name, brick in sorted(CATALOGUE.items()):
            print(f"{name:18} {brick.description}")
            print(
                f"{'':18} inputs: {', '.join(brick.inputs) or '-'}; "
                f"calibration: {', '.join(brick.codenames) or '-'}"
            )
        return 0
    from pipeline_bricks.framework.runner import run_brick  # noqa: PLC0415 (astropy)
    from pipeline_bricks.registry import bricks  # noqa: PLC0415 (the science modules)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    status, path = run_brick(bricks(), args.brick, args.runtime_data)
    document = json.loads(path.read_text())
    print(result_line(document, directory=str(path.parent)))
    if status == "FAILED":
        for message in document["messages"]:
            if message["level"] == "ERROR":
                print(f"error: {message['text']}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    """Console entry point."""
    sys.exit(main())
