"""Every parameter a brick reads is one it declares, and the docs show the declarations.

Read from the source (``ast``): each ``.parameter("name")`` call in a brick's module, or in a
module of ``pipeline_bricks/mxt/bricks/`` it imports, must name a parameter of that brick,
and each parameter a brick declares must be read; only the framework reads the raw
``runtime.parameters``. The parameter table of ``docs/pipeline_bricks.md`` is the
declarations, row for row."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from pipeline_bricks.registry import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pipeline_bricks"
DOCS = ROOT / "docs" / "pipeline_bricks.md"
BRICKS_PACKAGE = "pipeline_bricks.mxt.bricks"
CHAIN = "mxt-pipeline"  # runs the other bricks: it reads nothing itself


def module_tree(module: str) -> ast.Module:
    spec = importlib.util.find_spec(module)
    assert spec is not None, module
    assert spec.origin is not None, module
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"))


def parameter_reads(tree: ast.Module) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "parameter"
    ]


def read_names(tree: ast.Module) -> set[str]:
    """The names of the ``.parameter(...)`` calls, each a literal (else it cannot be checked)."""
    names = set()
    for call in parameter_reads(tree):
        (argument,) = call.args
        literal = isinstance(argument, ast.Constant) and isinstance(argument.value, str)
        assert literal, f"line {call.lineno}: a parameter name must be a literal to be checked"
        names.add(argument.value)
    return names


def helper_modules(tree: ast.Module) -> set[str]:
    """The modules of the bricks package a brick module imports (its shared helpers)."""
    return {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith(f"{BRICKS_PACKAGE}.")
    }


def names_read_by(module: str) -> set[str]:
    tree = module_tree(module)
    helpers = helper_modules(tree) - {info.module for info in CATALOGUE.values()}
    return read_names(tree).union(*(read_names(module_tree(helper)) for helper in helpers))


@pytest.mark.parametrize("brick", sorted(set(CATALOGUE) - {CHAIN}))
def test_a_brick_reads_exactly_the_parameters_it_declares(brick):
    info = CATALOGUE[brick]
    declared = {parameter.name for parameter in info.parameters}
    read = names_read_by(info.module)
    assert read <= declared, f"{brick} reads undeclared parameters {sorted(read - declared)}"
    assert declared <= read, f"{brick} declares parameters it never reads {sorted(declared - read)}"


def test_the_chain_reads_none_itself_and_declares_those_of_its_bricks():
    info = CATALOGUE[CHAIN]
    assert names_read_by(info.module) == set()
    bricks = [other for name, other in CATALOGUE.items() if name != CHAIN]
    others = {parameter.name for other in bricks for parameter in other.parameters}
    assert {p.name for p in info.parameters} == others


def test_every_read_in_the_bricks_package_belongs_to_a_brick():
    # A read in a helper counts for each brick importing it (checked above); here: no module
    # of the package reads a parameter that no brick would be checked for.
    covered = set().union(*(names_read_by(info.module) for info in CATALOGUE.values()))
    everywhere = set()
    for path in (PACKAGE / "mxt" / "bricks").glob("*.py"):
        everywhere |= read_names(ast.parse(path.read_text(encoding="utf-8")))
    assert everywhere == covered


def test_only_the_framework_reads_the_raw_parameters_of_the_job():
    readers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "parameters"
                and isinstance(node.value, ast.Name | ast.Attribute)
                and (getattr(node.value, "id", None) or getattr(node.value, "attr", None))
                == "runtime"
            ):
                readers.add(path.relative_to(PACKAGE).as_posix())
    # The runner checks them; the calibration provider takes the local overrides.
    assert readers == {"framework/runner.py", "framework/calibration.py"}


def docs_rows() -> list[tuple[str, ...]]:
    """The rows of the docs' parameter table, backticks removed."""
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = lines.index("| brick | parameter | type | unit | default | allowed | meaning |")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(tuple(cell.strip().strip("`") for cell in line.strip("|").split(" | ")))
    return rows


def test_the_docs_table_is_the_declarations():
    expected = [
        (name, *parameter.cells())
        for name, info in CATALOGUE.items()
        if name != CHAIN
        for parameter in info.parameters
    ]
    markdown = "\n".join(
        f"| `{row[0]}` | `{row[1]}` | " + " | ".join(row[2:]) + " |" for row in expected
    )
    assert docs_rows() == expected, f"docs/pipeline_bricks.md should have:\n{markdown}"
