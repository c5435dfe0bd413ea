"""Measuring an objective (ISO 9001:2015 cl. 9.1): the rules, pure — the counts come in, the value, the
verdict and the trend go out.

- A share is 100 × numerator / denominator (clocks finished early or on time / clocks finished, both
  from clock_counts, the one count of "on time"). A period in which no clock finished has no share: it is
  *not measurable*, never "met" (and never a division by zero).
- A count (nonconformities of a kind) is its numerator; there is no denominator, and zero is a real
  figure: a count is always measurable.
- Met is decided on the exact fraction (numerator × 100 against target × denominator), never on the
  rounded value shown: 94.996 % is shown as 94.99 % (rounded down, so a shown value at the target is
  really at it) and is not "≥ 95 %".
- The trend compares the period with the most recent earlier period that was measurable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from services.turnaround.quality.objectives import Comparison

_HUNDREDTH = Decimal("0.01")


class Status(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    NOT_MEASURABLE = "not_measurable"


class Direction(StrEnum):
    IMPROVING = "improving"
    WORSENING = "worsening"
    STEADY = "steady"
    UNKNOWN = "unknown"
    """The period, or every earlier one, is not measurable."""


@dataclass(frozen=True)
class Figures:
    """The counts behind a value: ``denominator`` is None for a count, which is not a share."""

    numerator: int
    denominator: int | None = None

    def __post_init__(self) -> None:
        if self.numerator < 0 or (self.denominator is not None and self.denominator < 0):
            raise ValueError("counts are never negative")
        if self.denominator is not None and self.numerator > self.denominator:
            raise ValueError("a share's numerator is part of its denominator")


def value_of(figures: Figures) -> Decimal | None:
    """The measured value: a percent with two decimals (rounded down) for a share, the count itself for a
    count; None when nothing was there to measure."""
    if figures.denominator is None:
        return Decimal(figures.numerator)
    if figures.denominator == 0:
        return None
    exact = Decimal(figures.numerator * 100) / Decimal(figures.denominator)
    return exact.quantize(_HUNDREDTH, rounding=ROUND_DOWN)


def status_of(figures: Figures, comparison: Comparison, target: Decimal) -> Status:
    if figures.denominator == 0:
        return Status.NOT_MEASURABLE
    if figures.denominator is None:
        measured, bound = Decimal(figures.numerator), target
    else:  # compare numerator × 100 with target × denominator: no rounding decides a verdict
        measured, bound = Decimal(figures.numerator * 100), target * figures.denominator
    met = measured >= bound if comparison is Comparison.AT_LEAST else measured <= bound
    return Status.MET if met else Status.NOT_MET


def direction_of(
    comparison: Comparison, current: Decimal | None, previous: Sequence[Decimal | None]
) -> Direction:
    """``previous``: the earlier periods' values, most recent first; the first measurable one is the
    reference. Better is higher for an "at least" target and lower for an "at most" one."""
    reference = next((value for value in previous if value is not None), None)
    if current is None or reference is None:
        return Direction.UNKNOWN
    if current == reference:
        return Direction.STEADY
    higher = current > reference
    improving = higher if comparison is Comparison.AT_LEAST else not higher
    return Direction.IMPROVING if improving else Direction.WORSENING
