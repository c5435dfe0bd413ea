"""A test that draws at random names its seed when it fails, and TEST_SEED replays that very run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

_DRAWING_TEST = """
import random

def test_draws(seed):
    values = [random.Random(seed).randrange(10**9) for _ in range(1)]
    print("drew", seed, values)
    assert FAIL is False

FAIL = {fail}
"""


ROOT = Path(__file__).resolve().parents[2]


def _run(pytester: pytest.Pytester, fail: bool, seed: str | None) -> pytest.RunResult:
    """A throwaway project whose one test draws with the `seed` fixture, run in its own pytest."""
    pytester.makeconftest('pytest_plugins = ["tests.fixtures.seeds"]')
    pytester.makepyfile(test_drawing=_DRAWING_TEST.format(fail=fail))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", str(ROOT))
        if seed is None:
            env.delenv("TEST_SEED", raising=False)
        else:
            env.setenv("TEST_SEED", seed)
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")


def test_a_failing_test_names_its_seed_and_the_command_that_replays_it(pytester: pytest.Pytester) -> None:
    result = _run(pytester, fail=True, seed=None)
    result.assert_outcomes(failed=1)
    hint = re.search(
        r"this run drew seed (\d+); replay it with: TEST_SEED=(\d+) pytest '(.+)'", result.stdout.str()
    )
    assert hint is not None, result.stdout.str()
    assert hint.group(1) == hint.group(2)
    assert hint.group(3).endswith("test_drawing.py::test_draws")
    assert f"drew {hint.group(1)} " in result.stdout.str()


def test_test_seed_fixes_the_draw_so_a_failure_replays_exactly(pytester: pytest.Pytester) -> None:
    first = _run(pytester, fail=True, seed="424242")
    second = _run(pytester, fail=True, seed="424242")
    drawn = [re.search(r"drew 424242 \[(\d+)\]", r.stdout.str()) for r in (first, second)]
    assert all(drawn), [r.stdout.str() for r in (first, second)]
    assert drawn[0].group(1) == drawn[1].group(1)  # type: ignore[union-attr]
    assert "replay it with: TEST_SEED=424242" in first.stdout.str()


def test_a_passing_test_reports_no_seed(pytester: pytest.Pytester) -> None:
    result = _run(pytester, fail=False, seed=None)
    result.assert_outcomes(passed=1)
    assert "replay it with" not in result.stdout.str()


def test_a_seed_that_is_not_a_number_is_refused_with_a_clear_message(pytester: pytest.Pytester) -> None:
    result = _run(pytester, fail=False, seed="tuesday")
    assert "TEST_SEED must be an integer, not 'tuesday'" in result.stdout.str() + result.stderr.str()
