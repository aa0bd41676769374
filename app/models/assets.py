"""Every asset the console knows, in one store, with the one stage that coalesces changes.

The client hands the GUI thread batches of changed assets; the store merges them (the latest
state per asset wins) and applies them once per tick (`apply_interval_ms`, stretched when the
views' passes get expensive): then it tells every subscriber at once what changed (`sig_changed`:
(old record or None, new record) per asset). The table, tree, map, mosaic and detail subscribe
here, so none waits on another's work (the map no longer waits on the table's re-sort).

A big snapshot (the first one, or a resync) is indexed in slices of `reset_chunk` records, one
per event-loop turn, beside the current state, and swapped in at once: at 50,000 assets one
block cost ~170 ms of CPU on the GUI thread (docs/performance.md). Changes that arrive meanwhile
wait and are applied on top of the new snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
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
        # A tick also stops early past this much time (checked every 256 assets). Not lower: each
        # tick costs the table an O(rows) merge when rows move, so smaller ticks cost more in all.
        self.pass_budget_s = 0.025
        self.reset_chunk = 5000  # snapshot records indexed per event-loop turn (~5 ms at 50,000)
        self.reset_passes = 0  # slices the last snapshot took (tests, benchmarks)
        self._pending: dict[str, AssetRecord] = {}
        # A snapshot being indexed (its records, how far), and the index and counts built so far.
        self._loading: tuple[list[AssetRecord], int] | None = None
        self._next_by_id: dict[str, AssetRecord] = {}
        self._next_counts: dict[tuple[str, str], dict[str, int]] = {}
        # Subscribers still taking in the last snapshot, each with how to finish it at once.
        self._holders: dict[object, Callable[[], None]] = {}
        self._load_timer = QTimer(self, singleShot=True, interval=0)
        self._load_timer.timeout.connect(self._load_slice)
        self._interval = apply_interval_ms
        self._timer = QTimer(self, singleShot=True, interval=apply_interval_ms)
        self._timer.timeout.connect(self._apply)
        self._stopped = False

    def stop(self) -> None:
        """The console closes: what the session still delivers is dropped, nothing ticks any more."""
        self._stopped = True
        self._load_timer.stop()
        self._timer.stop()
        self._loading = None
        self._pending.clear()

    # ---- feeding ---------------------------------------------------------------------------

    def reset(self, records: Iterable[AssetRecord], revision: int) -> None:
        """Replace everything with a snapshot: at once when small, else over several event-loop
        turns (`loading()` until then; the previous state stays readable meanwhile)."""
        if self._stopped:
            return
        snap = records if isinstance(records, list) else list(records)
        self._pending.clear()  # older than the snapshot
        self._timer.stop()
        self.revision = revision
        self._loading = (snap, 0)
        self._next_by_id, self._next_counts = {}, {}
        self.reset_passes = 0
        if len(snap) <= self.reset_chunk:
            self._load_slice()
        else:
            self._load_timer.start()

    def hold(self, holder: object, finish: Callable[[], None]) -> None:
        """`holder` is still taking in the last snapshot in slices: changes wait until it releases,
        so it never has to re-place rows that changed under it. flush() calls `finish`."""
        self._holders[holder] = finish

    def release(self, holder: object) -> None:
        self._holders.pop(holder, None)
        if not self._holders and self._pending and not self._timer.isActive():
            self._timer.start(0)

    def loading(self) -> bool:
        """A snapshot is being indexed (its reset is not signalled yet)."""
        return self._loading is not None

    def _load_slice(self) -> None:
        """Index the next `reset_chunk` records of the snapshot; swap it in after the last one."""
        if self._loading is None:
            return
        snap, start = self._loading
        end = min(len(snap), start + self.reset_chunk)
        by_id, counts = self._next_by_id, self._next_counts
        for r in islice(snap, start, end):
            old = by_id.get(r.id)
            if old is not None:  # an id listed twice counts once: its last record wins
                counts[(old.kind, old.district)][old.status] -= 1
            by_id[r.id] = r
            c = counts.setdefault((r.kind, r.district), {})
            c[r.status] = c.get(r.status, 0) + 1
        self.reset_passes += 1
        if end < len(snap):
            self._loading = (snap, end)
            self._load_timer.start()
            return
        self._loading = None
        self.records_by_id, self.counts = by_id, counts
        self._next_by_id, self._next_counts = {}, {}
        self.sig_reset.emit()
        self.sig_counts_changed.emit()
        if self._pending and not self._holders:
            self._timer.start(0)  # changes that came while indexing, on top of the snapshot

    def queue_changes(self, records: list[AssetRecord], revision: int, count: int) -> None:
        """Queue changes; they are applied together on the next tick."""
        if self._stopped:
            return
        pending = self._pending
        for r in records:
            pending[r.id] = r
        self.revision = revision
        self.changes_applied += count
        if not self._timer.isActive() and self._loading is None and not self._holders:
            self._timer.start()

    def flush(self) -> None:
        """Finish a snapshot being indexed and apply every queued change now (tests, benchmarks)."""
        while self._loading is not None:
            self._load_timer.stop()
            self._load_slice()
        for finish in list(self._holders.values()):
            finish()  # each releases its hold
        self._holders.clear()
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
        """Apply up to `max_pass` queued assets, stopping early past `pass_budget_s`; the rest follow
        after the event loop had a turn."""
        if not self._pending or self._loading is not None or self._holders:
            return
        if len(self._pending) > self.max_pass:
            keys = list(islice(self._pending, self.max_pass))
            chunk = {k: self._pending.pop(k) for k in keys}
        else:
            chunk, self._pending = self._pending, {}
        records, counts = self.records_by_id, self.counts
        changes: Changes = []
        recounted = False
        deadline = time.perf_counter() + self.pass_budget_s
        done = 0
        for aid, rec in chunk.items():
            if done and not done & 255 and time.perf_counter() > deadline:
                break  # over budget: the rest goes back in front of the queue
            done += 1
            old = records.get(aid)
            records[aid] = rec
            changes.append((old, rec))
            if old is None or (old.status, old.kind, old.district) != (rec.status, rec.kind, rec.district):
                if old is not None:
                    counts[(old.kind, old.district)][old.status] -= 1
                per = counts.setdefault((rec.kind, rec.district), {})
                per[rec.status] = per.get(rec.status, 0) + 1
                recounted = True
        if done < len(chunk):
            rest = dict(islice(chunk.items(), done, None))
            rest.update(self._pending)  # newer states queued later still win
            self._pending = rest
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
