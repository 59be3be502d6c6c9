"""One failed ingestion rule, shared by the structural verifier and the udcif reader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Check"]


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
