"""The rules of measuring an objective (services/turnaround/quality/measurement.py), with real figures:
the value, met or not, "not measurable" for a period in which nothing finished, and the trend."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.turnaround.quality.measurement import (
    Direction,
    Figures,
    Status,
    direction_of,
    status_of,
    value_of,
)
from services.turnaround.quality.objectives import Comparison

AT_LEAST, AT_MOST = Comparison.AT_LEAST, Comparison.AT_MOST
D = Decimal


@pytest.mark.parametrize(
    ("figures", "value"),
    [
        (Figures(95, 100), D("95.00")),
        (Figures(5, 7), D("71.42")),  # 71.428… shown rounded down
        (Figures(2, 3), D("66.66")),  # 66.666…: rounded down, never up to 66.67
        (Figures(18999, 20000), D("94.99")),  # 94.995: rounded down, never shown as 95.00
        (Figures(1, 1), D("100.00")),
        (Figures(0, 4), D("0.00")),
        (Figures(0, 0), None),  # nothing finished: no value, no division by zero
        (Figures(3), D(3)),  # a count is its own value
        (Figures(0), D(0)),  # and zero is a real count
    ],
)
def test_the_value_is_a_percent_rounded_down_or_the_count(figures: Figures, value: Decimal | None) -> None:
    assert value_of(figures) == value


@pytest.mark.parametrize(
    ("figures", "comparison", "target", "status"),
    [
        (Figures(95, 100), AT_LEAST, D(95), Status.MET),  # exactly at the target
        (Figures(94, 100), AT_LEAST, D(95), Status.NOT_MET),
        (Figures(18999, 20000), AT_LEAST, D(95), Status.NOT_MET),  # 94.995 %
        (Figures(19, 20), AT_LEAST, D(95), Status.MET),  # 95 % of a small denominator
        (Figures(49, 50), AT_LEAST, D(98), Status.MET),
        (Figures(48, 50), AT_LEAST, D(98), Status.NOT_MET),
        (Figures(1, 3), AT_LEAST, D("33.33"), Status.MET),  # 33.333… ≥ 33.33
        (Figures(1, 3), AT_LEAST, D("33.34"), Status.NOT_MET),
        (Figures(0, 0), AT_LEAST, D(95), Status.NOT_MEASURABLE),  # never "met" for lack of dossiers
        (Figures(0, 0), AT_MOST, D(5), Status.NOT_MEASURABLE),
        (Figures(1, 20), AT_MOST, D(5), Status.MET),  # a share at most: 5 % ≤ 5 %
        (Figures(2, 20), AT_MOST, D(5), Status.NOT_MET),
        (Figures(0), AT_MOST, D(0), Status.MET),  # no late delay notice
        (Figures(1), AT_MOST, D(0), Status.NOT_MET),
        (Figures(3), AT_MOST, D(3), Status.MET),
        (Figures(4), AT_MOST, D(3), Status.NOT_MET),
        (Figures(2), AT_LEAST, D(3), Status.NOT_MET),
        (Figures(3), AT_LEAST, D(3), Status.MET),
    ],
)
def test_met_is_decided_on_the_exact_fraction_and_a_period_without_dossiers_is_not_measurable(
    figures: Figures, comparison: Comparison, target: Decimal, status: Status
) -> None:
    assert status_of(figures, comparison, target) is status


@pytest.mark.parametrize(
    ("comparison", "current", "previous", "direction"),
    [
        (AT_LEAST, D("97.50"), [D("96.00"), D("99.00")], Direction.IMPROVING),  # the last period counts
        (AT_LEAST, D("95.00"), [D("96.00"), D("90.00")], Direction.WORSENING),
        (AT_LEAST, D("96.00"), [D("96.00")], Direction.STEADY),
        (AT_LEAST, D("96.00"), [None, D("90.00")], Direction.IMPROVING),  # skips a period without data
        (AT_LEAST, D("96.00"), [None, D("99.00"), D("50.00")], Direction.WORSENING),
        (AT_LEAST, None, [D("96.00")], Direction.UNKNOWN),
        (AT_LEAST, D("96.00"), [None, None], Direction.UNKNOWN),
        (AT_LEAST, D("96.00"), [], Direction.UNKNOWN),
        (AT_MOST, D(1), [D(3)], Direction.IMPROVING),  # fewer late notices is better
        (AT_MOST, D(3), [D(1)], Direction.WORSENING),
        (AT_MOST, D(0), [D(0)], Direction.STEADY),
    ],
)
def test_the_trend_compares_with_the_latest_earlier_period_that_was_measurable(
    comparison: Comparison, current: Decimal | None, previous: list[Decimal | None], direction: Direction
) -> None:
    assert direction_of(comparison, current, previous) is direction


NEGATIVE = r"^counts are never negative$"
OVER = r"^a share's numerator is part of its denominator$"


@pytest.mark.parametrize(
    ("numerator", "denominator", "message"),
    [(-1, None, NEGATIVE), (0, -1, NEGATIVE), (-1, 3, NEGATIVE), (4, 3, OVER)],
)
def test_impossible_figures_are_refused(numerator: int, denominator: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Figures(numerator, denominator)


def test_figures_at_their_bounds_are_accepted() -> None:
    assert Figures(0, 0) == Figures(0, 0)
    assert Figures(3, 3).numerator == 3
    assert Figures(0).denominator is None
