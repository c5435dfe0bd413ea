"""The store's ceiling: the tracker's rows written to PostgreSQL by the fastest plain means, with no fold.

The bare consumer (``bench.tracker.ceiling``) says what one process can fetch; this says what the
database can take of the same work. The rows are the ones the tracker writes for the benchmark's
events — its history rows (``tracker_event``), its inbox rows (``processed_event``) and each dossier's
row as it stands after every batch — built once from the benchmark's own population before the clock
starts. Then, one transaction per batch of the tracker's batch size: COPY of the batch's event and
inbox rows, and one multi-row ``INSERT … ON CONFLICT (dossier_id) DO UPDATE`` of its dossier rows (the
last state of each dossier the batch touched). No Kafka, no decoding, no fold: the tracker's rate as a
share of this rate is what the work around the writes costs.

The tracker's parties, references, anomalies and outbox are left out: the issue's ceiling is the events,
the inbox and the dossiers, the bulk of the bytes and of the index work.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs
from aiokafka.partitioner import DefaultPartitioner
from pydantic_core import to_json
from sqlalchemy.dialects import postgresql

from bench import events as journeys
from bench.events import Population
from bench.infra import drop_database, new_migrated_database
from bench.tracker import TOPICS
from contracts.enums import Stage
from contracts.envelope import decode
from services.shared.db.engine import async_url
from services.tracker.adapters.tables import dossier, event
from services.tracker.domain import HistoryEntry
from services.tracker.handlers import PhoneDigest, to_entry

EVENT_COLUMNS = tuple(event.columns.keys())
DOSSIER_COLUMNS = tuple(dossier.columns.keys())
INBOX_COLUMNS = ("consumer", "event_id", "processed_at")
TOPIC_BY_NAME = {topic.name: topic for topic in TOPICS}

# The consumer's name in the inbox: as long as the benchmark's tracker group ("tracker-bench-" + 8 hex),
# so the inbox's key holds the same bytes.
CONSUMER = f"bench-store-{uuid.uuid4().hex[:10]}"
# Any key: the digest is the same size whatever the key (the tracker's is not the benchmark's business).
DIGEST = PhoneDigest([b"bench-store-ceiling-phone-digest-key"])

# What the fold would compute for a dossier's stage after each event type: a stand-in of the same type
# and size (an enum value of the stage column), not the fold's answer (a late event, a refusal…).
STAGE_AFTER = {
    journeys.ACCEPTED: Stage.ACCEPTED,
    journeys.IN_TRANSIT: Stage.IN_TRANSIT,
    journeys.HANDED: Stage.HANDED_TO_AGENCY,
    journeys.RECEIVED: Stage.RECEIVED,
    journeys.REGISTERED: Stage.RECEIVED,
    journeys.SUPPLEMENT_REQUESTED: Stage.AWAITING_SUPPLEMENT,
    journeys.SUPPLEMENT_RECEIVED: Stage.PROCESSING,
    journeys.PROCESSING: Stage.PROCESSING,
    journeys.DELAY: Stage.PROCESSING,
    journeys.READY: Stage.RESULT_READY,
    journeys.PICKED_UP: Stage.RESULT_PICKED_UP,
    journeys.OUT: Stage.OUT_FOR_DELIVERY,
    journeys.FAILED: Stage.DELIVERY_FAILED,
    journeys.DELIVERED: Stage.DELIVERED,
}
# The dossier's moments each event type sets (the fold sets them from the same events).
MOMENT_OF = {
    journeys.ACCEPTED: "accepted_at",
    journeys.RECEIVED: "received_at",
    journeys.REGISTERED: "filed_at",
    journeys.READY: "result_ready_at",
    journeys.PICKED_UP: "picked_up_at",
    journeys.OUT: "first_attempt_at",
    journeys.DELIVERED: "delivered_at",
}
# Values the fold copies from the events' data, carried forward as they come.
COPIED = (
    "service_form",
    "procedure_code",
    "agency_code",
    "item_id",
    "result_item_id",
    "agency_dossier_code",
)


@dataclass
class Batch:
    """One transaction's rows, ready to send: built before the clock starts."""

    events: list[tuple[Any, ...]]
    inbox: list[tuple[Any, ...]]
    dossiers: list[list[Any]]
    """One list per dossier column (the arrays of the upsert), one value per dossier of the batch."""


