r"""The one rule for text the system is given: no control characters.

Shared, as a pure module, by the server (every request) and the pipeline bricks (every
string of a ``runtime_data.json``).

Every query parameter, path parameter, form field, uploaded file name and JSON string (keys
included) of a request, and every string of an onboard YAML file, is refused (422) when it
holds a character of :data:`CONTROL`: the C0 controls U+0000-U+001F (NUL, tab, newline...),
DEL U+007F, the C1 controls U+0080-U+009F, and lone surrogates U+D800-U+DFFF (a JSON
``"\ud800"`` escape makes one; it is not a character and no database can store it).

Why so strict: these values become catalogue columns, SQL parameters (PostgreSQL refuses a
NUL in text with an error), log lines (a newline forges one), CIF columns and HTTP headers.
No request input is multi-line text: names, dates, expressions and the reason of a quality
change are one line each, so tab and newline are refused there too. Multi-line text is
legitimate only inside an onboard YAML file (a block scalar), whose strings may keep tab,
newline and carriage return (:data:`MULTILINE_CONTROL`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "CONTROL",
    "CONTROL_RULE",
    "MULTILINE_CONTROL",
    "NONBLANK_TEXT_PATTERN",
    "TEXT_PATTERN",
    "control_characters",
    "json_control_problems",
]

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MULTILINE_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
CONTROL_RULE = "must not contain control characters (U+0000-U+001F, U+007F-U+009F)"

# The same rules as JSON Schema patterns, for schemas/openapi.yaml (a test holds them equal).
# Surrogates are left out: they are not characters, no JSON Schema string holds one.
TEXT_PATTERN = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
# Text with a character that str.strip() keeps: not a control and not Unicode white space.
_KEPT = "[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
NONBLANK_TEXT_PATTERN = f"^[^\\x00-\\x1f\\x7f-\\x9f]*{_KEPT}[^\\x00-\\x1f\\x7f-\\x9f]*$"


def control_characters(text: str, rule: re.Pattern[str] = CONTROL) -> list[str]:
    """The distinct forbidden characters of ``text``, as ``U+XXXX`` (none: acceptable)."""
    return sorted({f"U+{ord(c):04X}" for c in rule.findall(text)})


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string of a JSON document (keys too) with where it is, iteratively.

    Iterative, not recursive: a 64 KiB body can nest thousands of levels.
    """
    pending = [(where, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            yield path, item
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}/{key}" if path else str(key)
                yield child_path, str(key)
                pending.append((child_path, child))
        elif isinstance(item, list):
            pending.extend((f"{path}/{index}", child) for index, child in enumerate(item))


def json_control_problems(document: Any, where: str = "") -> list[dict[str, str]]:
    """One ``errors`` item per string of ``document`` that holds a control character."""
    problems = []
    for path, text in _strings(document, where):
        found = control_characters(text)
        if found:
            # The path is made of the client's own keys: it must not carry them back raw.
            field = CONTROL.sub("\ufffd", path) or "body"
            problems.append({"field": field, "reason": f"{CONTROL_RULE}; found {', '.join(found)}"})
    return problems
