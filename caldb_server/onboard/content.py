r"""Reading an onboard YAML file safely, and checking it against its codename's schema.

The content must be UTF-8 and a YAML mapping. Aliases (``*name``) are refused: they are
what makes "billion laughs" bombs, and configuration files have no use for them. So are
duplicated keys (YAML parsers silently keep the last one, which for an onboard
configuration means a value nobody reviewed), and documents deeper than
:data:`MAX_DEPTH` or with more than :data:`MAX_NODES` nodes. Values that PyYAML cannot
construct (``!!int abc``, ``2001-13-45`` read as a timestamp, an integer beyond Python's
digit limit) are refused like any other bad YAML, and so are control characters in any
string (an escape like ``"\0"`` makes one; tab and newline stay legal in values, for
block scalars). Where ``schemas/onboard/<codename>.schema.json`` exists, the mapping must
validate against it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema
import yaml

from caldb_common.resources import schema_path
from caldb_common.text import CONTROL, MULTILINE_CONTROL, control_characters

__all__ = ["MAX_DEPTH", "MAX_NODES", "OnboardContentError", "read_onboard_yaml", "schema_problems"]

MAX_DEPTH = 32
MAX_NODES = 100_000


class OnboardContentError(ValueError):
    """The file is not acceptable YAML; ``rule`` names the rule it breaks."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases and duplicate keys, bounded in depth and size."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._in_value = True  # False while a mapping key is constructed

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise OnboardContentError(
                "no-aliases", f"YAML aliases are not accepted (line {mark.line + 1})"
            )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise OnboardContentError("size", f"more than {MAX_NODES} YAML nodes")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise OnboardContentError("depth", f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        value = super().construct_object(node, deep=deep)
        if isinstance(value, str):
            # Keys are one-line names; values may be block scalars (tab, newline allowed).
            found = control_characters(value, MULTILINE_CONTROL if self._in_value else CONTROL)
            if found:
                raise OnboardContentError(
                    "control-characters",
                    f"a string holds control characters {', '.join(found)} "
                    f"(line {node.start_mark.line + 1})",
                )
        return value

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            self._in_value = False
            try:
                key = self.construct_object(key_node, deep=True)
            finally:
                self._in_value = True
            line = key_node.start_mark.line + 1
            try:
                duplicate = key in seen
            except TypeError:  # a list or mapping used as a key
                raise OnboardContentError("yaml", f"a key must be a scalar (line {line})") from None
            if duplicate:
                raise OnboardContentError(
                    "unique-keys", f"key {key!r} appears twice in one mapping (line {line})"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_onboard_yaml(data: bytes) -> dict[str, Any]:
    """The mapping an onboard file holds.

    Raises
    ------
    OnboardContentError
        For non-UTF-8 bytes, invalid YAML, aliases, duplicate keys, excessive nesting or
        size, or a document that is not one mapping.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OnboardContentError("utf-8", f"not UTF-8 text (byte {error.start})") from None
    try:
        documents = list(yaml.load_all(text, Loader=_StrictLoader))
    except OnboardContentError:
        raise
    except yaml.YAMLError as error:
        raise OnboardContentError("yaml", f"not valid YAML: {error}") from None
    except (ValueError, OverflowError) as error:
        # A scalar its tag cannot make: '!!int abc', a timestamp 2001-13-45, an integer
        # beyond Python's int-str digit limit. PyYAML lets these out as plain ValueErrors.
        raise OnboardContentError("yaml", f"a value cannot be read: {error}") from None
    except RecursionError:
        raise OnboardContentError("depth", f"nested deeper than {MAX_DEPTH} levels") from None
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise OnboardContentError("mapping", "the file must hold one YAML mapping (key: value)")
    return documents[0]


@lru_cache(maxsize=64)
def _validator(codename: str) -> jsonschema.Draft202012Validator | None:
    path = schema_path(f"onboard/{codename.lower()}.schema.json")
    if not path.is_file():
        return None
    return jsonschema.Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def schema_problems(codename: str, content: dict[str, Any]) -> list[dict[str, str]]:
    """Each way ``content`` breaks its codename's schema (none without a schema)."""
    validator = _validator(codename)
    if validator is None:
        return []
    return [
        {
            "field": "/".join(map(str, error.absolute_path)) or "(root)",
            "reason": f"{error.message} (schema rule {error.validator})",
        }
        for error in sorted(
            validator.iter_errors(content), key=lambda e: list(map(str, e.absolute_path))
        )
    ]
