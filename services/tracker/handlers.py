"""Use case of the tracker's consumer: project a batch of events (the lookups: services.tracker.lookups).

Projecting a batch (``Projector``) runs inside the consumer's transaction (services.shared.consuming).
It reads the stored state of every dossier the batch touches in one query. A dossier whose new events
all sort after its last known event (the common case) resumes its fold from that row; one that gets a
late event (an offline scanner) has its whole history read (one query for all such dossiers) and folded
again, so the late event simply takes its place. History rows, dossier rows, parties, references,
anomalies and outbox rows are then written with one bulk statement per table.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

from pydantic_core import to_json
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.enums import Stage
from contracts.envelope import Envelope, dataschema_uri
from contracts.events import (
    AgencyPersonalDataErased,
    DeliveryFailed,
    DossierAccepted,
    DossierAcceptedV2,
    DossierRegisteredForReturn,
    DossierRegisteredForReturnV2,
    Event,
    StageChanged,
)
from contracts.events import PersonalDataErased as PostalPersonalDataErased
from contracts.sources import TRACKER_SOURCE
from contracts.values import VIETNAM_OFFSET
from services.shared.calendar import WorkingCalendar, agency_due_date
from services.shared.catalog import Catalog, UnknownProcedureError
from services.shared.legal_rules import LegalRules
from services.shared.personal_data.phone_check import PhoneDigest
from services.shared.personal_data.upcast import upcast
from services.tracker.adapters import repository
from services.tracker.domain import (
    AgencyDuePolicy,
    Custody,
    DossierView,
    HistoryEntry,
    PartyKind,
    StageChange,
    StageEntry,
    fold,
    history_entry,
    parties,
    references,
    resume,
    stage_changes,
    stage_entries,
    without_personal_data,
)
from services.tracker.metrics import TrackerMetrics
from services.tracker.write_back import WriteBackViews

# Fixed for ever: the ids of published stage changes derive from it.
STAGE_CHANGED_NAMESPACE = uuid.UUID("6f1d3c8e-5b0a-4f7e-9a51-2c4d8e7f9b13")


# --------------------------------------------------------------------------- inputs of the fold

__all__ = ["PhoneDigest"]  # moved to services.shared.personal_data; imported from here by earlier code


class CatalogAgencyDue:
    """The agency due date of a filing, by the procedure's legal target and the working-day calendar."""

    def __init__(self, catalog: Catalog, calendar: WorkingCalendar, legal: LegalRules) -> None:
        self._catalog = catalog
        self._calendar = calendar
        self._legal = legal

    def agency_due(self, procedure_code: str, filed_at: datetime) -> date | None:
        try:
            procedure = self._catalog.get(procedure_code)
        except UnknownProcedureError:
            return None
        return agency_due_date(filed_at, procedure.target, self._calendar, self._legal.cutoff_at(filed_at))


# Sets of classes compared with ``type(data)``, not ``isinstance``: pydantic's models have an abstract
# metaclass, whose instance check costs several times a set lookup, for each class and event. The
# contract's decoder gives these exact classes, and no event class is subclassed.
UPCAST = frozenset({DossierAccepted, DossierRegisteredForReturn, DeliveryFailed})
"""The versions ``upcast`` reads in a newer form; every other event skips the call."""
WITH_PHONE_CHECK = frozenset({DossierAcceptedV2, DossierRegisteredForReturnV2})


def to_entry(envelope: Envelope[Event], digest: PhoneDigest) -> HistoryEntry:
    """What the tracker keeps of an event: no personal data, the phone's last digits only as a digest.

    A version 1 event that carried the applicant's contact is read in its version 2 form (``upcast``):
    one code path, and the history holds the same thing whichever version was published."""
    if type(envelope.data) in UPCAST:
        envelope = upcast(envelope, digest)
    data = envelope.data
    kept = without_personal_data(data)
    phone_digest = None
    if type(data) in WITH_PHONE_CHECK:
        assert isinstance(data, DossierAcceptedV2 | DossierRegisteredForReturnV2)  # for the type checker
        phone_digest = data.phone_check
        kept.pop("phone_check", None)  # stored once, in its own column
    return history_entry(
        event_id=str(envelope.id),
        dossier_id=envelope.subject,
        event_type=envelope.type,
        version=envelope.schemaversion,
        occurred_at=envelope.time.astimezone(UTC),
        source=envelope.source,
        data=kept,
        phone_digest=phone_digest,
    )


ERASURES = (PostalPersonalDataErased, AgencyPersonalDataErased)
"""The owners' erasure events: no step of the journey (kept out of the history), they drop what the
tracker derived from the erased personal data."""
_ERASURE_TYPES = frozenset(ERASURES)

