"""One failed ingestion rule, shared by the structural verifier and the udcif reader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["QUOTED", "Check", "quoted"]

# Most characters of a header value quoted in a reason: a value joined from CONTINUE
# cards can be long, and the answer must stay small.
QUOTED = 80


def quoted(text: str, limit: int = QUOTED) -> str:
    """``repr(text)``, or the repr of its first ``limit`` characters, an ellipsis and its length.

    >>> quoted("a" * 100, 3)
    "'aaa'… (100 characters)"
    """
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


@dataclass(frozen=True)
class Check:
    """One failed rule: where (HDU, keyword or request field) and why.

    HDUs are numbered as ``CAL_XNO`` is: the primary HDU is 0.
    """

    reason: str
    hdu: int | None = None
    keyword: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The problem+json ``errors`` item."""
        item: dict[str, Any] = {"reason": self.reason}
        for name in ("field", "hdu", "keyword"):
            if (value := getattr(self, name)) is not None:
                item[name] = value
        return item
