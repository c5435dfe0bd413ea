"""The Zalo ZNS adapter against a local server speaking the ZNS send call, over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.notifications.channels.http_retry import HttpTimeouts, RetryPolicy
from services.notifications.channels.zalo import CODES, ZaloConfig, ZaloZnsSender, answer_attempt
from services.notifications.ports import Channel, Message, SendOutcome
from tests.notifications.provider_servers import (
    GARBAGE,
    HANG,
    ZALO_ACCESS_TOKEN,
    ZALO_TEMPLATES,
    Code,
    ProviderServer,
    Status,
    provider,
)

FAST = RetryPolicy(attempts=3, first_backoff_s=0.05, max_backoff_s=0.1, budget_s=5.0)
SHORT = HttpTimeouts(connect_s=1.0, read_s=0.3)
P, T = SendOutcome.PERMANENT_FAILURE, SendOutcome.TEMPORARY_FAILURE

EXPECTED = {
    0: SendOutcome.SENT,
    -100: T,
    -101: P,
    -102: P,
    -103: P,
    -104: P,
    -105: P,
    -106: P,
    -107: P,
    -108: P,
    -109: P,
    -110: P,
    -111: P,
    -112: P,
    -114: P,
    -115: T,
    -117: P,
    -118: P,
    -119: P,
    -124: T,
    -131: P,
    -133: T,
    -137: T,
    -139: P,
    -141: P,
    -144: T,
    -147: T,
}


def config(server_url: str, token: str = ZALO_ACCESS_TOKEN) -> ZaloConfig:
    return ZaloConfig(
        base_url=server_url, access_token=token, templates=ZALO_TEMPLATES, timeouts=SHORT, retry=FAST
    )


def message(template: str = "accepted.zalo", to: str = "+84912345678") -> Message:
    return Message(
        idempotency_key=f"zalo-{uuid.uuid4()}",
        channel=Channel.ZALO,
        to=to,
        template=template,
        body="(ZNS renders its own registered text)",
        parameters={"item_id": "EE123456785VN", "due_date": "14/03/2025"},
    )


@pytest.fixture
def zns() -> Iterator[ProviderServer]:
    with provider("zalo") as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def test_every_listed_error_code_is_mapped_as_the_table_says() -> None:
    assert {code: outcome for code, (outcome, _) in CODES.items()} == EXPECTED


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code", "retry"),
    [
        (200, {"error": 0, "message": "Success", "data": {"msg_id": "m1"}}, SendOutcome.SENT, "0", False),
        (200, {"error": 0, "message": "Success"}, SendOutcome.SENT, "0", False),
        (200, {"error": -100, "message": "Unknown error"}, T, "-100", True),
        (200, {"error": -108, "message": "Phone number invalid"}, P, "-108", False),
        (200, {"error": -144, "message": "quota"}, T, "-144", False),
        (200, {"error": -999, "message": "new"}, T, "-999", False),
        (200, {"error": "0"}, T, "unreadable_answer", False),
        (200, None, T, "unreadable_answer", False),
        (502, None, T, "http_502", True),
        (503, None, T, "http_503", True),
        (504, None, T, "http_504", True),
        (500, None, T, "http_500", False),
        (429, None, T, "http_429", True),
        (401, None, P, "http_401", False),
    ],
)
def test_an_answer_maps_to_its_outcome_and_says_whether_to_retry(
    status: int, body: object, outcome: SendOutcome, code: str, retry: bool
) -> None:
    attempt = answer_attempt(status, body)
    assert (attempt.result.outcome, attempt.result.code, attempt.retry) == (outcome, code, retry)


def test_a_success_names_the_message_by_its_msg_id() -> None:
    body = {"error": 0, "message": "Success", "data": {"msg_id": "m1"}}
    assert answer_attempt(200, body).result.provider_message_id == "m1"
    assert answer_attempt(200, {"error": -108, "data": {"msg_id": "m1"}}).result.provider_message_id is None


async def test_a_message_goes_as_its_registered_template_with_parameters_and_tracking_id(
    zns: ProviderServer, client: httpx.AsyncClient
) -> None:
    zalo = message()
    result = await ZaloZnsSender(config(zns.url), client).send(zalo)

    assert result.outcome is SendOutcome.SENT
    assert result.code == "0"
    assert result.provider_message_id
    [(headers, body)] = zns.requests
    assert headers["access_token"] == ZALO_ACCESS_TOKEN
    assert body == {
        "phone": "84912345678",
        "template_id": ZALO_TEMPLATES["accepted.zalo"],
        "template_data": {"item_id": "EE123456785VN", "due_date": "14/03/2025"},
        "tracking_id": zalo.idempotency_key,
    }


@pytest.mark.parametrize("code", sorted(set(EXPECTED) - {0, -100}))
async def test_every_listed_error_of_the_provider_maps_over_http(
    zns: ProviderServer, client: httpx.AsyncClient, code: int
) -> None:
    zns.answer_next(Code(code))
    result = await ZaloZnsSender(config(zns.url), client).send(message())
    assert (result.outcome, result.code) == (EXPECTED[code], str(code))
    assert len(zns.requests) == 1


async def test_an_unknown_error_is_retried_as_zalo_advises(
    zns: ProviderServer, client: httpx.AsyncClient
) -> None:
    zns.answer_next(Code(-100))
    result = await ZaloZnsSender(config(zns.url), client).send(message())
    assert result.outcome is SendOutcome.SENT
    assert len(zns.requests) == 2


async def test_an_expired_access_token_is_temporary(zns: ProviderServer, client: httpx.AsyncClient) -> None:
    result = await ZaloZnsSender(config(zns.url, token="expired"), client).send(message())
    assert (result.outcome, result.code) == (T, "-124")


async def test_a_timeout_is_not_resent_since_zalo_does_not_deduplicate(
    zns: ProviderServer, client: httpx.AsyncClient
) -> None:
    zns.answer_next(HANG)
    result = await ZaloZnsSender(config(zns.url), client).send(message())
    assert (result.outcome, result.code) == (T, "timeout")
    assert len(zns.requests) == 1


async def test_a_gateway_outage_is_retried_with_backoff_then_failed(
    zns: ProviderServer, client: httpx.AsyncClient
) -> None:
    zns.answer_next(Status(503), Status(502), Status(504))
    result = await ZaloZnsSender(config(zns.url), client).send(message())
    assert (result.outcome, result.code) == (T, "http_504")
    assert len(zns.requests) == 3


async def test_a_gateway_outage_that_ends_within_the_budget_is_sent(
    zns: ProviderServer, client: httpx.AsyncClient
) -> None:
    zns.answer_next(Status(503))
    result = await ZaloZnsSender(config(zns.url), client).send(message())
    assert result.outcome is SendOutcome.SENT
    assert len(zns.requests) == 2


async def test_a_server_error_that_may_have_sent_is_not_resent(
    zns: ProviderServer, client: httpx.AsyncClient
) -> None:
    zns.answer_next(Status(500))
    result = await ZaloZnsSender(config(zns.url), client).send(message())
    assert (result.outcome, result.code) == (T, "http_500")
    assert len(zns.requests) == 1


async def test_an_answer_that_is_not_json_is_temporary_and_not_resent(
    zns: ProviderServer, client: httpx.AsyncClient
) -> None:
    zns.answer_next(GARBAGE)
    result = await ZaloZnsSender(config(zns.url), client).send(message())
    assert (result.outcome, result.code) == (T, "unreadable_answer")
    assert len(zns.requests) == 1


async def test_a_refused_connection_is_retried_then_temporary(client: httpx.AsyncClient) -> None:
    with provider("zalo") as gone:
        url = gone.url
    result = await ZaloZnsSender(config(url), client).send(message())
    assert (result.outcome, result.code) == (T, "connect_error")


async def test_a_template_without_a_registered_zns_id_is_permanent_without_calling_zalo(
    zns: ProviderServer, client: httpx.AsyncClient
) -> None:
    result = await ZaloZnsSender(config(zns.url), client).send(message(template="closed.zalo"))
    assert (result.outcome, result.code) == (P, "template_not_registered")
    assert zns.requests == []


async def test_a_number_that_is_not_a_vietnamese_mobile_is_permanent_without_calling_zalo(
    zns: ProviderServer, client: httpx.AsyncClient
) -> None:
    result = await ZaloZnsSender(config(zns.url), client).send(message(to="0123"))
    assert (result.outcome, result.code) == (P, "invalid_phone")
    assert zns.requests == []