APPLICANT = "applicant"


def erased_contacts(erasures: Sequence[Envelope[Event]]) -> dict[str, datetime]:
    """The dossiers whose applicant contact was erased, and when (the first erasure of each)."""
    erased: dict[str, datetime] = {}
    for envelope in erasures:
        data = envelope.data
        assert isinstance(data, ERASURES)
        if APPLICANT in data.kinds:
            at = data.erased_at.astimezone(UTC)
            erased[envelope.subject] = min(at, erased.get(envelope.subject, at))
    return erased


STAGE_CHANGED_TYPE, STAGE_CHANGED_VERSION = StageChanged.key()


def stage_changed_id(entry: StageEntry) -> uuid.UUID:
    """One id per stage entry (dossier, cause, stage entered), whatever the order in which the tracker
    learned the events: a re-publication carries the same id, and subscribers deduplicate it."""
    return uuid.UUID(_stage_changed_id_text(entry.dossier_id, entry.cause.event_id, entry.to_stage))


_NAMESPACE_BYTES = STAGE_CHANGED_NAMESPACE.bytes


def _stage_changed_id_text(dossier_id: str, cause_event_id: str, to_stage: Stage) -> str:
    """``str(uuid.uuid5(STAGE_CHANGED_NAMESPACE, name))`` without the two UUID objects and their
    formatting, which cost more than the SHA-1 itself (a test compares with uuid.uuid5)."""
    name = f"{dossier_id}/{cause_event_id}/{to_stage._value_}"
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_DATASCHEMA = dataschema_uri(STAGE_CHANGED_TYPE, STAGE_CHANGED_VERSION)


def stage_changed_payload(change: StageChange) -> tuple[uuid.UUID, str]:
    """The id and the CloudEvents JSON of the tracker.stage_changed event of a stage change.

    Written as plain JSON: every value comes from the fold, already checked, and building and
    validating pydantic models for each change cost a fifth of a core at thousands of events a
    second. A test decodes it with the contract's decoder.
    """
    event_id, payload = stage_changed_record(change)
    return uuid.UUID(event_id), payload


def stage_changed_record(change: StageChange) -> tuple[str, str]:
    """``stage_changed_payload`` with the id as text, as the outbox stores it."""
    entry = change.entry
    return _stage_changed_document(
        entry.dossier_id,
        entry.from_stage,
        entry.to_stage,
        entry.custody,
        entry.cause,
        change.late,
        change.current_stage,
    )


def _stage_changed_document(
    dossier_id: str,
    from_stage: Stage | None,
    to_stage: Stage,
    custody: Custody,
    cause: HistoryEntry,
    late: bool,
    current: Stage | None,
) -> tuple[str, str]:
    """The id and JSON of a stage change from its parts: a resumed fold's steps give them without a
    stage entry and a stage change object per step (``Projector._project``)."""
    event_id = _stage_changed_id_text(dossier_id, cause.event_id, to_stage)
    document = {
        "specversion": "1.0",
        "id": event_id,
        "type": STAGE_CHANGED_TYPE,
        "source": TRACKER_SOURCE,
        "subject": dossier_id,
        # rfc3339 without its check for a naive time: the fold's times are aware (UTC).
        "time": cause.occurred_at.astimezone(VIETNAM_OFFSET).isoformat(),
        "datacontenttype": "application/json",
        "dataschema": _DATASCHEMA,
        "schemaversion": STAGE_CHANGED_VERSION,
        "data": {
            "type": STAGE_CHANGED_TYPE,
            "version": STAGE_CHANGED_VERSION,
            # ``_value_``: an enum's ``value`` is a descriptor, several times slower to read.
            "from_stage": from_stage._value_ if from_stage else None,
            "to_stage": to_stage._value_,
            "custody": {"kind": custody.kind._value_, "code": custody.code},
            "cause_event_id": cause.event_id,
            "cause_event_type": cause.event_type,
            "late": late,
            "current_stage": current._value_ if current else None,
        },
    }
    return event_id, to_json(document).decode()


# --------------------------------------------------------------------------- projecting a batch

_KEY = itemgetter(0)
"""The sort key of a (sort key, entry) pair."""


@dataclass
class _Pending:
    """Metric increments of one transaction, counted only once it commits."""

    applied: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)
    cleared: dict[str, int] = field(default_factory=dict)
    stage_changes: int = 0
    refolds: int = 0
    views: list[DossierView] = field(default_factory=list)
    """The batch's new views and the ones it evicted and wrote (rebuild mode's cache)."""
    evicted: list[str] = field(default_factory=list)
    written: list[DossierView] = field(default_factory=list)

    @staticmethod
    def bump(counts: dict[str, int], key: str) -> None:
        counts[key] = counts.get(key, 0) + 1


