"""The state the consumers must end in, computed from the events read back from the Kafka log with the pure
domain code, and the comparisons with what they stored.

Tracker: every dossier row equals the fold of the dossier's events (services/tracker/domain.py), and every
event is stored once. Turnaround: every clock equals `clocks_of(facts)` (services/turnaround/domain.py),
and the tallies equal what the projector counts when it applies each event once. Alerts: one per
(dossier, leg, generation, threshold), every open clock past its threshold has its alert, and each alert
reaches Kafka with its deterministic id.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import ConsumerRecord
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import Leg
from contracts.envelope import Envelope, decode
from contracts.events import Event
from services.shared.calendar import load_calendar
from services.shared.catalog import load_catalog
from services.shared.legal_rules import default_legal_rules
from services.tracker.adapters.tables import dossier as tracker_dossier
from services.tracker.adapters.tables import event as tracker_event
from services.tracker.domain import fold, stage_entries
from services.tracker.handlers import CatalogAgencyDue, PhoneDigest, stage_changed_id, to_entry
from services.turnaround import domain as clocks
from services.turnaround.adapters import repository as turnaround_repository
from services.turnaround.adapters.tables import clock_alert
from services.turnaround.app import load_rules
from services.turnaround.domain import Clock, ClockState, Facts, Threshold
from services.turnaround.handlers import ClockProjector, Tallies
from services.turnaround.settings import TurnaroundSettings
from tests.tracker.support import settings_for, stored_row


def events_of(records: Iterable[ConsumerRecord[bytes, bytes]]) -> dict[str, list[Envelope[Event]]]:
    """The log's events by dossier, in log order (one partition per dossier and topic)."""
    out: dict[str, list[Envelope[Event]]] = defaultdict(list)
    for record in records:
        envelope = decode(record.value, record.key)
        out[envelope.subject].append(envelope)
    return dict(out)


# --------------------------------------------------------------------------- tracker


