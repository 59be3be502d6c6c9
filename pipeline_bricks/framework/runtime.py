"""Reading and validating a brick's ``runtime_data.json`` (``schemas/runtime_data.schema.json``).

Relative paths (inputs, output directory, local calibration overrides) are relative to the
directory of the runtime_data.json, so a scheduler can move a whole job directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from caldb_common.resources import schema_path
from caldb_common.text import json_control_problems
from caldb_selection import parse_as_of
from pipeline_bricks.framework.errors import BrickError

__all__ = ["RuntimeData", "load_runtime_data"]


@dataclass(frozen=True)
class RuntimeData:
    """A validated runtime_data.json, with paths resolved."""

    path: Path
    brick: str
    target: dict[str, str]
    inputs: dict[str, list[Path]]
    output_dir: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    caldb: dict[str, Any] = field(default_factory=dict)

    def resolve(self, text: str) -> Path:
        """A path of this job: absolute, or relative to the runtime_data.json directory."""
        path = Path(text).expanduser()
        return path if path.is_absolute() else (self.path.parent / path).resolve()


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path("runtime_data.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def load_runtime_data(path: str | Path) -> RuntimeData:
    """Read, validate and resolve a runtime_data.json.

    Raises
    ------
    BrickError
        If the file cannot be read, is not JSON, or breaks the schema (every problem named).
    """
    path = Path(path).resolve()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BrickError(f"cannot read {path}: {error.strerror}") from None
    except (ValueError, RecursionError) as error:  # RecursionError: nesting too deep
        raise BrickError(f"{path} is not JSON: {error}") from None
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    ]
    # The server's rule for text it is given: a NUL in a path or a CR-LF in a token or URL
    # would fail deep in the brick, or worse.
    problems += [f"{p['field']}: {p['reason']}" for p in json_control_problems(document)]
    if not problems:
        problems += _as_of_problems(document.get("caldb", {}).get("as_of"))
    if problems:
        raise BrickError(f"invalid runtime_data.json {path}: " + "; ".join(problems))
    runtime = RuntimeData(
        path=path,
        brick=document["brick"],
        target=document["target"],
        inputs={},
        output_dir=path.parent,
        parameters=document.get("parameters", {}),
        caldb=document.get("caldb", {}),
    )
    runtime = replace(
        runtime,
        inputs={k: [runtime.resolve(p) for p in v] for k, v in document["inputs"].items()},
        output_dir=runtime.resolve(document["output_dir"]),
    )
    if runtime.output_dir.exists() and not runtime.output_dir.is_dir():
        raise BrickError(f"output_dir {runtime.output_dir} exists and is not a directory")
    return runtime


def _as_of_problems(as_of: str | None) -> list[str]:
    """Why ``caldb/as_of`` is not an instant the CalDB reads (the same rule, shared).

    Checked before the brick spends its time reading inputs and calling the CalDB.
    """
    if as_of is None:
        return []
    try:
        parse_as_of(as_of)
    except ValueError as error:
        return [f"caldb/as_of: {error}"]
    return []
