"""The retry loop both HTTP adapters share: exponential backoff, capped, inside one call's budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.notifications.channels.http_retry import Attempt, RetryPolicy, with_retries
from services.notifications.ports import SendOutcome, SendResult

FAILED = Attempt(SendResult(SendOutcome.TEMPORARY_FAILURE, code="http_503"), retry=True)
FINAL = Attempt(SendResult(SendOutcome.PERMANENT_FAILURE, code="108"))
SENT = Attempt(SendResult(SendOutcome.SENT, code="100"))


class Clock:
    """Time that passes only when the loop waits or an attempt takes long: no real sleeping."""

    def __init__(self, attempt_s: float = 0.0) -> None:
        self.now = 0.0
        self.attempt_s = attempt_s
        self.waits: list[float] = []
        self.budgets: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def attempts(self, *answers: Attempt) -> Callable[[float], Awaitable[Attempt]]:
        queue = list(answers)

        async def attempt(remaining_s: float) -> Attempt:
            self.budgets.append(remaining_s)
            self.now += self.attempt_s
            return queue.pop(0)

        return attempt


async def test_the_waits_double_from_the_first_backoff_up_to_the_cap() -> None:
    clock = Clock()
    policy = RetryPolicy(attempts=5, first_backoff_s=0.5, max_backoff_s=1.5, budget_s=100)
    result = await with_retries(clock.attempts(*[FAILED] * 5), policy, clock=clock, sleep=clock.sleep)
    assert result.code == "http_503"
    assert clock.waits == [0.5, 1.0, 1.5, 1.5]


async def test_the_first_final_answer_ends_the_call() -> None:
    clock = Clock()
    policy = RetryPolicy(attempts=5, first_backoff_s=0.5, budget_s=100)
    result = await with_retries(clock.attempts(FAILED, FINAL, SENT), policy, clock=clock, sleep=clock.sleep)
    assert result.code == "108"
    assert clock.waits == [0.5]


async def test_a_success_after_failures_is_the_result() -> None:
    clock = Clock()
    result = await with_retries(
        clock.attempts(FAILED, SENT), RetryPolicy(first_backoff_s=0.1), clock=clock, sleep=clock.sleep
    )
    assert result.outcome is SendOutcome.SENT


async def test_no_wait_overruns_the_budget_and_each_attempt_gets_what_is_left() -> None:
    clock = Clock(attempt_s=2.0)
    policy = RetryPolicy(attempts=10, first_backoff_s=1.0, max_backoff_s=1.0, budget_s=7.0)
    result = await with_retries(clock.attempts(*[FAILED] * 10), policy, clock=clock, sleep=clock.sleep)
    assert result.outcome is SendOutcome.TEMPORARY_FAILURE
    # Attempts at 0 s, 3 s and 6 s (each lasting 2 s, then a wait of 1 s); at 8 s a wait would overrun.
    # Each attempt is told what is left: HttpTimeouts.within caps its timeouts to that.
    assert clock.budgets == [7.0, 4.0, 1.0]