@dataclass
class TrackerReport:
    events: int = 0
    stored_events: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong_rows: list[str] = field(default_factory=list)
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Of each wrong row: column → (stored, expected)."""


async def compare_tracker(engine: AsyncEngine, log: Mapping[str, Sequence[Envelope[Event]]]) -> TrackerReport:
    digest = PhoneDigest(settings_for("sqlite://").phone_digest_keys())
    due = CatalogAgencyDue(load_catalog(), load_calendar(), default_legal_rules())
    report = TrackerReport()
    ids = sorted(log)
    logged = {str(e.id) for events in log.values() for e in events}
    report.events = len(logged)
    async with engine.connect() as conn:
        stored_ids = [
            row.event_id
            for row in await conn.execute(
                select(tracker_event.c.event_id).where(tracker_event.c.dossier_id.in_(ids))
            )
        ]
        rows = {
            row.dossier_id: dict(row._mapping)
            for row in await conn.execute(
                select(tracker_dossier).where(tracker_dossier.c.dossier_id.in_(ids))
            )
        }
    report.stored_events = len(stored_ids)
    report.missing = sorted(logged - set(stored_ids))
    report.unexpected = sorted(set(stored_ids) - logged)
    for dossier_id, events in log.items():
        expected = stored_row(fold(dossier_id, [to_entry(e, digest) for e in events], due))
        if rows.get(dossier_id) != expected:
            report.wrong_rows.append(dossier_id)
            stored = rows.get(dossier_id) or {}
            report.differences.setdefault(
                dossier_id, {k: (stored.get(k), v) for k, v in expected.items() if stored.get(k) != v}
            )
    return report


def stage_entries_published(
    log: Mapping[str, Sequence[Envelope[Event]]], records: Iterable[ConsumerRecord[bytes, bytes]]
) -> tuple[list[str], list[str]]:
    """(the stage entries of the log's folds that no message announced, the messages that announce no
    stage entry of them): both empty when every stage entered was published, under its one id."""
    digest = PhoneDigest(settings_for("sqlite://").phone_digest_keys())
    due = CatalogAgencyDue(load_catalog(), load_calendar(), default_legal_rules())
    expected = {
        str(stage_changed_id(entry))
        for dossier_id, events in log.items()
        for entry in stage_entries(fold(dossier_id, [to_entry(e, digest) for e in events], due))
    }
    published = {str(decode(record.value, record.key).id) for record in records}
    return sorted(expected - published), sorted(published - expected)


# --------------------------------------------------------------------------- turnaround


# The one field of a finished or cancelled clock that depends on which topic was read first: an agency
# clock finished (result ready, agency topic) before the handover (postal topic) was consumed keeps no
# handover post office. It labels no metric; the field, which does, is settled before a clock is counted
# (services/turnaround/domain.py reconcile, tests/reliability/test_replay_order.py).
ORDER_DEPENDENT = ("post_office_code",)


def expected_facts(events: Sequence[Envelope[Event]]) -> Facts:
    facts = Facts()
    for envelope in sorted(events, key=lambda e: e.time):
        facts = clocks.record(facts, envelope)
    return facts


@dataclass
class TurnaroundReport:
    clocks: int = 0
    wrong_clocks: list[tuple[str, str]] = field(default_factory=list)
    order_dependent: int = 0
    wrong_tallies: dict[Any, tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=dict)
    alerts: int = 0
    missing_alerts: list[tuple[str, str, int, str]] = field(default_factory=list)
    wrong_alert_ids: list[tuple[str, str, int, str]] = field(default_factory=list)
    expected_clocks: dict[tuple[str, Leg], Clock] = field(default_factory=dict)


def _without_order_dependent(clock: Clock) -> Clock:
    return replace(clock, post_office_code=None) if not clock.is_open else clock


async def compare_turnaround(
    engine: AsyncEngine, log: Mapping[str, Sequence[Envelope[Event]]], today: Any
) -> TurnaroundReport:
    rules = load_rules(TurnaroundSettings())
    projector = ClockProjector(rules, lambda: datetime.now(UTC))
    report = TurnaroundReport()
    tallies = Tallies()
    for dossier_id, events in log.items():
        facts = Facts()
        for envelope in sorted(events, key=lambda e: e.time):
            before = facts
            facts = clocks.record(facts, envelope)
            projector._count_event(envelope, tallies)
            if clocks.journey(before, rules) is None and clocks.journey(facts, rules) is not None:
                projector._count_journey(facts, tallies)
        for leg, clock in clocks.clocks_of(facts, rules).items():
            finished = clock.state is ClockState.FINISHED
            report.expected_clocks[(dossier_id, leg)] = replace(clock, counted=finished)
            if finished:
                projector._count_finished(clock, tallies)
    report.clocks = len(report.expected_clocks)

    async with engine.connect() as conn:
        stored = await turnaround_repository.load_clocks(conn, list(log))
        stored_tallies = await turnaround_repository.read_tallies(conn)
        alerts = (
            await conn.execute(select(clock_alert).where(clock_alert.c.dossier_id.in_(list(log))))
        ).all()
    for clock_key, clock in report.expected_clocks.items():
        found = stored.get(clock_key)
        if found is None or _without_order_dependent(found) != _without_order_dependent(clock):
            report.wrong_clocks.append((clock_key[0], clock_key[1].value))
        elif found != clock:
            report.order_dependent += 1
    report.wrong_clocks.extend((d, leg.value) for d, leg in set(stored) - set(report.expected_clocks))

    want: Counter[Any] = Counter()
    want_total: Counter[Any] = Counter()
    for tally, (count, total) in tallies.increments.items():
        want[tally] += count
        want_total[tally] += total
    got: Counter[Any] = Counter()
    got_total: Counter[Any] = Counter()
    for tally, count, total in stored_tallies:
        got[tally] += count
        got_total[tally] += total
    for tally in set(want) | set(got):
        if (want[tally], want_total[tally]) != (got[tally], got_total[tally]):
            report.wrong_tallies[tally] = ((want[tally], want_total[tally]), (got[tally], got_total[tally]))

    report.alerts = len(alerts)
    raised = {(a.dossier_id, a.leg, a.generation, a.threshold): a.event_id for a in alerts}
    for alert, event_id in raised.items():
        if event_id != str(clocks.alert_event_id(alert[0], Leg(alert[1]), alert[2], Threshold(alert[3]))):
            report.wrong_alert_ids.append(alert)
    for (dossier_id, leg), clock in report.expected_clocks.items():
        threshold = clocks.threshold_reached(clock, today, rules.calendar)
        if threshold is not None and (dossier_id, leg.value, clock.generation, threshold.value) not in raised:
            report.missing_alerts.append((dossier_id, leg.value, clock.generation, threshold.value))
    return report


@dataclass
class TopicReport:
    records: int = 0
    copies: int = 0
    foreign: int = 0
    unpublished: list[str] = field(default_factory=list)
    copies_differ: list[str] = field(default_factory=list)
    keys_with_two_ids: list[Any] = field(default_factory=list)
    # Alerts of this service by threshold (due soon, overdue): a workload must reach both.
    thresholds: Counter[str] = field(default_factory=Counter)


def alerts_on_topic(
    records: Iterable[ConsumerRecord[bytes, bytes]], raised: Mapping[str, datetime]
) -> TopicReport:
    """Alerts as Kafka holds them, against the alerts this service raised (event id → raised_at, the
    envelope's time). An outbox publication repeated after a crash is a copy (same id, same bytes). Another
    turnaround of the session raising the same alert uses the same id, with its own time: counted apart.
    Two ids for one clock generation and threshold, from anyone, would be an alert raised twice."""
    report = TopicReport()
    ours: dict[str, bytes] = {}
    ids_by_key: dict[tuple[str, str, int, str], set[str]] = defaultdict(set)
    for record in records:
        envelope = decode(record.value, record.key)
        report.records += 1
        event_id = str(envelope.id)
        data: Any = envelope.data
        threshold = Threshold.OVERDUE if envelope.type.endswith("overdue") else Threshold.DUE_SOON
        generation = next(
            g
            for g in range(64)
            if clocks.alert_event_id(envelope.subject, data.leg, g, threshold) == envelope.id
        )
        ids_by_key[(envelope.subject, data.leg.value, generation, threshold.value)].add(event_id)
        if raised.get(event_id) != envelope.time:
            report.foreign += 1
        elif event_id in ours:
            report.copies += 1
            if ours[event_id] != record.value:
                report.copies_differ.append(event_id)
        else:
            ours[event_id] = record.value
            report.thresholds[threshold.value] += 1
    report.unpublished = sorted(set(raised) - set(ours))
    report.keys_with_two_ids = [k for k, ids in ids_by_key.items() if len(ids) > 1]
    return report


async def raised_alerts(engine: AsyncEngine, dossier_ids: Iterable[str]) -> dict[str, datetime]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(clock_alert.c.event_id, clock_alert.c.raised_at).where(
                clock_alert.c.dossier_id.in_(list(dossier_ids))
            )
        )
        return {row.event_id: row.raised_at for row in rows}
