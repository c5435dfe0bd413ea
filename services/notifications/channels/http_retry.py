"""One send over a provider's HTTP API: attempts with exponential backoff inside one call's budget.

An adapter says, for each attempt, what the answer means (a ``SendResult``) and whether another attempt
may help and is safe (the provider deduplicates the client reference, or the request surely never
reached it). The loop stops at the first final answer, after ``attempts`` tries, or when the next wait
would overrun the budget; the last answer is the result. Retrying later, across calls, is the service's
decision, made from the outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from services.notifications.backoff import doubling_backoff_s
from services.notifications.ports import SendOutcome, SendResult


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    first_backoff_s: float = 0.5
    max_backoff_s: float = 4.0
    budget_s: float = 15.0
    """For the whole call: every attempt and every wait between them."""


@dataclass(frozen=True)
class HttpTimeouts:
    connect_s: float = 3.0
    read_s: float = 10.0

    def within(self, remaining_s: float) -> httpx.Timeout:
        """This attempt's timeouts, never past what is left of the call's budget."""
        remaining = max(remaining_s, 0.001)
        read = min(self.read_s, remaining)
        return httpx.Timeout(read, connect=min(self.connect_s, remaining))


@dataclass(frozen=True)
class Attempt:
    result: SendResult
    retry: bool = False


async def with_retries(
    attempt: Callable[[float], Awaitable[Attempt]],
    policy: RetryPolicy,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> SendResult:
    """``attempt(remaining_s)`` once or more; see the module's docstring."""
    started = clock()
    outcome = await attempt(policy.budget_s)
    for retry in range(1, policy.attempts):
        if not outcome.retry:
            break
        delay = doubling_backoff_s(policy.first_backoff_s, policy.max_backoff_s, retry)
        elapsed = clock() - started
        if elapsed + delay >= policy.budget_s:
            break
        await sleep(delay)
        outcome = await attempt(policy.budget_s - (clock() - started))
    return outcome.result


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any
    """The parsed JSON, or None when the body was not JSON."""


class NoAnswerError(Exception):
    """No answer: ``reached`` says whether the request may have reached the provider (a read timeout,
    a connection cut mid-answer) or surely did not (refused, a connect timeout)."""

    def __init__(self, code: str, *, reached: bool) -> None:
        super().__init__(code)
        self.code = code
        self.reached = reached


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    timeouts: httpx.Timeout,
) -> HttpAnswer:
    try:
        response = await client.post(url, json=body, headers=headers, timeout=timeouts)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
        raise NoAnswerError("connect_error", reached=False) from None
    except httpx.TimeoutException:
        raise NoAnswerError("timeout", reached=True) from None
    except httpx.TransportError:
        raise NoAnswerError("transport_error", reached=True) from None
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    return HttpAnswer(response.status_code, parsed)


def temporary(code: str, detail: str, *, retry: bool) -> Attempt:
    return Attempt(SendResult(SendOutcome.TEMPORARY_FAILURE, code=code, detail=detail), retry=retry)


def permanent(code: str, detail: str) -> Attempt:
    return Attempt(SendResult(SendOutcome.PERMANENT_FAILURE, code=code, detail=detail))


def http_status_attempt(status: int, *, retry_5xx: bool) -> Attempt | None:
    """What an HTTP status other than 200 means, the same for every provider: None for a 200 (the body
    says the rest)."""
    if status == 200:
        return None
    if status == 429:
        return temporary("http_429", "the provider is throttling", retry=True)
    if status >= 500:
        return temporary(f"http_{status}", "the provider failed", retry=retry_5xx)
    return permanent(f"http_{status}", "the provider refused the request")
