"""Every option and argument of the four console scripts is explained in plain text.

Walks each command line with its sub-commands (``caldbio``, ``pipeline-bricks``,
``mxt-simulate``: argparse; ``caldb-server``: click): every option and positional argument
has help text, and no rendered ``--help`` shows reStructuredText (double backticks or
roles such as ``:func:``) to the user.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import click
import pytest

from caldb_server.cli import main as caldb_server_main
from caldbio.cli import _parser as caldbio_parser
from pipeline_bricks.cli import _parser as pipeline_bricks_parser
from pipeline_bricks.simulator.command import parser as mxt_simulate_parser

RST = re.compile(r"``|:(func|mod|class|meth|data|attr|ref|doc):`")


def argparse_commands(
    parser: argparse.ArgumentParser, name: str
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The parser and every sub-command's parser (argparse has no public walk of them)."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub_parser in action.choices.items():
                yield from argparse_commands(sub_parser, f"{name} {command}")


def argparse_parsers() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield from argparse_commands(caldbio_parser(), "caldbio")
    yield from argparse_commands(pipeline_bricks_parser("simulate"), "pipeline-bricks")
    yield from argparse_commands(mxt_simulate_parser(), "mxt-simulate")


ARGPARSE = dict(argparse_parsers())


def click_commands(
    command: click.Command, name: str
) -> Iterator[tuple[str, click.Command, click.Context]]:
    context = click.Context(command, info_name=name)
    yield name, command, context
    if isinstance(command, click.Group):
        for sub_name, sub_command in command.commands.items():
            yield from click_commands(sub_command, f"{name} {sub_name}")


CLICK = {name: (command, context) for name, command, context in click_commands(
    caldb_server_main, "caldb-server"
)}  # fmt: skip


def test_every_command_line_is_walked():
    assert {"caldbio search", "caldbio quzcif", "caldbio sync", "caldbio info"} <= set(ARGPARSE)
    assert {"pipeline-bricks run", "pipeline-bricks simulate", "mxt-simulate"} <= set(ARGPARSE)
    assert {"caldb-server ingest", "caldb-server create-token", "caldb-server fsck"} <= set(CLICK)
    for simulate in ("pipeline-bricks simulate", "mxt-simulate"):  # the simulator's options too
        assert "--cloud-model" in ARGPARSE[simulate].format_help()


@pytest.mark.parametrize("name", sorted(ARGPARSE))
def test_argparse_options_and_arguments_have_help(name):
    parser = ARGPARSE[name]
    missing = [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if action.help != argparse.SUPPRESS and not (action.help or "").strip()
    ]
    assert not missing, f"{name}: no help for {missing}"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help for choice in action._choices_actions}
            assert all(summaries.get(command) for command in action.choices), name
    assert parser.description, f"{name} has no description"


@pytest.mark.parametrize("name", sorted(ARGPARSE))
def test_argparse_help_shows_no_restructuredtext(name):
    text = ARGPARSE[name].format_help()
    assert not RST.search(text), f"{name} --help:\n{text}"


@pytest.mark.parametrize("name", sorted(CLICK))
def test_click_options_have_help_and_arguments_are_explained(name):
    command, _ = CLICK[name]
    assert (command.help or "").strip(), f"{name} has no help"
    for parameter in command.params:
        if isinstance(parameter, click.Option) and not parameter.hidden:
            assert (parameter.help or "").strip(), f"{name}: no help for {parameter.opts}"
        elif isinstance(parameter, click.Argument):  # click arguments are told in the text
            shown = parameter.human_readable_name
            assert shown in command.help, f"{name}: its help does not explain {shown}"


@pytest.mark.parametrize("name", sorted(CLICK))
def test_click_help_shows_no_restructuredtext(name):
    command, context = CLICK[name]
    text = command.get_help(context)
    assert not RST.search(text), f"{name} --help:\n{text}"
