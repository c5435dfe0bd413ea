"""What a provider's callback can be besides a receipt: refused, or authentic but moving nothing."""

from __future__ import annotations

from dataclasses import dataclass


class ReceiptRefusedError(Exception):
    """Not authentic (``status`` 401: never applied) or not a receipt (``status`` 422)."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Ignored:
    """An authentic callback that moves nothing (an interim status, an event that is not a receipt)."""

    reason: str