@dataclass
class StoreWork:
    batches: list[Batch] = field(default_factory=list)
    events: int = 0
    dossier_rows: int = 0
    """Dossier rows upserted, over all batches (a dossier counts once per batch that touched it)."""


def build(population: Population, limit: int, batch_size: int) -> StoreWork:
    """The rows of the first ``limit`` events of the population, cut into batches of ``batch_size``
    events in the order a catch-up consumer reads them: partition by partition (the producer's
    partitioner on the dossier key), each in publication order. A batch then holds about as many
    dossiers as the tracker's, whose fetches return large chunks of one partition at a time; cutting
    the publication order instead would spread every batch over twelve times as many dossiers."""
    partitions: dict[tuple[int, str], list[HistoryEntry]] = {}
    for record in population.records(limit):
        # The contract's decoder and the tracker's own conversion: exactly the history rows it writes
        # (personal data removed, the phone's digest).
        entry = to_entry(decode(record.value, record.key), DIGEST)
        topic = TOPIC_BY_NAME[record.topic]
        partition = DefaultPartitioner()(record.key, list(range(topic.partitions)), [])
        partitions.setdefault((partition, record.topic), []).append(entry)
    ordered = [entry for _, entries in sorted(partitions.items()) for entry in entries]
    work = StoreWork()
    states: dict[str, dict[str, Any]] = {}
    # One instant for the inbox, as the tracker stamps a batch's inbox rows with one.
    processed_at = datetime.now(UTC)
    for start in range(0, len(ordered), batch_size):
        work.batches.append(_batch(ordered[start : start + batch_size], states, processed_at))
    work.events = len(ordered)
    work.dossier_rows = sum(len(batch.dossiers[0]) for batch in work.batches)
    return work


def _batch(entries: Sequence[HistoryEntry], states: dict[str, dict[str, Any]], now: datetime) -> Batch:
    touched: dict[str, dict[str, Any]] = {}
    for entry in entries:
        state = states.get(entry.dossier_id)
        if state is None:
            state = states[entry.dossier_id] = _new_state(entry)
        _apply(state, entry)
        touched[entry.dossier_id] = state
    return Batch(
        events=[_event_row(entry) for entry in entries],
        inbox=[(CONSUMER, entry.event_id, now) for entry in entries],
        # A copy of each state now: later batches go on changing it.
        dossiers=[[state[name] for state in touched.values()] for name in DOSSIER_COLUMNS],
    )


def _event_row(entry: HistoryEntry) -> tuple[Any, ...]:
    # The data as the JSON text the tracker sends (asyncpg takes text for a json column).
    data = to_json(dict(entry.data)).decode()
    return tuple(data if name == "data" else getattr(entry, name) for name in EVENT_COLUMNS)


def _new_state(entry: HistoryEntry) -> dict[str, Any]:
    state: dict[str, Any] = dict.fromkeys(DOSSIER_COLUMNS)
    state.update(
        dossier_id=entry.dossier_id,
        is_open=True,
        delay_notified=False,
        failed_attempts=0,
        event_count=0,
        anomaly_count=0,
        start_event_id=entry.event_id,
        first_event_at=entry.occurred_at,
    )
    return state