class Projector:
    """The applier of the tracker's consumer: adds a batch of new events to the projection."""

    def __init__(
        self,
        *,
        due: AgencyDuePolicy,
        digest: PhoneDigest,
        metrics: TrackerMetrics,
        publish_stage_changes: bool = True,
        on_commit: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        views: WriteBackViews | None = None,
    ) -> None:
        """``views``: rebuild mode (services.tracker.rebuild only): no other writer, so no dossier lock,
        and the dossier rows written back from this cache (services.tracker.write_back)."""
        self._due = due
        self._digest = digest
        self._metrics = metrics
        self._publish = publish_stage_changes
        self._on_commit = on_commit
        self._clock = clock
        self._views = views

    async def __call__(self, conn: AsyncConnection, events: Sequence[Envelope[Event]]) -> None:
        erasures = [e for e in events if type(e.data) in _ERASURE_TYPES]  # see UPCAST
        if erasures:
            events = [e for e in events if type(e.data) not in _ERASURE_TYPES]
        pending = _Pending()
        await self._project(conn, events, pending)
        # After the batch's own events: an acceptance and its erasure read in one batch (a rebuild)
        # leave no phone check.
        erased = erased_contacts(erasures)
        if erased:
            if self._views is not None:
                await self._write_before_erasure(conn, sorted(erased), pending)
            await repository.erase_contacts(conn, erased)
        self._after_commit(conn, pending)

    async def _write_before_erasure(
        self, conn: AsyncConnection, ids: Sequence[str], pending: _Pending
    ) -> None:
        """Rebuild mode: the erasure updates the row, so the erased dossiers' rows are written first
        (their views may live only in the cache), and kept as written, without the phone check."""
        assert self._views is not None
        batch = {view.dossier_id: view for view in pending.views}
        cached = {view.dossier_id: view for view in self._views.dirty(ids)}
        current = [view for dossier_id in ids if (view := batch.get(dossier_id) or cached.get(dossier_id))]
        await repository.upsert_dossiers(conn, current)
        pending.written = [replace(view, phone_digest=None, steps=()) for view in current]

    async def _stored_views(self, conn: AsyncConnection, ids: Sequence[str]) -> dict[str, DossierView]:
        cache = self._views
        if cache is None:
            await repository.lock_dossiers(conn, ids)
            return await repository.load_views(conn, ids)
        # Rebuild mode: this lane is the dossiers' only writer (no lock), and the rows of the dossiers it
        # holds in memory are older than their views.
        stored, missing = cache.split(ids)
        if missing:
            stored.update(await repository.load_views(conn, missing))
        return stored

    async def _write_views(
        self, conn: AsyncConnection, views: list[DossierView], touched: Sequence[str], pending: _Pending
    ) -> None:
        cache = self._views
        if cache is None:
            await repository.upsert_dossiers(conn, views)
            return
        evicted = cache.evictions(set(touched))
        await repository.upsert_dossiers(conn, cache.dirty(evicted))
        pending.views, pending.evicted = views, evicted

    async def _project(
        self, conn: AsyncConnection, events: Sequence[Envelope[Event]], pending: _Pending
    ) -> None:
        if not events:
            return
        digest = self._digest
        # Each entry's sort key computed once: the late check and the ordering both read it.
        batch: dict[str, list[tuple[tuple[datetime, int, str], HistoryEntry]]] = {}
        for envelope in events:
            entry = to_entry(envelope, digest)
            batch.setdefault(entry.dossier_id, []).append((entry.sort_key, entry))
        for keyed in batch.values():
            if len(keyed) > 1:
                keyed.sort(key=_KEY)
        ids = sorted(batch)
        stored = await self._stored_views(conn, ids)

        # The common case appends to a dossier's history: the fold resumes from the stored row. Only a
        # dossier that receives a late event (one sorting before its last known event) is folded again
        # from its whole history.
        late = sorted(
            dossier_id
            for dossier_id, keyed in batch.items()
            if (view := stored.get(dossier_id)) is not None
            and (last := view.last_key) is not None
            and keyed[0][0] <= last
        )
        histories = await repository.load_histories(conn, late) if late else {}
        flagged = [dossier_id for dossier_id in late if stored[dossier_id].anomaly_count]
        stored_anomalies = await repository.load_anomalies(conn, flagged) if flagged else {}

        pending.refolds = len(late)
        views: list[DossierView] = []
        fresh: list[HistoryEntry] = []
        party_rows: set[tuple[PartyKind, str, str]] = set()
        reference_rows: set[tuple[str, str, Any]] = set()
        removed: list[str] = []
        added: list[dict[str, Any]] = []
        outbox_rows: list[dict[str, Any]] = []
        now = self._clock()
        publish = self._publish
        for dossier_id, keyed in batch.items():
            if dossier_id in histories:
                old = histories[dossier_id]
                known = {entry.event_id for entry in old}
                new = [entry for _, entry in keyed if entry.event_id not in known]
                if not new:
                    continue
                view = fold(dossier_id, [*old, *new], self._due)
                self._compare_anomalies(view, stored_anomalies.get(dossier_id, {}), removed, added, pending)
                if publish:
                    # What subscribers already heard of: the entries of the history known before.
                    announced = stage_entries(fold(dossier_id, old, self._due))
                    for change in stage_changes(announced, stage_entries(view), view.stage):
                        event_id, payload = stage_changed_record(change)
                        outbox_rows.append(repository.new_outbox_row(event_id, dossier_id, payload, now))
                        pending.stage_changes += 1
            else:
                new = [entry for _, entry in keyed]
                view = resume(stored.get(dossier_id) or DossierView(dossier_id), new, self._due)
                current = view.stage
                for step in view.steps:
                    if step.anomaly is not None:
                        added.append(repository.anomaly_row(step.entry, step.anomaly))
                        pending.bump(pending.flagged, step.anomaly.reason.value)
                    # A resumed fold's steps are only the new events, all after the announced entries:
                    # each stage entered is a change to publish, not late (``stage_changes`` with no
                    # announced entry), made straight from the step.
                    to_stage = step.stage
                    if (
                        publish
                        and to_stage is not None
                        and to_stage is not step.stage_before
                        and step.custody is not None
                    ):
                        event_id, payload = _stage_changed_document(
                            dossier_id, step.stage_before, to_stage, step.custody, step.entry, False, current
                        )
                        outbox_rows.append(repository.new_outbox_row(event_id, dossier_id, payload, now))
                        pending.stage_changes += 1
            views.append(view)
            fresh.extend(new)
            for entry in new:
                pending.bump(pending.applied, entry.event_type)
                party_rows.update((kind, code, dossier_id) for kind, code in parties(entry))
                reference_rows.update((ref, dossier_id, kind) for ref, kind in references(entry))

        await repository.insert_events(conn, fresh)
        await self._write_views(conn, views, ids, pending)
        await repository.insert_parties(conn, party_rows)
        await repository.insert_references(conn, reference_rows)
        await repository.replace_anomalies(conn, removed, added)
        await repository.insert_outbox(conn, outbox_rows)

    @staticmethod
    def _compare_anomalies(
        view: DossierView,
        before: dict[str, tuple[str, str]],
        removed: list[str],
        added: list[dict[str, Any]],
        pending: _Pending,
    ) -> None:
        """After a whole-history fold: which stored anomalies go, which come (a late event can clear or
        change the anomalies of the events after it)."""
        after = {step.entry.event_id: step for step in view.steps if step.anomaly is not None}
        for event_id, (reason, detail) in before.items():
            found = after[event_id].anomaly if event_id in after else None
            if found is None or (found.reason.value, found.detail) != (reason, detail):
                removed.append(event_id)
                if found is None or found.reason.value != reason:
                    pending.bump(pending.cleared, reason)
        for event_id, step in after.items():
            assert step.anomaly is not None
            previous = before.get(event_id)
            if previous != (step.anomaly.reason.value, step.anomaly.detail):
                added.append(repository.anomaly_row(step.entry, step.anomaly))
                if previous is None or previous[0] != step.anomaly.reason.value:
                    pending.bump(pending.flagged, step.anomaly.reason.value)

    def _after_commit(self, conn: AsyncConnection, pending: _Pending) -> None:
        metrics = self._metrics
        wake = self._on_commit if pending.stage_changes else None
        cache = self._views

        def committed(_: Any) -> None:
            if cache is not None:
                cache.committed(pending.views, pending.evicted, pending.written)
            for kind, count in pending.applied.items():
                metrics.events_applied.labels(kind).inc(count)
            for reason, count in pending.flagged.items():
                metrics.anomalies.labels(reason).inc(count)
            for reason, count in pending.cleared.items():
                metrics.anomalies_cleared.labels(reason).inc(count)
            metrics.refolds.inc(pending.refolds)
            if wake is not None:
                wake()

        # The transaction belongs to the batch processor, which may roll it back and retry: count only
        # what commits.
        event.listen(conn.sync_connection, "commit", committed, once=True)
