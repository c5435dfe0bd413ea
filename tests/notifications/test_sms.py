"""The eSMS adapter against a local server speaking eSMS's documented send call, over real HTTP."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.notifications.channels.http_retry import HttpTimeouts, RetryPolicy
from services.notifications.channels.sms import (
    CODES,
    EsmsConfig,
    EsmsSender,
    answer_attempt,
    callback_signature,
)
from services.notifications.ports import Channel, Message, SendOutcome
from tests.notifications.provider_servers import (
    DUPLICATE,
    ESMS_API_KEY,
    ESMS_SECRET_KEY,
    GARBAGE,
    HANG,
    Code,
    ProviderServer,
    Status,
    provider,
)

PHONE = "+84912345678"
CALLBACK = "https://notify.example.vn/receipts/sms"
SECRET = b"callback-secret"
FAST = RetryPolicy(attempts=3, first_backoff_s=0.05, max_backoff_s=0.1, budget_s=5.0)
SHORT = HttpTimeouts(connect_s=1.0, read_s=0.3)


def config(server_url: str, retry: RetryPolicy = FAST) -> EsmsConfig:
    return EsmsConfig(
        base_url=server_url,
        api_key=ESMS_API_KEY,
        secret_key=ESMS_SECRET_KEY,
        brandname="BUUDIEN",
        callback_url=CALLBACK,
        callback_secret=SECRET,
        timeouts=SHORT,
        retry=retry,
    )


def message(body: str = "Ho so da duoc tiep nhan", to: str = PHONE) -> Message:
    return Message(
        idempotency_key=f"sms-{uuid.uuid4()}", channel=Channel.SMS, to=to, template="accepted.sms", body=body
    )


@pytest.fixture
def esms() -> Iterator[ProviderServer]:
    with provider("esms") as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


# --------------------------------------------------------------------------- the mapping, as a table

EXPECTED = {
    "100": SendOutcome.SENT,
    "124": SendOutcome.DUPLICATE,
    "99": SendOutcome.PERMANENT_FAILURE,
    "101": SendOutcome.PERMANENT_FAILURE,
    "102": SendOutcome.PERMANENT_FAILURE,
    "103": SendOutcome.TEMPORARY_FAILURE,
    "104": SendOutcome.PERMANENT_FAILURE,
    "108": SendOutcome.PERMANENT_FAILURE,
    "118": SendOutcome.PERMANENT_FAILURE,
    "140": SendOutcome.PERMANENT_FAILURE,
    "146": SendOutcome.PERMANENT_FAILURE,
    "177": SendOutcome.PERMANENT_FAILURE,
}


def test_every_documented_code_is_mapped_as_the_table_says() -> None:
    assert {code: outcome for code, (outcome, _) in CODES.items()} == EXPECTED


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code", "retry"),
    [
        (200, {"CodeResult": "100", "SMSID": "abc"}, SendOutcome.SENT, "100", False),
        (200, {"CodeResult": 100, "SMSID": "abc"}, SendOutcome.SENT, "100", False),
        (200, {"CodeResult": "124"}, SendOutcome.DUPLICATE, "124", False),
        (200, {"CodeResult": "108"}, SendOutcome.PERMANENT_FAILURE, "108", False),
        (200, {"CodeResult": "103"}, SendOutcome.TEMPORARY_FAILURE, "103", False),
        (200, {"CodeResult": "555"}, SendOutcome.TEMPORARY_FAILURE, "555", False),
        (200, {"no": "code"}, SendOutcome.TEMPORARY_FAILURE, "unreadable_answer", True),
        (200, None, SendOutcome.TEMPORARY_FAILURE, "unreadable_answer", True),
        (503, None, SendOutcome.TEMPORARY_FAILURE, "http_503", True),
        (500, None, SendOutcome.TEMPORARY_FAILURE, "http_500", True),
        (429, None, SendOutcome.TEMPORARY_FAILURE, "http_429", True),
        (400, None, SendOutcome.PERMANENT_FAILURE, "http_400", False),
        (404, {"CodeResult": "100"}, SendOutcome.PERMANENT_FAILURE, "http_404", False),
    ],
)
def test_an_answer_maps_to_its_outcome_and_says_whether_to_retry(
    status: int, body: object, outcome: SendOutcome, code: str, retry: bool
) -> None:
    attempt = answer_attempt(status, body)
    assert (attempt.result.outcome, attempt.result.code, attempt.retry) == (outcome, code, retry)


def test_only_an_accepted_answer_names_the_message() -> None:
    assert answer_attempt(200, {"CodeResult": "100", "SMSID": "abc"}).result.provider_message_id == "abc"
    assert answer_attempt(200, {"CodeResult": "108", "SMSID": "abc"}).result.provider_message_id is None


# --------------------------------------------------------------------------- over HTTP


async def test_a_message_is_sent_to_84_with_its_key_as_request_id_and_a_signed_callback(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    sms = message()
    result = await EsmsSender(config(esms.url), client).send(sms)

    assert result.outcome is SendOutcome.SENT
    assert result.code == "100"
    assert result.provider_message_id
    [body] = esms.bodies()
    assert body["Phone"] == "84912345678"
    assert body["RequestId"] == sms.idempotency_key
    assert body["SmsType"] == "2"
    assert body["Brandname"] == "BUUDIEN"
    assert body["Content"] == sms.body
    assert body["IsUnicode"] == "0"
    assert body["CallbackUrl"] == f"{CALLBACK}?sig={callback_signature(SECRET, sms.idempotency_key)}"


async def test_a_text_with_vietnamese_diacritics_goes_as_unicode(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    result = await EsmsSender(config(esms.url), client).send(message("Hồ sơ đã được tiếp nhận"))
    assert result.outcome is SendOutcome.SENT
    assert esms.bodies()[0]["IsUnicode"] == "1"


@pytest.mark.parametrize("code", sorted(set(EXPECTED) - {"100"}))
async def test_every_documented_answer_of_the_provider_maps_over_http(
    esms: ProviderServer, client: httpx.AsyncClient, code: str
) -> None:
    esms.answer_next(Code(code))
    result = await EsmsSender(config(esms.url), client).send(message())
    assert (result.outcome, result.code) == (EXPECTED[code], code)
    assert len(esms.requests) == 1, "a provider's own answer is not retried inside the call"


async def test_the_same_message_sent_twice_is_a_duplicate_the_second_time(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    sender = EsmsSender(config(esms.url), client)
    sms = message()
    first, second = await sender.send(sms), await sender.send(sms)
    assert first.outcome is SendOutcome.SENT
    assert (second.outcome, second.code) == (SendOutcome.DUPLICATE, "124")


async def test_a_duplicate_answer_counts_as_a_duplicate(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    esms.answer_next(DUPLICATE)
    result = await EsmsSender(config(esms.url), client).send(message())
    assert result.outcome is SendOutcome.DUPLICATE


async def test_a_timeout_is_retried_and_the_resend_is_recognised_as_a_duplicate(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    # The held request reached eSMS; the resend carries the same RequestId, so eSMS sends one SMS
    # whichever of the two it processes first (the other answers 124).
    esms.answer_next(HANG)
    result = await EsmsSender(config(esms.url), client).send(message())
    assert result.outcome is SendOutcome.SENT
    assert len(esms.requests) == 2
    assert esms.bodies()[0]["RequestId"] == esms.bodies()[1]["RequestId"]


async def test_a_provider_that_never_answers_is_a_temporary_failure_after_the_attempts(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    esms.answer_next(HANG, HANG, HANG)
    result = await EsmsSender(config(esms.url), client).send(message())
    assert (result.outcome, result.code) == (SendOutcome.TEMPORARY_FAILURE, "timeout")
    assert len(esms.requests) == 3


async def test_an_outage_is_retried_with_backoff_then_failed(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    esms.answer_next(Status(503), Status(503), Status(503))
    result = await EsmsSender(config(esms.url), client).send(message())
    assert (result.outcome, result.code) == (SendOutcome.TEMPORARY_FAILURE, "http_503")
    assert len(esms.requests) == 3


async def test_an_outage_that_ends_within_the_budget_is_sent(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    esms.answer_next(Status(502), Status(429))
    result = await EsmsSender(config(esms.url), client).send(message())
    assert result.outcome is SendOutcome.SENT
    assert len(esms.requests) == 3


async def test_the_retries_stay_within_the_calls_budget(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    tight = RetryPolicy(attempts=10, first_backoff_s=0.05, max_backoff_s=0.05, budget_s=0.8)
    esms.answer_next(*[HANG] * 10)
    started = time.monotonic()
    result = await EsmsSender(config(esms.url, tight), client).send(message())
    elapsed = time.monotonic() - started
    assert result.outcome is SendOutcome.TEMPORARY_FAILURE
    assert elapsed < 0.8 + 0.5, elapsed
    assert len(esms.requests) < 10


async def test_an_answer_that_is_not_json_is_retried_then_temporary(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    esms.answer_next(GARBAGE, GARBAGE, GARBAGE)
    result = await EsmsSender(config(esms.url), client).send(message())
    assert (result.outcome, result.code) == (SendOutcome.TEMPORARY_FAILURE, "unreadable_answer")


async def test_a_refused_connection_is_a_temporary_failure(client: httpx.AsyncClient) -> None:
    with provider("esms") as gone:
        url = gone.url
    result = await EsmsSender(config(url), client).send(message())
    assert (result.outcome, result.code) == (SendOutcome.TEMPORARY_FAILURE, "connect_error")


async def test_wrong_credentials_are_a_permanent_failure(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    wrong = EsmsConfig(base_url=esms.url, api_key="nope", secret_key="nope", brandname="BUUDIEN", retry=FAST)
    result = await EsmsSender(wrong, client).send(message())
    assert (result.outcome, result.code) == (SendOutcome.PERMANENT_FAILURE, "101")
    assert "CallbackUrl" not in esms.bodies()[0]


async def test_a_number_that_is_not_a_vietnamese_mobile_is_refused_without_calling_the_provider(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    result = await EsmsSender(config(esms.url), client).send(message(to="+33612345678"))
    assert (result.outcome, result.code) == (SendOutcome.PERMANENT_FAILURE, "invalid_phone")
    assert "33612345678" not in (result.detail or "")
    assert esms.requests == []


async def test_a_long_idempotency_key_goes_as_a_stable_50_character_request_id(
    esms: ProviderServer, client: httpx.AsyncClient
) -> None:
    key = "dossier:" + str(uuid.uuid4()) + ":delivery_failed:sms"
    sms = Message(idempotency_key=key, channel=Channel.SMS, to=PHONE, template="t.sms", body="x")
    sender = EsmsSender(config(esms.url), client)
    first, second = await sender.send(sms), await sender.send(sms)
    ids = [body["RequestId"] for body in esms.bodies()]
    assert len(ids[0]) == 50 and ids[0] == ids[1]
    assert (first.outcome, second.outcome) == (SendOutcome.SENT, SendOutcome.DUPLICATE)


async def test_the_phone_number_and_text_are_never_logged(
    esms: ProviderServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    esms.answer_next(Status(503))
    await EsmsSender(config(esms.url), client).send(message("Ho so 912345678 noi dung rieng"))
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "912345678" not in logged
    assert "noi dung rieng" not in logged
