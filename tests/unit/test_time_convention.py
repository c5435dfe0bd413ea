"""One time convention for every event: a time is written in RFC 3339 with the offset +07:00 (Vietnam
time, where every fact of this system happens), whatever offset the producer held it in; it is read
with any offset; a naive time is refused."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from contracts.envelope import Envelope, decode, encode
from contracts.errors import ContractError, Reason
from contracts.events import EVENT_TYPES, Event, EventKey, StageChanged
from contracts.samples import SAMPLE_DOSSIER_ID, sample_envelope
from contracts.values import RFC3339_VIETNAM, AwareTime, rfc3339
from services.tracker.domain import Custody, HistoryEntry, StageChange, StageEntry
from services.tracker.handlers import stage_changed_payload

# Anything that starts like a date and a time of day: the test must see every time, even one written
# in a form the convention forbids.
LOOKS_LIKE_A_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")


def times_in(document: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, text) of a JSON document whose text reads as a date with a time of day."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from times_in(value, f"{path}.{key}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from times_in(value, f"{path}[{index}]")
    elif isinstance(document, str) and LOOKS_LIKE_A_TIME.match(document):
        yield path, document


def assert_written_in_vietnam_time(document: Any) -> list[str]:
    """Asserts the convention on every time of the document; returns their paths."""
    found = list(times_in(document))
    wrong = [f"{path} = {text}" for path, text in found if not re.fullmatch(RFC3339_VIETNAM, text)]
    assert not wrong, "times not written as RFC 3339 with +07:00:\n" + "\n".join(wrong)
    return [path for path, _ in found]


def in_utc(event: Event) -> Event:
    """The same event with each of its times held in UTC, as a producer reading the clock would."""
    moved = {
        name: value.astimezone(UTC)
        for name, value in event
        if isinstance(value, datetime) and value.tzinfo is not None
    }
    return event.model_copy(update=moved)


@pytest.mark.parametrize("key", list(EVENT_TYPES), ids=lambda k: f"{k[0]}.v{k[1]}")
def test_every_event_writes_its_times_in_vietnam_time_whatever_offset_it_was_made_with(
    key: EventKey,
) -> None:
    sample = sample_envelope(key)
    held_in_utc = Envelope.new(
        in_utc(sample.data),
        subject=sample.subject,
        source=sample.source,
        time=sample.time.astimezone(UTC),
        id=sample.id,
    )

    written = json.loads(encode(held_in_utc))

    assert ".time" in assert_written_in_vietnam_time(written)
    assert decode(encode(held_in_utc)) == sample, "the same instants, read back"


def test_an_envelope_read_with_any_offset_is_written_back_in_vietnam_time() -> None:
    sample = json.loads(encode(sample_envelope(("postal.dossier_handed_to_agency", 1))))
    sample["time"] = "2025-03-13T21:30:00-05:00"
    sample["data"]["signed_at"] = "2025-03-17T03:15:00Z"

    envelope = decode(json.dumps(sample).encode())
    written = json.loads(encode(envelope))

    assert written["time"] == "2025-03-14T09:30:00+07:00"
    assert written["data"]["signed_at"] == "2025-03-17T10:15:00+07:00"


@pytest.mark.parametrize(
    ("field", "reason"), [("time", Reason.NOT_AN_ENVELOPE), ("signed_at", Reason.INVALID_DATA)]
)
def test_an_envelope_with_a_naive_time_is_refused_naming_the_field(field: str, reason: Reason) -> None:
    sample = json.loads(encode(sample_envelope(("postal.dossier_handed_to_agency", 1))))
    (sample if field == "time" else sample["data"])[field] = "2025-03-17T10:15:00"

    with pytest.raises(ContractError) as refused:
        decode(json.dumps(sample).encode())

    assert refused.value.reason is reason
    assert field in refused.value.detail
    assert "2025-03-17" not in refused.value.detail


def test_a_stage_change_the_tracker_publishes_writes_its_time_in_vietnam_time() -> None:
    cause = HistoryEntry(
        event_id=str(uuid.uuid4()),
        dossier_id=SAMPLE_DOSSIER_ID,
        event_type="postal.dossier_accepted",
        version=1,
        occurred_at=datetime(2025, 3, 14, 2, 30, tzinfo=UTC),  # the fold keeps times in UTC
        source="/post-offices/100000",
        data={},
    )
    published = sample_envelope(("tracker.stage_changed", 1)).data
    assert isinstance(published, StageChanged)
    entry = StageEntry(
        dossier_id=SAMPLE_DOSSIER_ID,
        from_stage=None,
        to_stage=published.to_stage,
        custody=Custody(kind=published.custody.kind, code=None, office=None),
        cause=cause,
    )
    change = StageChange(entry=entry, late=False, current_stage=published.to_stage)

    _, payload = stage_changed_payload(change)

    assert json.loads(payload)["time"] == "2025-03-14T09:30:00+07:00"


class _Stamped(BaseModel):
    at: AwareTime


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("2025-03-14T02:30:00Z", "2025-03-14T09:30:00+07:00"),
        ("2025-03-14T09:30:00+07:00", "2025-03-14T09:30:00+07:00"),
        ("2025-03-13T21:30:00.250-05:00", "2025-03-14T09:30:00.250000+07:00"),
        ("2025-03-14T11:30:00+09:00", "2025-03-14T09:30:00+07:00"),
    ],
)
def test_a_time_read_with_any_offset_is_written_with_plus_seven(given: str, written: str) -> None:
    stamped = _Stamped.model_validate({"at": given})

    assert json.loads(stamped.model_dump_json())["at"] == written
    assert rfc3339(stamped.at) == written
    assert stamped.at == datetime.fromisoformat(given), "the same instant"


def test_a_naive_time_is_refused_as_timezone_aware_naming_no_value() -> None:
    with pytest.raises(ValidationError) as refused:
        _Stamped.model_validate({"at": "2025-03-14T09:30:00"})

    assert [e["type"] for e in refused.value.errors()] == ["timezone_aware"]


def test_python_dumps_keep_the_offset_the_time_came_with() -> None:
    seoul = timezone(timedelta(hours=9))
    stamped = _Stamped(at=datetime(2025, 3, 14, 11, 30, tzinfo=seoul))

    assert stamped.model_dump()["at"].utcoffset() == timedelta(hours=9)


OPENAPI = Path(__file__).resolve().parents[2] / "contracts" / "openapi"


def _response_times(
    node: Any, root: dict[str, Any], path: str, seen: frozenset[str]
) -> Iterator[tuple[str, Any]]:
    """Every date-time schema reachable from a response schema, through $ref, properties and unions."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            target: Any = root
            for part in ref.removeprefix("#/").split("/"):
                target = target[part]
            yield from _response_times(target, root, f"{path}->{ref.rsplit('/', 1)[-1]}", seen | {ref})
        if node.get("format") == "date-time":
            yield path, node
        for key, value in node.items():
            if key != "$ref":
                yield from _response_times(value, root, f"{path}.{key}", seen)
    elif isinstance(node, list):
        for value in node:
            yield from _response_times(value, root, path, seen)


@pytest.mark.parametrize("service", ["post_office", "agency", "tracker", "turnaround"])
def test_every_time_in_every_documented_answer_is_declared_in_vietnam_time(service: str) -> None:
    document = json.loads((OPENAPI / f"{service}.json").read_text(encoding="utf-8"))
    wrong = [
        f"{method.upper()} {route} {status}{where}"
        for route, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        for where, schema in _response_times(answer.get("content", {}), document, "", frozenset())
        if schema.get("pattern") != RFC3339_VIETNAM
    ]
    assert not wrong, "answers with a time not declared as RFC 3339 +07:00:\n" + "\n".join(wrong)
