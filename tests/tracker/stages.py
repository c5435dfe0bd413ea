"""Assertions on the stage changes the tracker publishes: the stage stream's guarantee."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from typing import Any

from aiokafka.structs import ConsumerRecord
from sqlalchemy import select

from contracts.envelope import Envelope
from contracts.events import Event, StageChanged
from services.tracker.adapters.tables import outbox
from services.tracker.app import Tracker
from services.tracker.domain import fold, stage_entries
from services.tracker.handlers import stage_changed_id, to_entry
from tests.tracker.journeys import Dossier


async def published(tracker: Tracker, dossier_id: str) -> list[Envelope[StageChanged]]:
    """The dossier's stage changes in the order the outbox relay would publish them."""
    async with tracker.engine.connect() as conn:
        payloads = (
            await conn.execute(
                select(outbox.c.payload).where(outbox.c.dossier_id == dossier_id).order_by(outbox.c.seq)
            )
        ).scalars()
        return [Envelope[StageChanged].model_validate_json(payload) for payload in payloads]


def final_entries(tracker: Tracker, dossier: Dossier, events: list[Envelope[Event]]) -> dict[uuid.UUID, Any]:
    """The stage entries of the fold of the whole history, by the id each is published under."""
    view = fold(dossier.dossier_id, [to_entry(e, tracker.digest) for e in events], tracker.due)
    return {stage_changed_id(entry): entry for entry in stage_entries(view)}


def assert_every_stage_entered_published_once(
    tracker: Tracker, dossier: Dossier, events: list[Envelope[Event]], messages: list[Envelope[StageChanged]]
) -> None:
    expected = final_entries(tracker, dossier, events)
    ids = Counter(message.id for message in messages)
    assert [i for i, n in ids.items() if n > 1] == [], "a stage entry published twice"
    assert set(ids) == set(expected), "published stage entries differ from the fold's"
    for message in messages:
        entry = expected[message.id]
        assert (message.data.to_stage, str(message.data.cause_event_id)) == (
            entry.to_stage,
            entry.cause.event_id,
        )
        assert message.time == entry.cause.occurred_at, "a stage carries its own occurrence time"
    final = fold(dossier.dossier_id, [to_entry(e, tracker.digest) for e in events], tracker.due)
    assert messages[-1].data.current_stage is final.stage


def stage_changes_on_topic(
    records: Iterable[ConsumerRecord[bytes, bytes]],
) -> dict[str, list[Envelope[StageChanged]]]:
    """The stage changes read from the topic, by dossier, in topic order. A record sent again (the relay
    died between Kafka's acknowledgement and its delete) carries the same id and bytes: subscribers
    deduplicate it, and so does this."""
    seen: dict[uuid.UUID, bytes] = {}
    by_dossier: dict[str, list[Envelope[StageChanged]]] = {}
    for record in records:
        envelope = Envelope[StageChanged].model_validate_json(record.value)
        if envelope.id in seen:
            assert seen[envelope.id] == record.value, "a re-sent stage change differs from the first"
            continue
        seen[envelope.id] = record.value
        by_dossier.setdefault(envelope.subject, []).append(envelope)
    return by_dossier
