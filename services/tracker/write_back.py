"""The dossier views of one rebuild lane, kept in memory between batches and written back when they leave.

In a rebuild each dossier belongs to one lane of one process and nothing else writes the target
database, so the view a lane folded last is the dossier's state: the next batch resumes from it
without reading the row, and the row is written when the view is evicted (the least recently touched
first, beyond ``capacity``) or at the end of the replay. A dossier appears in about nine batches of a
realistic log: its row is written about once instead of nine times, which is most of what PostgreSQL
does in a rebuild.

The cache changes only when a batch's transaction commits (``committed``): a batch rolled back and
retried finds the cache as it was before it, and a view evicted by a rolled-back batch is still there,
dirty. The live consumer never uses this: replicas share dossiers, and only the row is the truth.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from contracts.enums import Stage
from services.tracker.domain import DossierView

ENDED = frozenset({Stage.DELIVERED, Stage.RETURNED_TO_AGENCY, Stage.WITHDRAWN, Stage.LOST, Stage.CLOSED})
"""Stages after which a journey expects no more events: such a view leaves the cache before any other.
A least-recently-touched order alone would keep a dossier delivered a moment ago and let go of one
waiting days for the agency's answer, which comes back (a read of its row, and a second write). Only an
order of eviction: a late event for an ended dossier reads its row like any other miss."""


class WriteBackViews:
    """Dossier views by id, least recently touched first, and which of them the database lacks."""

    def __init__(self, capacity: int) -> None:
        """``capacity``: views kept (TrackerSettings.rebuild_cache_views). A cached view holds about
        2 KiB (measured with tracemalloc, steps dropped). A lane's working set is the dossiers whose
        journeys are under way at the point of the log it replays (days of traffic), far fewer than the
        log's dossiers."""
        if capacity < 1:
            raise ValueError("a write-back cache holds at least one view")
        self._capacity = capacity
        # A dict keeps insertion order: a touched view is moved to the end, the front is the eldest.
        self._views: dict[str, DossierView] = {}
        self._dirty: set[str] = set()
        # The cached views whose journey ended (``ENDED``), eldest first: the first to leave.
        self._ended: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._views)

    def split(self, ids: Iterable[str]) -> tuple[dict[str, DossierView], list[str]]:
        """The cached views of ``ids``, and the ids the cache does not hold (to read from the rows)."""
        views = self._views
        found: dict[str, DossierView] = {}
        missing: list[str] = []
        for dossier_id in ids:
            view = views.get(dossier_id)
            if view is None:
                missing.append(dossier_id)
            else:
                found[dossier_id] = view
        return found, missing

    def evictions(self, touched: Collection[str]) -> list[str]:
        """The eldest views to let go so that the batch's dossiers (``touched``) fit, none of them a
        dossier of the batch."""
        views = self._views
        overflow = len(views) + sum(1 for dossier_id in touched if dossier_id not in views) - self._capacity
        if overflow <= 0:
            return []
        chosen: list[str] = []
        for candidates in (self._ended, views):
            for dossier_id in candidates:
                if dossier_id not in touched and (candidates is self._ended or dossier_id not in self._ended):
                    chosen.append(dossier_id)
                    if len(chosen) == overflow:
                        return chosen
        return chosen

    def dirty(self, ids: Iterable[str]) -> list[DossierView]:
        """The views among ``ids`` whose row the database lacks or holds in an older state."""
        return [self._views[dossier_id] for dossier_id in ids if dossier_id in self._dirty]

    def everything_dirty(self) -> list[DossierView]:
        return [self._views[dossier_id] for dossier_id in sorted(self._dirty)]

    def committed(
        self, views: Sequence[DossierView], evicted: Iterable[str], written: Iterable[DossierView] = ()
    ) -> None:
        """A batch committed: its ``evicted`` views were written and leave, its new ``views`` are kept
        (unwritten), and ``written`` ones are kept as the database now holds them."""
        cache, dirty, ended = self._views, self._dirty, self._ended
        for dossier_id in evicted:
            cache.pop(dossier_id, None)
            dirty.discard(dossier_id)
            ended.pop(dossier_id, None)
        for view in views:
            dossier_id = view.dossier_id
            cache.pop(dossier_id, None)
            # The steps are this batch's (the fold's output, for its anomalies and stage changes); the
            # next resume replaces them, and keeping them would hold the batch's entries alive.
            view.__dict__["steps"] = ()
            cache[dossier_id] = view
            dirty.add(dossier_id)
            self._mark_ended(view)
        for view in written:
            dossier_id = view.dossier_id
            cache.pop(dossier_id, None)
            cache[dossier_id] = view
            dirty.discard(dossier_id)
            self._mark_ended(view)

    def _mark_ended(self, view: DossierView) -> None:
        ended = self._ended
        ended.pop(view.dossier_id, None)
        if view.stage in ENDED:
            ended[view.dossier_id] = None

    def all_written(self) -> None:
        """Every dirty view was written (the end of the replay) and committed."""
        self._dirty.clear()
