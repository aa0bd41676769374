"""Every asset the console knows, in one store, with the one stage that coalesces changes.

The client hands the GUI thread batches of changed assets; the store merges them (the latest
state per asset wins) and applies them once per tick (`apply_interval_ms`, stretched when the
views' passes get expensive): then it tells every subscriber at once what changed (`sig_changed`:
(old record or None, new record) per asset). The table, tree, map, mosaic and detail subscribe
here, so none waits on another's work (the map no longer waits on the table's re-sort).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from vigie.app.models.records import AssetRecord

# What sig_changed carries: per asset, (its previous record, None if new; its new record).
Changes = list[tuple[AssetRecord | None, AssetRecord]]


class AssetStore(QObject):
    sig_reset = Signal()  # a new snapshot replaced everything
    sig_changed = Signal(object)  # Changes: what the last tick applied
    sig_counts_changed = Signal()  # counts changed (a status, kind or district moved, an asset came)

    def __init__(self, apply_interval_ms: int = 100, parent: Any = None) -> None:
        super().__init__(parent)
        self.records_by_id: dict[str, AssetRecord] = {}
        self.counts: dict[tuple[str, str], dict[str, int]] = {}  # (kind, district) -> status -> n
        self.revision = 0
        self.changes_applied = 0  # raw changes received (including coalesced ones)
        self.apply_interval_ms = apply_interval_ms
        self.max_pass = 4000  # assets per tick: bounds one tick to a few tens of ms
        self._pending: dict[str, AssetRecord] = {}
        self._interval = apply_interval_ms
        self._timer = QTimer(self, singleShot=True, interval=apply_interval_ms)
        self._timer.timeout.connect(self._apply)

    # ---- feeding ---------------------------------------------------------------------------

    def reset(self, records: Iterable[AssetRecord], revision: int) -> None:
        """Replace everything with a snapshot."""
        self.records_by_id = {r.id: r for r in records}
        self._pending.clear()
        self.revision = revision
        counts: dict[tuple[str, str], dict[str, int]] = {}
        for r in self.records_by_id.values():
            c = counts.setdefault((r.kind, r.district), {})
            c[r.status] = c.get(r.status, 0) + 1
        self.counts = counts
        self.sig_reset.emit()
        self.sig_counts_changed.emit()

    def queue_changes(self, records: list[AssetRecord], revision: int, count: int) -> None:
        """Queue changes; they are applied together on the next tick."""
        pending = self._pending
        for r in records:
            pending[r.id] = r
        self.revision = revision
        self.changes_applied += count
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Apply every queued change now (tests and benchmarks)."""
        self._timer.stop()
        while self._pending:
            self._apply()
        self._timer.stop()

    def stretch(self, cost_ms: float) -> None:
        """A subscriber's pass cost this much: the next ticks come less often (never more often
        than apply_interval_ms)."""
        self._interval = max(self.apply_interval_ms, int(cost_ms * 5))
        if not self._timer.isActive():
            self._timer.setInterval(self._interval)

    def _apply(self) -> None:
        """Apply up to `max_pass` queued assets; the rest follow after the event loop had a turn."""
        if not self._pending:
            return
        if len(self._pending) > self.max_pass:
            keys = list(islice(self._pending, self.max_pass))
            chunk = {k: self._pending.pop(k) for k in keys}
        else:
            chunk, self._pending = self._pending, {}
        records, counts = self.records_by_id, self.counts
        changes: Changes = []
        recounted = False
        for aid, rec in chunk.items():
            old = records.get(aid)
            records[aid] = rec
            changes.append((old, rec))
            if old is None or (old.status, old.kind, old.district) != (rec.status, rec.kind, rec.district):
                if old is not None:
                    counts[(old.kind, old.district)][old.status] -= 1
                per = counts.setdefault((rec.kind, rec.district), {})
                per[rec.status] = per.get(rec.status, 0) + 1
                recounted = True
        self.sig_changed.emit(changes)
        if recounted:
            self.sig_counts_changed.emit()
        if self._pending:
            self._timer.start(0)  # the rest of a burst, right after pending events and paints
        else:
            self._timer.setInterval(self._interval)

    # ---- queries ---------------------------------------------------------------------------

    def pending(self) -> int:
        """Assets queued for the next tick."""
        return len(self._pending)

    def record(self, asset_id: str) -> AssetRecord | None:
        return self.records_by_id.get(asset_id)

    def records(self) -> Iterable[AssetRecord]:
        return self.records_by_id.values()

    def total(self) -> int:
        return len(self.records_by_id)


def changed_ids(changes: Changes) -> set[str]:
    return {new.id for _old, new in changes}


def store_of(source: Any) -> AssetStore:
    """The store behind `source`: an AssetStore, or a view of one (AssetTableModel.store)."""
    store = getattr(source, "store", source)
    if not isinstance(store, AssetStore):
        raise TypeError(f"not an asset store: {source!r}")
    return store