def _apply(state: dict[str, Any], entry: HistoryEntry) -> None:
    data = entry.data
    at = entry.occurred_at
    kind = entry.event_type
    for name in COPIED:
        value = data.get(name)
        if isinstance(value, str):
            state[name] = value
    if kind == journeys.ACCEPTED:
        state["origin_post_office"] = data.get("post_office_code")
        state["inbound_due_date"] = _day(data.get("inbound_due_date"))
    if kind == journeys.RECEIVED:
        state["appointment_date"] = _day(data.get("appointment_date"))
        # Stand-ins of the fold's clock: a due date ten days on (the fold counts working days).
        state["agency_due_date"] = state["due_date"] = state["expected_date"] = at.date() + timedelta(10)
        state["clock"] = "AGENCY"
    if kind == journeys.PICKED_UP:
        state["return_due_date"] = _day(data.get("return_due_date"))
        state["due_date"] = state["return_due_date"]
        state["clock"] = "POSTAL_RETURN"
    if kind == journeys.DELAY:
        state["delay_notified"] = True
    if kind == journeys.FAILED:
        state["failed_attempts"] += 1
    if kind == journeys.DELIVERED:
        state.update(is_open=False, outcome="DELIVERED", closed_at=at, clock=None)
    if (moment := MOMENT_OF.get(kind)) is not None and state[moment] is None:
        state[moment] = at
    if entry.phone_digest is not None:
        state["phone_digest"] = entry.phone_digest
    state["stage"] = STAGE_AFTER.get(kind, Stage.PROCESSING).value
    state["stage_since"] = at
    # Stand-in of the custody: who signed the event (its source), cut to the column.
    state["custody_kind"] = "AGENCY" if kind.startswith("agency.") else "POST_OFFICE"
    state["custody_code"] = entry.source[-64:]
    state["custody_office"] = data.get("post_office_code")
    state["event_count"] += 1
    state["first_event_at"] = min(state["first_event_at"], at)
    if state["last_event_at"] is None or at >= state["last_event_at"]:
        state.update(last_event_at=at, last_event_type=kind, last_event_id=entry.event_id)


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


# --------------------------------------------------------------------------- writing


def _upsert_sql() -> str:
    """One INSERT … SELECT FROM unnest(one array per column) ON CONFLICT DO UPDATE: a multi-row upsert
    whose size does not depend on the row count (a VALUES list of 2,000 × 43 values would pass
    PostgreSQL's 32,767 parameters)."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    arrays = ", ".join(
        f"${n}::{dossier.c[name].type.compile(dialect=dialect)}[]"
        for n, name in enumerate(DOSSIER_COLUMNS, 1)
    )
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in DOSSIER_COLUMNS if name != "dossier_id")
    return (
        f"INSERT INTO {dossier.name} ({', '.join(DOSSIER_COLUMNS)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT (dossier_id) DO UPDATE SET {updates}"
    )


@dataclass
class StoreCeiling:
    events: int
    seconds: float
    batches: int
    dossier_upserts: int
    stored_events: int
    inbox_rows: int
    dossiers: int
    """Counted in the database afterwards: what was written, not what was meant to be."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def plain_url(database_url: str) -> str:
    """asyncpg's form of a SQLAlchemy URL (no driver suffix)."""
    url = async_url(database_url)
    scheme, rest = str(url.render_as_string(hide_password=False)).split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


async def store_ceiling(admin_url: str, work: StoreWork) -> StoreCeiling:
    """Write the work into a fresh migrated database, one transaction per batch; the clock runs from the
    first batch to the last commit."""
    database = await new_migrated_database(admin_url, "store")
    try:
        conn = await asyncpg.connect(plain_url(database))
        try:
            upsert = await conn.prepare(_upsert_sql())
            started = time.monotonic()
            for batch in work.batches:
                async with conn.transaction():
                    await conn.copy_records_to_table(event.name, records=batch.events, columns=EVENT_COLUMNS)
                    await conn.copy_records_to_table(
                        "processed_event", records=batch.inbox, columns=INBOX_COLUMNS
                    )
                    await upsert.fetch(*batch.dossiers)
            seconds = time.monotonic() - started
            counts = [
                await conn.fetchval(f"SELECT count(*) FROM {table}")
                for table in (event.name, "processed_event", dossier.name)
            ]
        finally:
            await conn.close()
    finally:
        await drop_database(admin_url, database)
    return StoreCeiling(
        events=work.events,
        seconds=seconds,
        batches=len(work.batches),
        dossier_upserts=work.dossier_rows,
        stored_events=counts[0],
        inbox_rows=counts[1],
        dossiers=counts[2],
    )
