"""The ``pipeline-bricks`` command: ``run``, ``list``, ``simulate``, ``campaign`` and its report.

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
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from caldb_common.console import help_summary, report_failure
from pipeline_bricks.campaign.command import (
    add_campaign_arguments,
    add_report_arguments,
    campaign,
    campaign_report,
)
from pipeline_bricks.parameters import CALIBRATION, CALIBRATION_TEXT, TABLE_HEADINGS
from pipeline_bricks.registry import CATALOGUE
from pipeline_bricks.summary import result_line

__all__ = ["main", "offer_completion", "run"]


def _parser(command: str | None) -> argparse.ArgumentParser:
    """The parser; the simulator's options are declared only when ``command`` is ``simulate``."""
    parser = argparse.ArgumentParser(prog="pipeline-bricks", description=help_summary(__doc__))
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="one of these; 'pipeline-bricks COMMAND --help' shows its options",
    )

    def sub_command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=summary)

    run_command = sub_command("run", "run a brick on a runtime_data.json")
    run_command.add_argument("brick", help="the brick's name, e.g. mxt-pipeline (see 'list')")
    run_command.add_argument(
        "runtime_data", type=Path, help="the job: inputs, output directory, parameters, CalDB"
    )
    listing = sub_command("list", "the bricks, their inputs and calibration codenames")
    listing.add_argument(
        "--parameters",
        action="store_true",
        help="also each brick's parameters: type, unit, default, allowed values and meaning",
    )
    simulate = sub_command("simulate", "simulate an MXT observation of a GRB")
    if command == "simulate":
        from pipeline_bricks.simulator.command import add_arguments  # noqa: PLC0415 (numpy)

        add_arguments(simulate)
    add_campaign_arguments(
        sub_command("campaign", "simulate many observations of a scenario, reduce each "
                    "through the bricks and compare it with its truth (docs/simulator.md)")
    )  # fmt: skip
    add_report_arguments(
        sub_command(
            "campaign-report", "rebuild a campaign's report.json, runs.ecsv and report.html"
        )
    )
    return parser


def offer_completion(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's request for completions, if it made one (README: Shell completion).

    argcomplete is imported only then: a command run as usual pays nothing for it.
    """
    if "_ARGCOMPLETE" in os.environ:
        import argcomplete  # noqa: PLC0415

        argcomplete.autocomplete(parser)  # prints the candidates and exits


def _command_word(arguments: Sequence[str]) -> str | None:
    """The sub-command named, from the line being completed when the shell asks for candidates."""
    if "_ARGCOMPLETE" in os.environ:
        arguments = os.environ.get("COMP_LINE", "").split()[1:]
    return arguments[0] if arguments else None


def _print_parameters(brick: str) -> None:
    """Print the parameters of ``brick``: aligned columns, then the meaning on a line.

    The columns have the same widths for every brick, so the listing reads as one table.
    """
    every = [p.cells()[:-1] for info in CATALOGUE.values() for p in info.parameters]
    widths = [max(map(len, column)) for column in zip(TABLE_HEADINGS[:-1], *every, strict=True)]
    parameters = CATALOGUE[brick].parameters
    if not parameters:
        print("  (no parameter)")
    for number, cells in enumerate([TABLE_HEADINGS, *(p.cells() for p in parameters)]):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip())
        if number:
            print(f"      {cells[-1]}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(_command_word(arguments))
    offer_completion(parser)
    args = parser.parse_args(arguments)
    if args.command == "simulate":
        from pipeline_bricks.simulator.command import run_simulate  # noqa: PLC0415

        return run_simulate(args)
    if args.command == "campaign":
        return campaign(args)
    if args.command == "campaign-report":
        return campaign_report(args)
    if args.command == "list":
        for name, brick in sorted(CATALOGUE.items()):
            print(f"{name:18} {brick.description}")
            print(
                f"{'':18} inputs: {', '.join(brick.inputs) or '-'}; "
                f"calibration: {', '.join(brick.codenames) or '-'}"
            )
            if args.parameters:
                _print_parameters(brick.name)
        if args.parameters:
            print(f"Every brick also takes {CALIBRATION}: {CALIBRATION_TEXT}.")
        return 0
    from pipeline_bricks.framework.runner import run_brick  # noqa: PLC0415 (astropy)
    from pipeline_bricks.registry import bricks  # noqa: PLC0415 (the science modules)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Only the named brick's modules are imported (registry.bricks): a new process per run.
    status, path = run_brick(bricks(args.brick), args.brick, args.runtime_data)
    document = json.loads(path.read_text())
    print(result_line(document, directory=str(path.parent)))
    if status == "FAILED":
        for message in document["messages"]:
            if message["level"] == "ERROR":
                report_failure(message["text"], 1)
        return 1
    return 0


def run() -> None:
    """Console entry point."""
    sys.exit(main())
